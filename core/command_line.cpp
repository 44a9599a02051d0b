// command_line.cpp -- table-driven option parsing for boardhook-handler, -worker and -queues.
#include "core/command_line.hpp"

namespace boardhook::core {

namespace {

const OptionSpec* find_option(std::span<const OptionSpec> table, std::string_view spelling) {
  for (const OptionSpec& spec : table) {
    if (spec.name == spelling || (!spec.alias.empty() && spec.alias == spelling)) return &spec;
  }
  return nullptr;
}

}  // namespace

std::string CommandLineError::message() const {
  switch (kind) {
    case Kind::unknown_option: return "unknown option " + argument;
    case Kind::missing_value: return argument + " needs a value";
    case Kind::unexpected_value: return argument + " takes no value";
  }
  return argument;
}

CommandLine parse_command_line(const std::vector<std::string_view>& arguments, std::span<const OptionSpec> table) {
  CommandLine line;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string_view argument = arguments[i];
    if (argument == "--") {
      line.operands.insert(line.operands.end(), arguments.begin() + static_cast<std::ptrdiff_t>(i) + 1, arguments.end());
      break;
    }
    const bool is_long = argument.starts_with("--");
    const std::size_t equals = is_long ? argument.find('=') : std::string_view::npos;
    const std::string_view spelling = argument.substr(0, equals);
    const OptionSpec* spec = find_option(table, spelling);
    if (spec == nullptr) {
      if (is_long) {
        line.error = CommandLineError{CommandLineError::Kind::unknown_option, std::string(spelling)};
        break;
      }
      line.operands.emplace_back(argument);
      continue;
    }
    ParsedOption option{spec->name, {}};
    if (equals != std::string_view::npos) {
      if (!spec->takes_value) {
        line.error = CommandLineError{CommandLineError::Kind::unexpected_value, std::string(spelling)};
        break;
      }
      option.value = argument.substr(equals + 1);
    } else if (spec->takes_value) {
      if (i + 1 == arguments.size()) {
        line.error = CommandLineError{CommandLineError::Kind::missing_value, std::string(spelling)};
        break;
      }
      option.value = arguments[++i];
    }
    line.options.push_back(std::move(option));
  }
  return line;
}

CommandLine parse_command_line(int argc, const char* const* argv, std::span<const OptionSpec> table) {
  std::vector<std::string_view> arguments;
  for (int i = 1; i < argc; ++i) arguments.emplace_back(argv[i]);
  return parse_command_line(arguments, table);
}

}  // namespace boardhook::core
