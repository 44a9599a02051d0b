// privileges.hpp -- give up root once the files that need it are open.
#pragma once
#include <string>

namespace boardhook::handler {

// Makes `path` (a unix socket) group-owned by `group` with mode 0660, so that only that
// group (nginx's) may connect. Throws std::runtime_error naming what failed.
void restrict_socket(const std::string& path, const std::string& group);

// Gives `directory` (created if missing) to `user`, so a process running as that user can
// write its spool. Throws std::runtime_error.
void hand_over_directory(const std::string& directory, const std::string& user);

// Switches to `user` (its primary group and supplementary groups) for good: afterwards
// root cannot be regained. Throws when the switch fails or when the process is not root
// (unless it already runs as that user).
void become_user(const std::string& user);

}  // namespace boardhook::handler
