// console_users.hpp (private to strop-node): the web console's operator accounts, kept in
// the data directory as a small text file (console-users, mode 0600) written by atomic rename.
// They are local to this node (not replicated to a fleet or federated): each node has its own
// operators. One line per account, "NAME ROLE HASH" (ROLE "admin" or "read-only", HASH as
// console::hash_password makes it); lines starting with '#' are comments.
//
// Limits (the file is read at every login): kMaxUsersFileBytes, kMaxUsers, names of 1..64
// characters [a-z0-9._-]. Threading: pure functions over values; load/save do file I/O on the
// calling thread. Two writers at once (two `console-user add`) may lose one change (the last
// rename wins); the file is never left half-written.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "console_core.hpp"

namespace strop::node::console {

inline constexpr std::size_t kMaxUsersFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxUsers = 1000;
inline constexpr std::size_t kMaxUserName = 64;

struct User {
  std::string name;
  Role role = Role::kReadOnly;
  std::string hash;  // hash_password's encoding
};

// The accounts file of a data directory: DIR/console-users.
std::string users_path(const std::string& data_dir);
bool valid_user_name(std::string_view name);

// Parses the file's text. Errors: kMalformed (a bad line, named by number), kLimitExceeded.
Result<std::vector<User>> parse_users(std::string_view text);
std::string format_users(const std::vector<User>& users);

// Reads the file; a missing file is no accounts. Errors: kIo, kMalformed, kLimitExceeded.
Result<std::vector<User>> load_users(const std::string& path);
// Writes PATH.tmp (0600), fsyncs it and renames it over PATH. Errors: kIo.
Result<void> save_users(const std::string& path, const std::vector<User>& users);

}  // namespace strop::node::console
