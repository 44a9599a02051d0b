// query_test.cpp -- URL decoding and finding the verification parameters among any others.
#include <catch2/catch.hpp>

#include <string>

#include "core/query.hpp"

using namespace boardhook::core;
using namespace std::string_literals;

// ---------------------------------------------------------------- url_decode

TEST_CASE("plain text decodes to itself") {
  CHECK(url_decode("") == "");
  CHECK(url_decode("4071937265") == "4071937265");
  CHECK(url_decode("fjord-lantern-7731._~") == "fjord-lantern-7731._~");
}

TEST_CASE("a plus sign decodes to a space and an encoded plus to a plus") {
  CHECK(url_decode("a+b") == "a b");
  CHECK(url_decode("++") == "  ");
  CHECK(url_decode("a%2Bb") == "a+b");
  CHECK(url_decode("a%2bb") == "a+b");
  CHECK(url_decode("%2B+%2B") == "+ +");
}

TEST_CASE("percent-encoded bytes decode with upper or lower case hex") {
  CHECK(url_decode("a%20b") == "a b");
  CHECK(url_decode("%4A%4a%4b%4B") == "JJKK");
  CHECK(url_decode("%41") == "A");
  CHECK(url_decode("x%41") == "xA");
  CHECK(url_decode("%3D%26%25%3F") == "=&%?");
  CHECK(url_decode("%e2%82%AC") == "\xe2\x82\xac");  // euro sign
  CHECK(url_decode("%FF%00") == "\xff\0"s);
  CHECK(url_decode("%0d%0A") == "\r\n");
}

TEST_CASE("a percent sign not followed by two hex digits is kept as it is") {
  CHECK(url_decode("%") == "%");
  CHECK(url_decode("100%") == "100%");
  CHECK(url_decode("%4") == "%4");
  CHECK(url_decode("a%4") == "a%4");
  CHECK(url_decode("%zz") == "%zz");
  CHECK(url_decode("%4g") == "%4g");
  CHECK(url_decode("%g4") == "%g4");
  CHECK(url_decode("%%41") == "%A");
  CHECK(url_decode("%+") == "% ");
  CHECK(url_decode("%%") == "%%");
}

TEST_CASE("a decoded percent sign is not decoded a second time") {
  CHECK(url_decode("%2541") == "%41");
  CHECK(url_decode("%252B") == "%2B");
}

// ---------------------------------------------------------------- find_query_param

TEST_CASE("both verification parameters are found in either order") {
  for (const char* query : {"challenge=4071937265&verifyToken=fjord-lantern-7731",
                            "verifyToken=fjord-lantern-7731&challenge=4071937265"}) {
    INFO(query);
    const QueryParam challenge = find_query_param(query, "challenge");
    const QueryParam token = find_query_param(query, "verifyToken");
    CHECK(challenge.is_present());
    CHECK_FALSE(challenge.is_repeated());
    CHECK(challenge.value == "4071937265");
    CHECK(token.occurrences == 1);
    CHECK(token.value == "fjord-lantern-7731");
  }
}

TEST_CASE("parameters are found among the operator's own parameters") {
  const std::string query = "site=north&challenge=42&x=1&verifyToken=tok&utm_source=a%20b";
  CHECK(find_query_param(query, "challenge").value == "42");
  CHECK(find_query_param(query, "verifyToken").value == "tok");
  CHECK(find_query_param(query, "site").value == "north");
  CHECK(find_query_param(query, "utm_source").value == "a b");
}

TEST_CASE("a missing parameter is absent with an empty value") {
  const QueryParam missing = find_query_param("verifyToken=tok", "challenge");
  CHECK_FALSE(missing.is_present());
  CHECK(missing.occurrences == 0);
  CHECK(missing.value.empty());
  CHECK_FALSE(find_query_param("", "challenge").is_present());
}

TEST_CASE("parameter values are URL-decoded") {
  CHECK(find_query_param("challenge=a+b%2Bc%20d", "challenge").value == "a b+c d");
  CHECK(find_query_param("verifyToken=tok%26en%3D1", "verifyToken").value == "tok&en=1");
}

TEST_CASE("parameter names are compared after URL decoding") {
  CHECK(find_query_param("verify%54oken=tok", "verifyToken").value == "tok");
  CHECK(find_query_param("%63%68allenge=9", "challenge").value == "9");
  CHECK(find_query_param("my+name=v", "my name").value == "v");
}

TEST_CASE("parameter names must match exactly and case-sensitively") {
  CHECK_FALSE(find_query_param("Challenge=1", "challenge").is_present());
  CHECK_FALSE(find_query_param("verifytoken=1", "verifyToken").is_present());
  CHECK_FALSE(find_query_param("challengeX=1", "challenge").is_present());
  CHECK_FALSE(find_query_param("xchallenge=1", "challenge").is_present());
  CHECK_FALSE(find_query_param("hub.challenge=1", "challenge").is_present());
  CHECK_FALSE(find_query_param("hub.verify_token=1", "verifyToken").is_present());
}

TEST_CASE("a repeated parameter is counted and its first value kept") {
  const QueryParam challenge = find_query_param("challenge=1&verifyToken=t&challenge=2&challenge=3", "challenge");
  CHECK(challenge.occurrences == 3);
  CHECK(challenge.is_repeated());
  CHECK(challenge.value == "1");
}

TEST_CASE("a parameter repeated under an encoded name is still counted") {
  const QueryParam token = find_query_param("verifyToken=a&verify%54oken=b", "verifyToken");
  CHECK(token.occurrences == 2);
  CHECK(token.value == "a");
}

TEST_CASE("empty pairs and stray ampersands are tolerated") {
  CHECK(find_query_param("&&challenge=7&&", "challenge").value == "7");
  CHECK(find_query_param("&", "challenge").occurrences == 0);
  CHECK(find_query_param("a&b=1&&challenge=5&c", "challenge").value == "5");
  CHECK(find_query_param("=orphan&challenge=6", "challenge").value == "6");
}

TEST_CASE("a parameter without an equals sign is present with an empty value") {
  const QueryParam bare = find_query_param("challenge&verifyToken=t", "challenge");
  CHECK(bare.is_present());
  CHECK(bare.value.empty());
  const QueryParam empty = find_query_param("challenge=&verifyToken=t", "challenge");
  CHECK(empty.is_present());
  CHECK(empty.value.empty());
}

TEST_CASE("only the first equals sign separates name from value") {
  CHECK(find_query_param("challenge=a=b==", "challenge").value == "a=b==");
}

TEST_CASE("an empty parameter name is found only by the empty name") {
  CHECK(find_query_param("=x", "").value == "x");
  CHECK_FALSE(find_query_param("=x", "challenge").is_present());
}
