// strop/log_level.hpp: the log levels every Strop program accepts (strop-node
// node.log_level, strop-milter log.level) and the one error text for a bad one. They are
// spdlog's level names, so spdlog::level::from_str() maps each of them. Header-only and free
// of spdlog, so any program can use it without a new dependency; it lives beside the
// generated version header in the strop_program target (top-level CMakeLists.txt).
// Thread-safety: pure functions over constants.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace strop {

// In spdlog::level::level_enum order.
inline constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                               "error", "critical", "off"};

// Whether `level` is one of kLogLevels (exact, lower case).
constexpr bool is_log_level(std::string_view level) {
  for (auto l : kLogLevels) {
    if (l == level) return true;
  }
  return false;
}

// The error text for a bad level under config key `key`, e.g. `node.log_level: unknown log
// level "loud" (trace, debug, info, warn, error, critical or off)`.
inline std::string log_level_error(std::string_view key, std::string_view level) {
  std::string m(key);
  m += ": unknown log level \"";
  m += level;
  m += "\" (";
  for (std::size_t i = 0; i < kLogLevels.size(); ++i) {
    if (i > 0) m += i + 1 == kLogLevels.size() ? " or " : ", ";
    m += kLogLevels[i];
  }
  m += ')';
  return m;
}

}  // namespace strop
