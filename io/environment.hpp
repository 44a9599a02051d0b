// environment.hpp -- the process environment and files, as load_config() reads them: the one
// place outside tests where settings come from (handler, worker and tool share it).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::io {

// The value of environment variable `name`, or nullopt when unset (an EnvLookup).
std::optional<std::string> environment(std::string_view name);

// The whole contents of `path`, or nullopt with `error` set (a FileReader).
std::optional<std::string> read_whole_file(const std::string& path, std::string& error);

}  // namespace boardhook::io
