#include "agent/identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "protocol/codec.hpp"

namespace strop::agent {
namespace fs = std::filesystem;

std::string default_identity_path() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0') {
    return std::string(x) + "/strop/identity.json";
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    return std::string(h) + "/.config/strop/identity.json";
  }
  return {};
}

Result<protocol::Identity> load_identity(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return make_error(Errc::kIo, "identity file " + path + ": " + ec.message());
  if (size > kMaxIdentityFileBytes) {
    return make_error(Errc::kLimitExceeded, "identity file " + path + ": larger than " +
                                                std::to_string(kMaxIdentityFileBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(Errc::kIo, "identity file " + path + ": " + std::strerror(errno));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto id = protocol::decode_identity(text);
  if (!id) {
    return make_error(Errc::kMalformed, "identity file " + path + ": not an identity file (" +
                                            id.error().message + ")");
  }
  return id;
}

Result<void> save_identity(const std::string& path, const protocol::Identity& id) {
  auto fail = [&](const std::string& what, int err) {
    return make_error(Errc::kIo, "identity file " + path + ": " + what + ": " + std::strerror(err));
  };
  fs::path p(path);
  fs::path dir = p.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      // Create missing parents one by one with mode 0700 (they hold a secret).
      fs::path acc;
      for (const auto& part : dir) {
        acc /= part;
        if (fs::exists(acc, ec)) continue;
        if (::mkdir(acc.c_str(), 0700) != 0 && errno != EEXIST) {
          return fail("cannot create directory " + acc.string(), errno);
        }
      }
    }
  }
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail("cannot create " + tmp, errno);
  // The umask cannot widen 0600, but an existing file keeps its mode: force it.
  (void)::fchmod(fd, 0600);
  std::string text = protocol::encode(id);
  if (text.empty() || text.back() != '\n') text += '\n';
  const char* data = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail("write failed", err);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  int sync_err = ::fsync(fd) != 0 ? errno : 0;
  int close_err = ::close(fd) != 0 ? errno : 0;
  if (sync_err != 0 || close_err != 0) {
    ::unlink(tmp.c_str());
    return fail("write failed", sync_err != 0 ? sync_err : close_err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail("cannot rename into place", err);
  }
  return {};
}

}  // namespace strop::agent
