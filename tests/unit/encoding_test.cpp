// encoding_test.cpp -- UTF-8 validation and cutting, base64 and SHA-256 (libcrypto), RFC 3339 timestamps, JSON string escaping.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.hpp"
#include "core/encoding.hpp"
#include "core/json_escape.hpp"
#include "core/rfc3339.hpp"
#include "core/utf8.hpp"

using namespace boardhook::core;
using namespace std::string_literals;

namespace {

// Decodes a JSON string literal with Boost.JSON, so escaping is checked by an independent reader.
std::string parse_json_string(const std::string& literal) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(literal, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(value.is_string());
  return std::string(value.get_string());
}

// Bytes of every value in no pattern a block boundary could line up with (xorshift32), so a
// misplaced word or lane shows in the digest.
std::string pseudo_random_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint32_t x = 2463534242;
  for (char& byte : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    byte = static_cast<char>(x >> 24);
  }
  return bytes;
}

}  // namespace

// ---------------------------------------------------------------- UTF-8

TEST_CASE("plain ASCII and the empty string are valid UTF-8") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("hello {\"json\": [1, 2]}"));
  CHECK(is_valid_utf8("\0\x7f"s));
}

TEST_CASE("well-formed two three and four byte sequences are valid UTF-8") {
  CHECK(is_valid_utf8("\xc3\xa6\xc3\xb8\xc3\xa5"));      // æøå
  CHECK(is_valid_utf8("\xc2\x80"));                      // U+0080, the smallest 2-byte character
  CHECK(is_valid_utf8("\xdf\xbf"));                      // U+07FF
  CHECK(is_valid_utf8("\xe0\xa0\x80"));                  // U+0800, the smallest 3-byte character
  CHECK(is_valid_utf8("\xe2\x80\x94"));                  // em dash
  CHECK(is_valid_utf8("\xed\x9f\xbf"));                  // U+D7FF, just below the surrogates
  CHECK(is_valid_utf8("\xee\x80\x80"));                  // U+E000, just above them
  CHECK(is_valid_utf8("\xef\xbf\xbf"));                  // U+FFFF
  CHECK(is_valid_utf8("\xf0\x90\x80\x80"));              // U+10000, the smallest 4-byte character
  CHECK(is_valid_utf8("\xf0\x9f\x98\x80"));              // U+1F600 emoji
  CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf"));              // U+10FFFF, the largest code point
  CHECK(is_valid_utf8("a\xf0\x9f\x98\x80z\xc3\xa6"));
}

TEST_CASE("overlong encodings are not valid UTF-8") {
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // '/' in two bytes
  CHECK_FALSE(is_valid_utf8("\xc1\xbf"));
  CHECK_FALSE(is_valid_utf8("\xc0\x80"));          // NUL in two bytes (modified UTF-8)
  CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // '/' in three bytes
  CHECK_FALSE(is_valid_utf8("\xe0\x9f\xbf"));      // U+07FF in three bytes
  CHECK_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));  // '/' in four bytes
  CHECK_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in four bytes
}

TEST_CASE("UTF-16 surrogates encoded in UTF-8 are not valid UTF-8") {
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));                  // U+D800
  CHECK_FALSE(is_valid_utf8("\xed\xbf\xbf"));                  // U+DFFF
  CHECK_FALSE(is_valid_utf8("\xed\xa0\xbd\xed\xb8\x80"));      // a CESU-8 surrogate pair
}

TEST_CASE("code points above U+10FFFF and impossible lead bytes are not valid UTF-8") {
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  CHECK_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));
  CHECK_FALSE(is_valid_utf8("\xfe"));
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("caf\xe9"));  // Latin-1 e-acute
}

TEST_CASE("truncated sequences and stray continuation bytes are not valid UTF-8") {
  CHECK_FALSE(is_valid_utf8("\xc3"));
  CHECK_FALSE(is_valid_utf8("\xe2\x80"));
  CHECK_FALSE(is_valid_utf8("\xf0\x9f\x98"));
  CHECK_FALSE(is_valid_utf8("abc\xf0\x9f"));
  CHECK_FALSE(is_valid_utf8("\xc3z"));            // lead byte followed by ASCII
  CHECK_FALSE(is_valid_utf8("\xe2\x80z"));
  CHECK_FALSE(is_valid_utf8("\xf0\x9f\x98z"));
  CHECK_FALSE(is_valid_utf8("\x80"));
  CHECK_FALSE(is_valid_utf8("a\xbf" "b"));
  CHECK_FALSE(is_valid_utf8("\xc3\xa6\xa6"));     // one continuation byte too many
}

