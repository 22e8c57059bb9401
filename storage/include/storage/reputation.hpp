// reputation.hpp: the deterministic trust and confidence model (docs/reputation.md).
//
// Pure functions over plain integers, no I/O, no clock, no floating point: the same inputs
// give the same outputs on every machine. Trust is measured in per-mille (0..1000 =
// 0.0..1.0); confidence is 0..100 (Razor's cf). The Store applies these functions inside its
// writer transaction (trust updates) and its read path (confidence); tests call them
// directly. Thread-safety: all functions are pure and may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace strop::storage::reputation {

using Trust = std::uint16_t;  // per-mille, 0..kFullTrust

// A message (or signature) whose confidence is >= this is reported as spam. Exported so the
// node's `state` endpoint and clients agree on it.
inline constexpr int kRecommendedThreshold = 50;

inline constexpr Trust kFullTrust = 1000;        // "fully trusted": only an admin grants it
inline constexpr Trust kNewReporterTrust = 100;  // open registration starts here
inline constexpr Trust kTrustedMin = 500;        // votes at/above count fully and judge others
inline constexpr Trust kMaxEarnedTrust = 950;    // earned trust never reaches full trust
// The trust of an open (self-registered, not vouched for by an admin) reporter never exceeds
// this, whatever its base, pin or history: open reporters never count as trusted, so they
// never judge others and all their votes stay in the capped low-trust pool.
inline constexpr Trust kOpenTrustCap = 450;
static_assert(kOpenTrustCap < kTrustedMin, "open registrations must never be trusted");

// Confidence = floor(100 * S / (S + kHalfEvidence)) for net evidence S > 0, else 0.
// S = reports(trusted) + min(kLowTrustCap, reports(low)) - [same for revokes], in per-mille.
inline constexpr std::uint32_t kHalfEvidence = 250;
// Total evidence all low-trust (< kTrustedMin) votes on one side may contribute. It is below
// the evidence needed to reach kRecommendedThreshold (kHalfEvidence), so no number of
// low-trust reporters can list a signature on their own.
inline constexpr std::uint32_t kLowTrustCap = 200;

// Earned trust = (kPriorWeight*base + 1000*good) / (kPriorWeight + good + kPenaltyFactor*bad)
// (a Beta-style mean: the base counts as kPriorWeight/1000 full-weight observations, each
// corroboration is a "spam was right" observation and each contradiction kPenaltyFactor
// "wrong" ones, all weighted by the judge's trust), capped at max(kMaxEarnedTrust, base).
// good/bad are sums of judges' trust in per-mille.
inline constexpr std::uint64_t kPriorWeight = 4000;
inline constexpr std::uint64_t kPenaltyFactor = 10;

static_assert(kLowTrustCap < kHalfEvidence * kRecommendedThreshold / (100 - kRecommendedThreshold),
              "low-trust reporters alone must stay below the recommended threshold");
// The highest confidence any set of low-trust votes (in particular any set of open
// reporters' votes) gives a signature on its own: floor(100*200/450) = 44.
inline constexpr int kMaxLowTrustConfidence =
    static_cast<int>(100 * kLowTrustCap / (kLowTrustCap + kHalfEvidence));
static_assert(kMaxLowTrustConfidence < kRecommendedThreshold,
              "open reporters alone must stay below the recommended threshold");

struct Vote {
  Trust trust = 0;      // the voter's current trust (0 for a disabled reporter)
  bool revoke = false;  // false: "spam" report; true: "not spam" revoke by another reporter
};

// Net evidence S (may be negative) of a signature's active votes, one per distinct reporter.
std::int64_t evidence(std::span<const Vote> votes);
// Confidence 0..100 from net evidence.
int confidence_from_evidence(std::int64_t s);
// Confidence 0..100 of a signature's active votes.
int confidence(std::span<const Vote> votes);

// A reporter's reputation state (stored on the reporter record).
struct TrustState {
  Trust base = kNewReporterTrust;  // the starting (or admin-set) trust
  bool pinned = false;             // admin pinned: trust() returns base, whatever the history
  std::uint64_t good = 0;          // sum of corroborating judges' trust
  std::uint64_t bad = 0;           // sum of contradicting judges' trust
  bool open = false;               // open registration: trust() <= kOpenTrustCap, always
};

// The reporter's current trust.
Trust trust(const TrustState& s);

// Event rules, applied when reporter J casts (or changes) a vote on a signature. They are
// pure predicates; the store keeps one "credited" and one "penalised" flag per (reporter,
// signature) so each pair is rewarded at most once and penalised at most once.
//
// An earlier vote by R (R != J) of the same kind is corroborated by J's vote when J is trusted.
inline bool corroborates(Trust judge) { return judge >= kTrustedMin; }
// An earlier opposing vote by R is contradicted by J's vote when J is trusted and strictly
// more trusted than R (peers of equal standing do not punish each other).
inline bool contradicts(Trust judge, Trust voter) { return judge >= kTrustedMin && judge > voter; }
// Corroboration / contradiction weight added to good / bad.
inline std::uint64_t event_weight(Trust judge) { return judge; }

// Credit pacing (docs/reputation.md "Distinct judges and time"). A reporter is credited by
// one judge at most once per UTC day, and by at most kCreditSlots distinct judges per day, so
// trust is earned from distinct trusted judges or over time, not from one judge's busy day.
// The store keeps the log on the reporter record; penalties are not paced.
inline constexpr std::size_t kCreditSlots = 4;
inline constexpr std::uint64_t kSecondsPerDay = 86400;
struct CreditSlot {
  std::uint32_t judge = 0;  // reporter id of the judge; 0 = empty slot
  std::uint32_t day = 0;    // UTC day number (unix seconds / 86400) of the credit
};
using CreditLog = std::array<CreditSlot, kCreditSlots>;
inline std::uint32_t day_of(std::uint64_t unix_seconds) {
  return static_cast<std::uint32_t>(unix_seconds / kSecondsPerDay);
}
// Whether `judge` may credit the log's reporter on `day`: not already credited by that judge
// that day (or later: a clock going back gives nothing new), and a free slot for the day.
bool may_credit(const CreditLog& log, std::uint32_t judge, std::uint32_t day);
// Records a credit. REQUIRES: may_credit(log, judge, day). Reuses an empty slot or the one
// of the earliest past day.
void record_credit(CreditLog& log, std::uint32_t judge, std::uint32_t day);

// Conversions for the public API (trust as a double 0.0..1.0).
Trust trust_from_double(double t);  // rounds and clamps to 0..kFullTrust
inline double trust_to_double(Trust t) { return static_cast<double>(t) / kFullTrust; }

}  // namespace strop::storage::reputation
