// service.hpp: the service manager's side of a daemon's life (systemd's sd_notify protocol
// through libsystemd): readiness, reload, stopping, and the watchdog keep-alive.
//
// Each notify_*() sends one state message to $NOTIFY_SOCKET (a no-op returning false when it
// is unset, i.e. not started by systemd with Type=notify or notify-reload). The reload pair
// follows Type=notify-reload: "RELOADING=1" with MONOTONIC_USEC before re-reading the
// configuration, "READY=1" after. Watchdog sends "WATCHDOG=1" every half of $WATCHDOG_USEC
// from its own thread while it lives (nothing when the watchdog is off).
//
// Thread-safety: the functions may be called from any thread; a Watchdog is started and
// destroyed by one thread.
#pragma once

#include <chrono>
#include <string_view>
#include <thread>

#include "base/mutex.hpp"
#include "base/thread_annotations.hpp"

namespace strop::service {

// Sends `state` ("READY=1\nSTATUS=...") as it is. True when a service manager received it.
bool notify(std::string_view state);
// "READY=1" plus "STATUS=<status>" when `status` is not empty.
bool notify_ready(std::string_view status = {});
// "RELOADING=1" and "MONOTONIC_USEC=<now>" (CLOCK_MONOTONIC).
bool notify_reloading();
// "STOPPING=1".
bool notify_stopping();

// The WATCHDOG=1 sender. Starts its thread when $WATCHDOG_USEC is set for this process.
class Watchdog {
 public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The interval the manager expects (zero when the watchdog is off).
  std::chrono::microseconds interval() const { return interval_; }

 private:
  void run() EXCLUDES(mu_);

  std::chrono::microseconds interval_{0};
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace strop::service