TEST_CASE("an invalid byte is found after a long ASCII run") {
  std::string text(10000, 'a');
  CHECK(is_valid_utf8(text));
  text += '\xff';
  CHECK_FALSE(is_valid_utf8(text));
}

// is_valid_utf8 reads eight bytes at a time; these move each sequence across every offset of a
// word and end the text right after it, in a buffer of exactly its size (for AddressSanitizer).
namespace {

bool is_valid_utf8_exactly(std::string_view text) {
  const std::unique_ptr<char[]> bytes(new char[text.size()]);
  std::copy(text.begin(), text.end(), bytes.get());
  return is_valid_utf8({bytes.get(), text.size()});
}

const char* const well_formed_characters[] = {"\xc2\x80", "\xc3\xa6", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x80\x94",
                                              "\xed\x9f\xbf", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80",
                                              "\xf4\x8f\xbf\xbf"};

}  // namespace

TEST_CASE("multi-byte characters are valid at every offset of an eight-byte word") {
  for (const std::string character : well_formed_characters) {
    for (std::size_t before = 0; before < 18; ++before) {
      for (std::size_t after = 0; after < 10; ++after) {
        INFO("character of " << character.size() << " bytes, " << before << " before, " << after << " after");
        CHECK(is_valid_utf8_exactly(std::string(before, 'a') + character + std::string(after, 'b')));
        CHECK(is_valid_utf8_exactly(std::string(before, 'a') + character + character + std::string(after, 'b')));
      }
    }
  }
}

TEST_CASE("a character cut short is invalid at every offset, also at the very end") {
  for (const std::string character : well_formed_characters) {
    for (std::size_t kept = 1; kept < character.size(); ++kept) {
      for (std::size_t before = 0; before < 18; ++before) {
        const std::string cut = std::string(before, 'a') + character.substr(0, kept);
        INFO("character of " << character.size() << " bytes cut to " << kept << ", " << before << " before");
        CHECK_FALSE(is_valid_utf8_exactly(cut));
        CHECK_FALSE(is_valid_utf8_exactly(cut + "b"));
        CHECK_FALSE(is_valid_utf8_exactly(cut + std::string(9, 'b')));
      }
    }
  }
}

TEST_CASE("an invalid byte is found at every position of a short text") {
  const char bad_bytes[] = {'\x80', '\xbf', '\xc0', '\xc1', '\xf5', '\xf8', '\xfe', '\xff'};
  for (std::size_t length = 1; length <= 24; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      for (const char bad : bad_bytes) {
        std::string text(length, 'a');
        text[position] = bad;
        INFO("length " << length << ", byte " << int(static_cast<unsigned char>(bad)) << " at " << position);
        CHECK_FALSE(is_valid_utf8_exactly(text));
      }
    }
  }
}

TEST_CASE("a continuation byte replaced by ASCII is found at every position of a short text") {
  for (std::size_t characters = 1; characters <= 12; ++characters) {
    std::string text;
    for (std::size_t i = 0; i < characters; ++i) text += "\xc3\xa6";
    REQUIRE(is_valid_utf8_exactly(text));
    for (std::size_t position = 1; position < text.size(); position += 2) {
      std::string broken = text;
      broken[position] = 'z';
      INFO(characters << " characters, continuation byte at " << position << " replaced");
      CHECK_FALSE(is_valid_utf8_exactly(broken));
    }
  }
}

TEST_CASE("utf8_prefix_length keeps short text whole") {
  CHECK(utf8_prefix_length("", 10) == 0);
  CHECK(utf8_prefix_length("abc", 3) == 3);
  CHECK(utf8_prefix_length("abc", 10) == 3);
  CHECK(utf8_prefix_length("\xc3\xa6", 2) == 2);
}

TEST_CASE("utf8_prefix_length cuts ASCII at the limit") {
  CHECK(utf8_prefix_length("abcdef", 4) == 4);
  CHECK(utf8_prefix_length("abcdef", 0) == 0);
}

TEST_CASE("utf8_prefix_length never ends inside a multi-byte character") {
  const std::string text = "a\xc3\xa6" "b\xe2\x80\x94" "c\xf0\x9f\x98\x80" "d";
  // Offsets: a=0, æ=1..2, b=3, —=4..6, c=7, 😀=8..11, d=12.
  const std::size_t expected[] = {0, 1, 1, 3, 4, 4, 4, 7, 8, 8, 8, 8, 12, 13};
  for (std::size_t limit = 0; limit <= text.size(); ++limit) {
    INFO("limit " << limit);
    const std::size_t cut = utf8_prefix_length(text, limit);
    CHECK(cut == expected[limit]);
    CHECK(cut <= limit);
    CHECK(is_valid_utf8(std::string_view(text).substr(0, cut)));
  }
}

