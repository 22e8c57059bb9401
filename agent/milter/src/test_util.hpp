// test_util.hpp: helpers for the milter's unit tests: a temporary directory and a scripted
// one-connection-at-a-time stream server on a unix socket (fake clamd / spamd).
// Test-only; not part of strop_milter_core.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "base/mutex.hpp"

namespace strop::milter::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        std::filesystem::temp_directory_path().string() + "/strop-milter-test.XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Accepts connections on a unix socket; for each, reads until `request_complete(data)` says
// the request is whole (or EOF), then calls `respond(data)` and writes its result (unless
// empty: then the connection is held open without a reply until the server stops).
class FakeServer {
 public:
  using Complete = std::function<bool(const std::string&)>;
  using Respond = std::function<std::string(const std::string&)>;

  FakeServer(std::string path, Complete complete, Respond respond)
      : path_(std::move(path)), complete_(std::move(complete)), respond_(std::move(respond)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path_.c_str(), sizeof(sun.sun_path) - 1);
    ::unlink(path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0 || ::listen(fd_, 16) != 0) {
      std::abort();
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int connections() const { return connections_; }
  std::string last_request() const {
    MutexLock l(&mu_);
    return last_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string data;
      char buf[65536];
      while (!complete_(data)) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, static_cast<std::size_t>(n));
      }
      {
        MutexLock l(&mu_);
        last_ = data;
      }
      std::string reply = respond_(data);
      if (reply.empty()) {
        // Hold the connection silently until stopped (a hung peer).
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  std::string path_;
  Complete complete_;
  Respond respond_;
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable Mutex mu_;
  std::string last_ GUARDED_BY(mu_);
};

}  // namespace strop::milter::testing
