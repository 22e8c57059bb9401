#include "milter/quarantine.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "milter/text.hpp"

namespace strop::milter {
namespace {

Result<void> write_file(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::kIo, "create " + tmp + ": " + std::strerror(errno));
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(Errc::kIo, "write " + tmp + ": " + std::strerror(e));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return make_error(Errc::kIo, "sync " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error(Errc::kIo, "rename " + tmp + ": " + std::strerror(errno));
  }
  return {};
}

std::string safe_id_part(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, std::min<std::size_t>(s.size(), 32))) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += c;
  }
  return out.empty() ? "noqueue" : out;
}

// JSON strings must be valid UTF-8; envelope data is untrusted, so keep printable ASCII.
std::string j(std::string_view s) { return sanitize(s, 1000); }

}  // namespace

std::string quarantine_sidecar(const QuarantineInfo& info, std::string_view id,
                               std::size_t message_bytes) {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& h : info.rules) rules.push_back({{"name", h.name}, {"score", h.score}});
  nlohmann::json rcpts = nlohmann::json::array();
  for (const auto& r : info.rcpts) rcpts.push_back(j(r));
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json doc = {
      {"v", 1},
      {"id", std::string(id)},
      {"time", ts},
      {"reason", j(info.reason)},
      {"action", j(info.action)},
      {"queue_id", j(info.queue_id)},
      {"client",
       {{"addr", j(info.client_addr)}, {"name", j(info.client_name)}, {"helo", j(info.helo)}}},
      {"envelope", {{"from", j(info.mail_from)}, {"rcpts", rcpts}}},
      {"score", info.score},
      {"rules", rules},
      {"virus", j(info.virus)},
      {"size", message_bytes},
      {"message_file", std::string(id) + ".eml"},
  };
  return doc.dump(2) + "\n";
}

Result<std::string> write_quarantine(const std::string& dir, std::string_view message,
                                     const QuarantineInfo& info) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y%m%dT%H%M%S", &tm);
  std::string id = fmt::format("{}-{}-{:08x}", ts, safe_id_part(info.queue_id),
                               static_cast<std::uint32_t>(rng()));
  std::string base = dir + "/" + id;
  if (auto w = write_file(base + ".eml", message); !w) return w.error();
  if (auto w = write_file(base + ".json", quarantine_sidecar(info, id, message.size())); !w) {
    ::unlink((base + ".eml").c_str());
    return w.error();
  }
  return id;
}

}  // namespace strop::milter