// ---------------------------------------------------------------- base64

TEST_CASE("base64 encodes the RFC 4648 test vectors") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64 encodes high and zero bytes with the standard alphabet") {
  CHECK(base64_encode("\xfb\xff\xbf") == "+/+/");
  CHECK(base64_encode("\xff\xfe\xfd") == "//79");
  CHECK(base64_encode("\0\0\0"s) == "AAAA");
  CHECK(base64_encode("\0"s) == "AA==");
  CHECK(base64_encode("caf\xe9 \xf8 \xff\xfe") == "Y2Fm6SD4IP/+");
}

TEST_CASE("base64 decodes the RFC 4648 test vectors") {
  CHECK(base64_decode("") == std::optional<std::string>(""));
  CHECK(base64_decode("Zg==") == std::optional<std::string>("f"));
  CHECK(base64_decode("Zm8=") == std::optional<std::string>("fo"));
  CHECK(base64_decode("Zm9v") == std::optional<std::string>("foo"));
  CHECK(base64_decode("Zm9vYg==") == std::optional<std::string>("foob"));
  CHECK(base64_decode("Zm9vYmE=") == std::optional<std::string>("fooba"));
  CHECK(base64_decode("Zm9vYmFy") == std::optional<std::string>("foobar"));
  CHECK(base64_decode("+/+/") == std::optional<std::string>("\xfb\xff\xbf"));
}

TEST_CASE("base64 decoding reverses encoding for every byte value and length") {
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(255 - c);
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    const std::string part = bytes.substr(0, length);
    const auto decoded = base64_decode(base64_encode(part));
    INFO("length " << length);
    REQUIRE(decoded);
    CHECK(*decoded == part);
  }
}

TEST_CASE("base64 of more than 48 MiB, which libcrypto takes in int-sized pieces, round-trips") {
  // The pieces are 3 * 2^24 bytes and 4 * 2^24 characters; this input spans two of each.
  const std::string bytes = pseudo_random_bytes((3u << 24) + 5);
  const std::string text = base64_encode(bytes);
  REQUIRE(text.size() == (4u << 24) + 8);
  CHECK(text.substr(4u << 24) == base64_encode(bytes.substr(3u << 24)));
  const auto decoded = base64_decode(text);
  REQUIRE(decoded);
  CHECK(*decoded == bytes);
  // Blanks where a piece starts are refused as anywhere else (libcrypto alone would skip them).
  std::string blanks = text;
  blanks.replace(4u << 24, 4, "    ");
  CHECK_FALSE(base64_decode(blanks));
}

TEST_CASE("base64 decoding refuses bad lengths characters and padding") {
  // libcrypto's EVP_DecodeBlock alone would accept several of these: it skips blanks and line
  // breaks at either end and reads '=' anywhere as zero bits.
  for (const char* text : {"Z", "Zg", "Zg=", "Zm9vY", "Zg==Zg==", "Z===", "====", "Zm9v====", "Zm=v", "=Zm9",
                           "Zm9v\n", " Zm9v", "    Zm9v", "Zm9v    ", "Zm9v\r\n\r\n", "Zg  ", "\tZm9", "Zm 9v   ",
                           "Zm9-", "Zm9_", "Zm9v*A==", "Zg=\0"}) {
    INFO("text: " << text);
    CHECK_FALSE(base64_decode(text));
  }
}

// ---------------------------------------------------------------- SHA-256

