// service.cpp: sd_notify through libsystemd (service.hpp).
#include "base/service.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace strop::service {

bool notify(std::string_view state) {
  std::string s(state);
  return ::sd_notify(0, s.c_str()) > 0;
}

bool notify_ready(std::string_view status) {
  std::string s = "READY=1";
  if (!status.empty()) {
    s += "\nSTATUS=";
    s += status;
  }
  return notify(s);
}

bool notify_reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ULL +
              static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

bool notify_stopping() { return notify("STOPPING=1"); }

Watchdog::Watchdog() {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  interval_ = std::chrono::microseconds(static_cast<std::int64_t>(usec));
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::run() {
  const auto period = interval_ / 2;
  MutexLock lock(&mu_);
  while (!stop_) {
    notify("WATCHDOG=1");
    cv_.wait_for(&mu_, period, [&]() REQUIRES(mu_) { return stop_; });
  }
}

}  // namespace strop::service
