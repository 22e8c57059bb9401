#include "storage/reputation.hpp"

#include <algorithm>
#include <cmath>

namespace strop::storage::reputation {

std::int64_t evidence(std::span<const Vote> votes) {
  std::uint64_t report_trusted = 0, report_low = 0, revoke_trusted = 0, revoke_low = 0;
  for (const Vote& v : votes) {
    std::uint64_t t = std::min<Trust>(v.trust, kFullTrust);
    bool trusted = t >= kTrustedMin;
    if (v.revoke) {
      (trusted ? revoke_trusted : revoke_low) += t;
    } else {
      (trusted ? report_trusted : report_low) += t;
    }
  }
  auto side = [](std::uint64_t trusted, std::uint64_t low) {
    return static_cast<std::int64_t>(trusted + std::min<std::uint64_t>(low, kLowTrustCap));
  };
  return side(report_trusted, report_low) - side(revoke_trusted, revoke_low);
}

int confidence_from_evidence(std::int64_t s) {
  if (s <= 0) return 0;
  auto u = static_cast<std::uint64_t>(s);
  return static_cast<int>((100 * u) / (u + kHalfEvidence));
}

int confidence(std::span<const Vote> votes) { return confidence_from_evidence(evidence(votes)); }

namespace {
Trust unbounded_trust(const TrustState& s) {
  Trust base = std::min<Trust>(s.base, kFullTrust);
  if (s.pinned) return base;
  // good and bad are sums of judges' trust (<= 1000 per credit): far below 2^40 for any
  // realistic history; saturate rather than wrap on absurd values.
  constexpr std::uint64_t kMaxSum = std::uint64_t{1} << 40;
  std::uint64_t good = std::min(s.good, kMaxSum), bad = std::min(s.bad, kMaxSum);
  std::uint64_t num = kPriorWeight * base + good * kFullTrust;
  std::uint64_t den = kPriorWeight + good + kPenaltyFactor * bad;
  std::uint64_t t = num / den;  // den >= kPriorWeight > 0
  // Earned trust never exceeds kMaxEarnedTrust (or an admin-chosen starting point above it).
  std::uint64_t cap = std::max<std::uint64_t>(kMaxEarnedTrust, base);
  return static_cast<Trust>(std::min<std::uint64_t>(t, cap));
}
}  // namespace

Trust trust(const TrustState& s) {
  Trust t = unbounded_trust(s);
  // An open registration is never trusted, whatever its base, pin or history.
  return s.open ? std::min(t, kOpenTrustCap) : t;
}

bool may_credit(const CreditLog& log, std::uint32_t judge, std::uint32_t day) {
  std::size_t used = 0;
  for (const CreditSlot& e : log) {
    if (e.judge == 0 || e.day < day) continue;  // empty, or a past day's credit
    if (e.judge == judge) return false;         // this judge already credited today
    ++used;
  }
  return used < kCreditSlots;
}

void record_credit(CreditLog& log, std::uint32_t judge, std::uint32_t day) {
  CreditSlot* pick = nullptr;
  for (CreditSlot& e : log) {
    if (e.judge == 0) {
      pick = &e;
      break;
    }
    if (e.day < day && (pick == nullptr || e.day < pick->day)) pick = &e;
  }
  if (pick != nullptr) *pick = CreditSlot{judge, day};
}

Trust trust_from_double(double t) {
  if (!(t >= 0.0)) return 0;  // also NaN
  if (t >= 1.0) return kFullTrust;
  return static_cast<Trust>(std::lround(t * kFullTrust));
}

}  // namespace strop::storage::reputation
