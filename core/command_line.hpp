// command_line.hpp -- a program's options and operands from its arguments, read by a table of the options it takes.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

// One row of a program's option table: {"--type", takes_value}, {"--help", false, "-h"}.
struct OptionSpec {
  std::string_view name;
  bool takes_value = false;
  std::string_view alias = {};  // another spelling, such as "-h"
};

struct ParsedOption {
  std::string_view name;  // the table's name, whichever spelling was given
  std::string value;      // empty for an option that takes none
};

struct CommandLineError {
  enum class Kind { unknown_option, missing_value, unexpected_value };
  Kind kind;
  std::string argument;  // the option at fault, as given

  // "unknown option --x", "--id needs a value", "--json takes no value"
  std::string message() const;
};

struct CommandLine {
  std::vector<ParsedOption> options;  // in the order given; an option may appear more than once
  std::vector<std::string> operands;  // the other arguments, in order
  // The first error; `options` and `operands` then hold what came before it, so a program that
  // acts on its options in order (--help first, say) behaves as if it had read them one by one.
  std::optional<CommandLineError> error;
};

// Reads `arguments` (argv without the program name) by `table`. Options may come before, between
// and after operands. An option's value is the next argument whatever it looks like, or follows
// '=' in the same one (--id=r1). "--" ends the options: what follows is operands, so an operand may
// start with "-". Other arguments starting with "--" that the table lacks are unknown options; a
// single '-' word the table lacks (or "-" alone) is an operand.
CommandLine parse_command_line(const std::vector<std::string_view>& arguments, std::span<const OptionSpec> table);

// The same over main()'s argc and argv, skipping the program name.
CommandLine parse_command_line(int argc, const char* const* argv, std::span<const OptionSpec> table);

}  // namespace boardhook::core
