// privileges.cpp -- chown/chmod of the socket and spool, then setgid/initgroups/setuid.
#include "handler/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace boardhook::handler {

namespace {

passwd find_user(const std::string& user, std::string& buffer) {
  passwd entry{};
  passwd* found = nullptr;
  buffer.resize(16384);
  if (getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw std::runtime_error("BOARDHOOK_USER=\"" + user + "\": no such user");
  }
  return entry;
}

std::string failure(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

void restrict_socket(const std::string& path, const std::string& group_name) {
  struct group entry {};
  struct group* found = nullptr;
  std::string buffer(16384, '\0');
  if (getgrnam_r(group_name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw std::runtime_error("BOARDHOOK_SOCKET_GROUP=\"" + group_name + "\": no such group");
  }
  if (chown(path.c_str(), static_cast<uid_t>(-1), entry.gr_gid) != 0) throw std::runtime_error(failure("chown of \"" + path + "\""));
  if (chmod(path.c_str(), 0660) != 0) throw std::runtime_error(failure("chmod of \"" + path + "\""));
}

void hand_over_directory(const std::string& directory, const std::string& user) {
  std::string buffer;
  const passwd entry = find_user(user, buffer);
  if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) throw std::runtime_error(failure("mkdir \"" + directory + "\""));
  if (chown(directory.c_str(), entry.pw_uid, entry.pw_gid) != 0) throw std::runtime_error(failure("chown of \"" + directory + "\""));
}

void become_user(const std::string& user) {
  std::string buffer;
  const passwd entry = find_user(user, buffer);
  if (geteuid() != 0) {
    if (geteuid() == entry.pw_uid) return;  // already that user: nothing to give up
    throw std::runtime_error("BOARDHOOK_USER=\"" + user + "\": switching users needs root, and this process is uid " +
                             std::to_string(geteuid()));
  }
  if (initgroups(entry.pw_name, entry.pw_gid) != 0) throw std::runtime_error(failure("initgroups for \"" + user + "\""));
  if (setgid(entry.pw_gid) != 0) throw std::runtime_error(failure("setgid"));
  if (setuid(entry.pw_uid) != 0) throw std::runtime_error(failure("setuid"));
  // setuid() as root sets all three user ids; if root could still come back, something is wrong.
  if (setuid(0) == 0 || geteuid() == 0) throw std::runtime_error("root privileges could be regained after switching to \"" + user + "\"");
}

}  // namespace boardhook::handler
