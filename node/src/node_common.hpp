// node_common.hpp: two helpers every strop-node source file needs: the "node" logger (the
// default logger when serve has not registered it, e.g. in unit tests) and a monotonic clock
// in nanoseconds (rate limiters, latency metrics). Thread-safe; header-only.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace strop::node {

inline std::shared_ptr<spdlog::logger> logger() {
  auto l = spdlog::get("node");
  return l ? l : spdlog::default_logger();
}

inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace strop::node
