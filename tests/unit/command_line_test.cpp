// command_line_test.cpp -- parse_command_line: options by table, values, operands, "--", errors as values.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/command_line.hpp"

using namespace boardhook::core;

namespace {

constexpr OptionSpec table[] = {
    {"--help", false, "-h"},
    {"--json"},
    {"--type", true},
    {"--id", true},
};

CommandLine parse(const std::vector<std::string_view>& arguments) { return parse_command_line(arguments, table); }

std::vector<std::string> names_and_values(const CommandLine& line) {
  std::vector<std::string> out;
  for (const ParsedOption& option : line.options) out.push_back(std::string(option.name) + "=" + option.value);
  return out;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("no arguments give no options no operands and no error") {
  const CommandLine line = parse({});
  CHECK(line.options.empty());
  CHECK(line.operands.empty());
  CHECK_FALSE(line.error);
}

TEST_CASE("options and operands may come in any order and keep their own order") {
  const CommandLine line = parse({"--json", "requeue", "ticket_status_change", "--id", "abc", "--type", "a=b c", "--type", "x=y"});
  REQUIRE_FALSE(line.error);
  CHECK(names_and_values(line) == Strings{"--json=", "--id=abc", "--type=a=b c", "--type=x=y"});
  CHECK(line.operands == Strings{"requeue", "ticket_status_change"});
}

TEST_CASE("a value is the next argument whatever it looks like") {
  const CommandLine line = parse({"--id", "--json", "--type", "-h"});
  REQUIRE_FALSE(line.error);
  CHECK(names_and_values(line) == Strings{"--id=--json", "--type=-h"});
}

TEST_CASE("a value may follow '=' in the same argument and may be empty or hold '='") {
  const CommandLine line = parse({"--id=r-1", "--type=note=echo a=b", "--id="});
  REQUIRE_FALSE(line.error);
  CHECK(names_and_values(line) == Strings{"--id=r-1", "--type=note=echo a=b", "--id="});
}

TEST_CASE("an alias is reported under the option's name") {
  const CommandLine line = parse({"-h"});
  REQUIRE_FALSE(line.error);
  CHECK(names_and_values(line) == Strings{"--help="});
}

TEST_CASE("after -- every argument is an operand") {
  const CommandLine line = parse({"peek", "--", "--json", "-h", "--"});
  REQUIRE_FALSE(line.error);
  CHECK(line.options.empty());
  CHECK(line.operands == Strings{"peek", "--json", "-h", "--"});
}

TEST_CASE("a single-dash word the table lacks is an operand") {
  const CommandLine line = parse({"-x", "-", "-5"});
  REQUIRE_FALSE(line.error);
  CHECK(line.operands == Strings{"-x", "-", "-5"});
}

TEST_CASE("an unknown long option is an error naming it and parsing stops there") {
  const CommandLine line = parse({"--json", "stats", "--bogus=1", "--help"});
  REQUIRE(line.error);
  CHECK(line.error->kind == CommandLineError::Kind::unknown_option);
  CHECK(line.error->argument == "--bogus");
  CHECK(line.error->message() == "unknown option --bogus");
  // What came before the error is kept; what came after is not read.
  CHECK(names_and_values(line) == Strings{"--json="});
  CHECK(line.operands == Strings{"stats"});
}

TEST_CASE("an option that needs a value and ends the arguments is an error") {
  const CommandLine line = parse({"--type", "a=b", "--id"});
  REQUIRE(line.error);
  CHECK(line.error->kind == CommandLineError::Kind::missing_value);
  CHECK(line.error->message() == "--id needs a value");
  CHECK(names_and_values(line) == Strings{"--type=a=b"});
}

TEST_CASE("a value given to an option that takes none is an error") {
  const CommandLine line = parse({"--json=yes"});
  REQUIRE(line.error);
  CHECK(line.error->kind == CommandLineError::Kind::unexpected_value);
  CHECK(line.error->message() == "--json takes no value");
  CHECK(line.options.empty());
}

TEST_CASE("a prefix of an option is not that option") {
  const CommandLine line = parse({"--js"});
  REQUIRE(line.error);
  CHECK(line.error->message() == "unknown option --js");
}

TEST_CASE("main's argv is read without the program name") {
  const char* const argv[] = {"boardhook-queues", "--json", "stats", nullptr};
  const CommandLine line = parse_command_line(3, argv, table);
  REQUIRE_FALSE(line.error);
  CHECK(names_and_values(line) == Strings{"--json="});
  CHECK(line.operands == Strings{"stats"});
  CHECK(parse_command_line(0, argv + 3, table).operands.empty());
}
