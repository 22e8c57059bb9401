// federation.hpp: what the store keeps for federation between independent sites
// (docs/federation.md): peers, the site's own feed of listing changes, and the entries pulled
// from each peer's feed, which become that peer's votes.
//
// Plain values and pure functions; the Store (store.hpp) applies and serves them.
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sigs/signature.hpp"
#include "storage/reporter.hpp"
#include "storage/reputation.hpp"

namespace strop::storage {

// Named limits.
// A site name (the origin of listings): 1..64 bytes of [a-z0-9.-].
inline constexpr std::size_t kMaxSiteName = 64;
// A peer's feed URL, bytes.
inline constexpr std::size_t kMaxPeerUrl = 512;
// Hops a listing may travel: an entry is never served with a hop above this.
inline constexpr std::uint8_t kMaxHops = 8;
// Entries one feed read returns at most.
inline constexpr std::size_t kMaxFeedBatch = 10000;

// Weight of a vote that travelled `hop` forwarding hops: 0.9 per hop, per-mille, so the model
// stays integer (docs/federation.md "Applying a batch").
inline constexpr std::array<reputation::Trust, kMaxHops + 1> kHopDecay = {1000, 900, 810, 729, 656,
                                                                          590,  531, 478, 430};
inline reputation::Trust hop_weight(reputation::Trust trust, std::uint8_t hop) {
  if (hop > kMaxHops) return 0;
  return static_cast<reputation::Trust>(static_cast<std::uint32_t>(trust) * kHopDecay[hop] / 1000);
}

// true when `name` is a valid site name (1..kMaxSiteName of [a-z0-9.-]).
bool valid_site_name(std::string_view name);

// One entry of a feed: the listing state of one signature at the serving site, with the
// origin whose listing it is (docs/federation.md "What a site puts in its feed").
struct FeedEntry {
  std::uint64_t seq = 0;  // position in the serving site's feed (1..)
  bool listed = false;    // false: unlisted
  sigs::Signature sig;
  std::uint8_t hop = 0;         // 0: the serving site is the origin
  std::uint8_t confidence = 0;  // 0..100 at the serving site (informational)
  std::uint64_t version = 0;    // the origin's version of this state
  std::string origin;           // site name
  friend bool operator==(const FeedEntry&, const FeedEntry&) = default;
};

// A page of a site's feed (Store::read_feed).
struct FeedPage {
  std::uint64_t head = 0;          // the feed's last sequence at the time of the read
  std::uint64_t oldest = 0;        // the lowest cursor (other than 0) that may still be served
  std::vector<FeedEntry> entries;  // in increasing seq
};

struct PeerSpec {
  std::string name;    // the peer's site name
  std::string url;     // its node's base URL, e.g. http://192.0.2.1:8080
  std::string secret;  // the peering secret (1..kMaxReporterSecret bytes)
  double trust = 0.3;  // this site's trust in the peer, 0.0..1.0
};

struct Peer {
  Reporter reporter;  // the peer's identity: name, secret, trust, disabled
  std::string url;
  std::uint64_t cursor = 0;   // the last entry of its feed applied here
  TimePoint last_success{};   // the last batch applied (epoch: never)
  std::uint64_t applied = 0;  // entries applied from it
};

// A batch pulled from a peer's feed, to apply in one transaction with the new cursor.
struct PeerBatch {
  ReporterId peer = 0;
  std::uint64_t after = 0;   // the cursor the batch was asked from (must be the stored one)
  std::uint64_t cursor = 0;  // the new cursor (the last entry's seq, or `after` when none)
  std::vector<FeedEntry> entries;
  TimePoint now{};
};

struct PeerBatchOutcome {
  std::size_t applied = 0;  // entries that changed the peer's vote on a signature
  std::size_t own = 0;      // entries whose origin is this site (ignored)
  std::size_t stale = 0;    // entries older than a version already known
};

}  // namespace strop::storage
