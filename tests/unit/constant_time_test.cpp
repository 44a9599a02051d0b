// constant_time_test.cpp -- the verify-token comparison: exact match only, empty secrets never match, rotation.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/constant_time.hpp"

using namespace boardhook::core;
using namespace std::string_literals;

TEST_CASE("an offered token equal to the secret matches") {
  CHECK(constant_time_equals("fjord-lantern-7731", "fjord-lantern-7731"));
  CHECK(constant_time_equals("x", "x"));
  CHECK(constant_time_equals("\xff\x00\x80"s, "\xff\x00\x80"s));
}

TEST_CASE("an equal-length wrong token does not match wherever it differs") {
  const std::string secret = "fjord-lantern-7731";
  CHECK_FALSE(constant_time_equals("fjord-lantern-7713", secret));  // two digits swapped
  for (std::size_t i = 0; i < secret.size(); ++i) {
    std::string offered = secret;
    offered[i] = static_cast<char>(offered[i] ^ 0x01);
    INFO("differs at byte " << i);
    CHECK_FALSE(constant_time_equals(offered, secret));
  }
}

TEST_CASE("a token differing only in the high bit of a byte does not match") {
  CHECK_FALSE(constant_time_equals("abc\xe1", "abca"));
  CHECK_FALSE(constant_time_equals("\x80", "\x00"s));
}

TEST_CASE("a prefix of the secret does not match") {
  CHECK_FALSE(constant_time_equals("fjord-lantern-773", "fjord-lantern-7731"));
  CHECK_FALSE(constant_time_equals("f", "fjord-lantern-7731"));
}

TEST_CASE("a token longer than the secret does not match") {
  CHECK_FALSE(constant_time_equals("fjord-lantern-77311", "fjord-lantern-7731"));
  CHECK_FALSE(constant_time_equals("fjord-lantern-7731\0"s, "fjord-lantern-7731"));
  // The secret repeated: would match a comparison that only cycles the secret over the offer.
  CHECK_FALSE(constant_time_equals("abcabc", "abc"));
  CHECK_FALSE(constant_time_equals("aa", "a"));
}

TEST_CASE("an empty offered token does not match a real secret") {
  CHECK_FALSE(constant_time_equals("", "fjord-lantern-7731"));
  CHECK_FALSE(constant_time_equals("", "a"));
}

TEST_CASE("an empty secret never matches anything") {
  CHECK_FALSE(constant_time_equals("", ""));
  CHECK_FALSE(constant_time_equals("a", ""));
  CHECK_FALSE(constant_time_equals("\0"s, ""));
}

TEST_CASE("comparison is case-sensitive") {
  CHECK_FALSE(constant_time_equals("Fjord-Lantern-7731", "fjord-lantern-7731"));
}

TEST_CASE("any one of several configured secrets matches") {
  const std::vector<std::string> secrets = {"old-token-1111", "new-token-2222", "third-3333"};
  CHECK(matches_any_secret("old-token-1111", secrets));
  CHECK(matches_any_secret("new-token-2222", secrets));
  CHECK(matches_any_secret("third-3333", secrets));
  CHECK_FALSE(matches_any_secret("new-token-2223", secrets));
  CHECK_FALSE(matches_any_secret("old-token-1111,new-token-2222", secrets));
  CHECK_FALSE(matches_any_secret("", secrets));
}

TEST_CASE("no configured secret means nothing matches") {
  CHECK_FALSE(matches_any_secret("anything", {}));
  CHECK_FALSE(matches_any_secret("", {}));
}

TEST_CASE("an empty configured secret among others never matches an empty offer") {
  const std::vector<std::string> secrets = {"", "real-token"};
  CHECK_FALSE(matches_any_secret("", secrets));
  CHECK(matches_any_secret("real-token", secrets));
}