TEST_CASE("SHA-256 of the empty string is the known value") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("SHA-256 matches the FIPS 180-4 one-block message abc") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("SHA-256 matches the FIPS 180-4 448-bit two-block message") {
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("SHA-256 of one million a fed in updates of odd sizes matches FIPS 180-4") {
  const std::string chunk(997, 'a');
  Sha256 hash;
  std::size_t fed = 0;
  std::size_t size = 1;
  while (fed < 1'000'000) {
    const std::size_t take = std::min({size, chunk.size(), 1'000'000 - fed});
    hash.update(std::string_view(chunk).substr(0, take));
    fed += take;
    size = size * 3 % 997 + 1;  // 1, 4, 13, 40, ... : sizes that straddle block boundaries
  }
  CHECK(hash.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 pads correctly around the 55 56 63 and 64 byte boundaries") {
  // Values from Python's hashlib.sha256(b"a" * n).
  const std::pair<std::size_t, const char*> vectors[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
      {127, "c57e9278af78fa3cab38667bef4ce29d783787a2f731d4e12200270f0c32320a"},
      {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
  };
  for (const auto& [length, expected] : vectors) {
    INFO("length " << length);
    CHECK(sha256_hex(std::string(length, 'a')) == expected);
  }
}

TEST_CASE("SHA-256 gives the same digest however the input is split") {
  const std::string text(130, 'a');
  const std::string whole = sha256_hex(text);
  for (std::size_t split = 0; split <= text.size(); ++split) {
    INFO("split at " << split);
    Sha256 hash;
    hash.update(std::string_view(text).substr(0, split));
    hash.update("");
    hash.update(std::string_view(text).substr(split));
    CHECK(hash.hex_digest() == whole);
  }
}

TEST_CASE("SHA-256 digest returns the raw bytes of the hex digest") {
  Sha256 hash;
  hash.update("abc");
  const auto digest = hash.digest();
  CHECK(digest[0] == 0xba);
  CHECK(digest[1] == 0x78);
  CHECK(digest[31] == 0xad);
}

TEST_CASE("SHA-256 of 70000 pseudo-random bytes matches hashlib whole and in pieces of every size up to 300") {
  // python3: the same xorshift32 bytes, hashlib.sha256(b).hexdigest()
  const std::string bytes = pseudo_random_bytes(70'000);
  const char* expected = "5ae27f3eed8d452d38a4fd88cbc9a39f50231ccf708dc950f3dc1c3d873ee808";
  CHECK(sha256_hex(bytes) == expected);
  CHECK(sha256_hex(std::string_view(bytes).substr(0, 200)) ==
        "9de445290cd130f170e87fb38174cdeda33a73eec2c664ca4ff781e58fb9290a");
  for (std::size_t piece = 1; piece <= 300; ++piece) {
    INFO("pieces of " << piece << " bytes");
    Sha256 hash;
    for (std::size_t at = 0; at < bytes.size(); at += piece) hash.update(std::string_view(bytes).substr(at, piece));
    CHECK(hash.hex_digest() == expected);
  }
}

// ---------------------------------------------------------------- RFC 3339

TEST_CASE("the Unix epoch formats as 1970-01-01T00:00:00.000Z") {
  CHECK(format_rfc3339_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(1) == "1970-01-01T00:00:00.001Z");
  CHECK(format_rfc3339_ms(86'400'000) == "1970-01-02T00:00:00.000Z");
}

TEST_CASE("leap days format as February 29") {
  CHECK(format_rfc3339_ms(1709210096789) == "2024-02-29T12:34:56.789Z");
  CHECK(format_rfc3339_ms(951782400000) == "2000-02-29T00:00:00.000Z");
  CHECK(format_rfc3339_ms(1709210096789 + 86'400'000) == "2024-03-01T12:34:56.789Z");
  // 2100 is not a leap year: the day after February 28 is March 1.
  CHECK(format_rfc3339_ms(4107542399999) == "2100-02-28T23:59:59.999Z");
  CHECK(format_rfc3339_ms(4107542399999 + 1) == "2100-03-01T00:00:00.000Z");
}

TEST_CASE("negative times format as dates before 1970 with non-negative fields") {
  CHECK(format_rfc3339_ms(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339_ms(-1000) == "1969-12-31T23:59:59.000Z");
  CHECK(format_rfc3339_ms(-86'400'000) == "1969-12-31T00:00:00.000Z");
  CHECK(format_rfc3339_ms(-86'400'001) == "1969-12-30T23:59:59.999Z");
  CHECK(format_rfc3339_ms(-2203891199999) == "1900-03-01T00:00:00.001Z");
  CHECK(format_rfc3339_ms(-62135596800000) == "0001-01-01T00:00:00.000Z");
}

TEST_CASE("the last millisecond of year 9999 formats correctly") {
  CHECK(format_rfc3339_ms(253402300799999) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("times outside the years 0000-9999 are written as the nearest end of that range") {
  CHECK(format_rfc3339_ms(-62167219200000) == "0000-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(-62167219200001) == "0000-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(std::numeric_limits<std::int64_t>::min()) == "0000-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(253402300800000) == "9999-12-31T23:59:59.999Z");
  CHECK(format_rfc3339_ms(std::numeric_limits<std::int64_t>::max()) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("parse_rfc3339_ms reads back what format_rfc3339_ms writes") {
  const std::int64_t samples[] = {0,  1,  -1, 999, 1000, -86'400'001, 951782400000, 1709210096789, 4107542399999,
                                  4107542400000, -2203891199999, -62135596800000, 253402300799999, 1764242060123};
  for (const std::int64_t ms : samples) {
    const std::string text = format_rfc3339_ms(ms);
    INFO(ms << " = " << text);
    CHECK(parse_rfc3339_ms(text) == std::optional<std::int64_t>(ms));
  }
  // Every day boundary over a leap year and a century that is not one.
  for (std::int64_t day = 19'700; day < 20'200; ++day) {
    const std::int64_t ms = day * 86'400'000 + 86'399'999;
    INFO(format_rfc3339_ms(ms));
    CHECK(parse_rfc3339_ms(format_rfc3339_ms(ms)) == std::optional<std::int64_t>(ms));
  }
}

TEST_CASE("parse_rfc3339_ms refuses text of another shape") {
  for (const char* text : {"", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000", "1970-01-01 00:00:00.000Z",
                           "1970-01-01t00:00:00.000z", "1970-01-01T00:00:00.000+00:00", "1970-01-01T00:00:00.0000Z",
                           "70-01-01T00:00:00.000Z", "1970/01/01T00:00:00.000Z", "1970-1-01T00:00:00.000Z",
                           "197O-01-01T00:00:00.000Z", "1970-01-01T00:00:00.-00Z", " 970-01-01T00:00:00.000Z"}) {
    INFO("text: " << text);
    CHECK_FALSE(parse_rfc3339_ms(text));
  }
}

TEST_CASE("parse_rfc3339_ms refuses fields out of range") {
  for (const char* text : {"2024-00-10T00:00:00.000Z", "2024-13-10T00:00:00.000Z", "2024-01-00T00:00:00.000Z",
                           "2024-01-32T00:00:00.000Z", "2024-01-10T24:00:00.000Z", "2024-01-10T00:60:00.000Z",
                           "2024-01-10T00:00:60.000Z", "2024-01-10T00:00:61.000Z"}) {
    INFO("text: " << text);
    CHECK_FALSE(parse_rfc3339_ms(text));
  }
}

TEST_CASE("parse_rfc3339_ms refuses days that do not exist") {
  // format_rfc3339_ms never writes these; accepting them reads a different day than the text names.
  for (const char* text : {"2023-02-29T00:00:00.000Z", "2024-02-30T00:00:00.000Z", "2100-02-29T00:00:00.000Z",
                           "2024-04-31T00:00:00.000Z", "2024-06-31T00:00:00.000Z", "2024-11-31T00:00:00.000Z"}) {
    INFO("text: " << text);
    CHECK_FALSE(parse_rfc3339_ms(text));
  }
}

// ---------------------------------------------------------------- JSON strings

TEST_CASE("json_string quotes plain text unchanged") {
  CHECK(json_string("") == "\"\"");
  CHECK(json_string("hello world/{}[]") == "\"hello world/{}[]\"");
}

TEST_CASE("json_string escapes quotes and backslashes") {
  CHECK(json_string("say \"hi\"") == R"("say \"hi\"")");
  CHECK(json_string("C:\\path\\") == R"("C:\\path\\")");
  CHECK(json_string("\\\"") == R"("\\\"")");
}

TEST_CASE("json_string escapes control characters") {
  CHECK(json_string("a\nb\rc\td") == R"("a\nb\rc\td")");
  CHECK(json_string("\b\f") == R"("\b\f")");
  CHECK(json_string("\0"s) == R"("\u0000")");
  CHECK(json_string("\x01") == R"("\u0001")");
  CHECK(json_string("\x1b[31m") == R"("\u001b[31m")");
  CHECK(json_string("\x1f") == R"("\u001f")");
}

TEST_CASE("json_string passes UTF-8 through unchanged") {
  const std::string text = "bl\xc3\xa5" "b\xc3\xa6r \xe2\x80\x94 \xf0\x9f\x98\x80\xc2\xa0";
  CHECK(json_string(text) == "\"" + text + "\"");
}

TEST_CASE("json_string output decodes back to every ASCII byte") {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  all += "\xc3\xa6\xf0\x9f\x98\x80";
  const std::string quoted = json_string(all);
  CHECK(quoted.find('\n') == std::string::npos);
  CHECK(parse_json_string(quoted) == all);
}

TEST_CASE("append_json_string appends to what is already there") {
  std::string out = "{\"k\":";
  append_json_string(out, "v\"");
  out += '}';
  CHECK(out == R"({"k":"v\""})");
}
