// store_util.hpp: small helpers shared by the store_*.cpp files (internal to storage): the
// logger, time conversions, validation of names and engines, and the mapping from reporter
// records to the public Reporter.
//
// Thread-safety: pure functions (log() returns the shared spdlog logger, itself thread-safe).
// Lifetime: nothing here owns state.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "codec.hpp"
#include "storage/reputation.hpp"
#include "storage/store.hpp"

namespace strop::storage {

// Rounding (and lower bound) of every map size the store sets.
inline constexpr std::size_t kMapRounding = std::size_t{1} << 20;

inline std::shared_ptr<spdlog::logger> log() {
  auto l = spdlog::get("storage");
  return l ? l : spdlog::default_logger();
}

inline std::uint64_t to_u64(TimePoint t) {
  auto n = t.time_since_epoch().count();
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

inline TimePoint from_u64(std::uint64_t v) {
  return TimePoint(std::chrono::seconds(static_cast<std::int64_t>(v)));
}

inline bool valid_engine(sigs::Engine e) {
  return sigs::engine_from_number(static_cast<std::uint8_t>(e)).has_value();
}

inline bool valid_reporter_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxReporterName) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '@' || ch == '+' || ch == '-';
  });
}

// The weight a reporter's votes carry: its trust, or 0 while disabled.
inline reputation::Trust weight_of(const codec::ReporterRecord& r) {
  return (r.flags & codec::kReporterDisabled) != 0 ? reputation::Trust{0} : r.trust;
}

inline Reporter to_reporter(ReporterId id, const codec::ReporterRecord& r) {
  Reporter out;
  out.id = id;
  out.name = r.name;
  out.secret = r.secret;
  out.trust = reputation::trust_to_double(r.trust);
  out.base_trust = reputation::trust_to_double(r.base);
  out.pinned = (r.flags & codec::kReporterPinned) != 0;
  out.admin = (r.flags & codec::kReporterAdmin) != 0;
  out.disabled = (r.flags & codec::kReporterDisabled) != 0;
  out.vouched = (r.flags & codec::kReporterOpen) == 0;
  out.peer = (r.flags & codec::kReporterPeer) != 0;
  out.created = from_u64(r.created);
  out.last_active = from_u64(r.last_active);
  out.reports = r.reports;
  out.revokes = r.revokes;
  out.corroborated = r.corroborated;
  out.contradicted = r.contradicted;
  return out;
}

inline bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.size() >= prefix.size() && key.substr(0, prefix.size()) == prefix;
}

}  // namespace strop::storage
