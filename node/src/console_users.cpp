// console_users.cpp: see console_users.hpp.
#include "console_users.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace strop::node::console {

std::string users_path(const std::string& data_dir) { return data_dir + "/console-users"; }

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserName) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::vector<User>> parse_users(std::string_view text) {
  if (text.size() > kMaxUsersFileBytes) {
    return make_error(Errc::kLimitExceeded,
                      "console users file over " + std::to_string(kMaxUsersFileBytes) + " bytes");
  }
  std::vector<User> users;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](const char* why) {
      return make_error(Errc::kMalformed,
                        "console users line " + std::to_string(line_no) + ": " + why);
    };
    auto s1 = line.find(' ');
    auto s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return bad("expected NAME ROLE HASH");
    User u;
    u.name = std::string(line.substr(0, s1));
    auto role = parse_role(line.substr(s1 + 1, s2 - s1 - 1));
    u.hash = std::string(line.substr(s2 + 1));
    if (!valid_user_name(u.name)) return bad("bad name");
    if (!role) return bad("role must be admin or read-only");
    if (u.hash.empty() || u.hash.find(' ') != std::string::npos) return bad("bad hash");
    u.role = *role;
    if (users.size() >= kMaxUsers) {
      return make_error(Errc::kLimitExceeded,
                        "more than " + std::to_string(kMaxUsers) + " console users");
    }
    users.push_back(std::move(u));
  }
  return users;
}

std::string format_users(const std::vector<User>& users) {
  std::string out = "# strop-node console accounts: NAME ROLE HASH (strop-node console-user)\n";
  for (const auto& u : users) {
    out += u.name;
    out += ' ';
    out += role_name(u.role);
    out += ' ';
    out += u.hash;
    out += '\n';
  }
  return out;
}

Result<std::vector<User>> load_users(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::vector<User>{};
    return make_error(Errc::kIo, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text;
  text.resize(kMaxUsersFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto users = parse_users(text);
  if (!users) return make_error(users.error().code, path + ": " + users.error().message);
  return users;
}

Result<void> save_users(const std::string& path, const std::vector<User>& users) {
  const std::string tmp = path + ".tmp";
  const std::string text = format_users(users);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::kIo, "cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error(Errc::kIo, "cannot write " + path + ": " + why);
  }
  return {};
}

}  // namespace strop::node::console
