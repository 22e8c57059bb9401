// fleet_event.hpp: the fleet's replicated-log event, the binary record of one accepted write
// as a fleet node publishes it to NATS JetStream and every node applies it (docs/fleet.md
// "Event format").
//
// An event carries everything a node needs to apply the write exactly as every other node
// does: the reporter by name (ids are local to a store), the signatures, message boundaries,
// the replay key, and the acceptance time chosen by the accepting node. It also names its
// origin (the accepting node and that node's request number), so the origin can answer its
// client once it has applied the event itself.
//
// Pure codec: no sockets, no storage. decode() takes untrusted bytes (anyone who can publish
// on the stream's subject) and checks every named limit below; hitting one is an Error
// (Errc::kLimitExceeded or Errc::kMalformed), never a crash. encode(decode(b)) == b for every
// b that decodes (tests/fuzz/fleet_event_fuzz.cpp checks it).
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "protocol/feed.hpp"
#include "sigs/signature.hpp"

namespace strop::protocol {

// Magic and version: the first three bytes of every event ("SF", version). The federation
// events (types 7..9) are version 2, the activity events (10, 11) version 3, the others
// version 1, so that a node built before a type stops at its first event ("upgrade it")
// instead of skipping it as malformed and diverging.
inline constexpr std::uint8_t kFleetEventMagic0 = 'S';
inline constexpr std::uint8_t kFleetEventMagic1 = 'F';
inline constexpr std::uint8_t kFleetEventVersion = 1;
inline constexpr std::uint8_t kFleetEventVersionPeers = 2;
inline constexpr std::uint8_t kFleetEventVersionActivity = 3;

// Named limits of the event codec.
// Whole event, bytes (JetStream's default max_payload is 1 MiB). Default: 1 MiB.
inline constexpr std::size_t kMaxFleetEventBytes = std::size_t{1} << 20;
// Signatures in one event (a report request's 1000 messages x 256 would not fit the byte
// bound anyway). Default: 65535.
inline constexpr std::size_t kMaxFleetEventSigs = 65535;
// Messages in one vote event. Default: 65535 (and at most the signature count).
inline constexpr std::size_t kMaxFleetEventMessages = 65535;
// One signature value, bytes. Default: 1024 (the store keeps at most 512).
inline constexpr std::size_t kMaxFleetSigValue = 1024;
// The origin node's id, bytes. Default: 64.
inline constexpr std::size_t kMaxFleetOrigin = 64;
// Reporter name (as storage::kMaxReporterName), secret, replay nonce; bytes.
inline constexpr std::size_t kMaxFleetReporterName = 64;
inline constexpr std::size_t kMaxFleetSecret = 128;
inline constexpr std::size_t kMaxFleetNonce = 128;
// Feed entries in one peer-batch event. A worst-case entry (an origin of kMaxFeedOrigin, a
// value of kMaxFeedValue) takes 343 bytes, so 2,000 of them (686 KB) fit kMaxFleetEventBytes;
// a fleet's puller asks its peers for at most this many (the feed's kMaxFeedEntries would
// not fit). Default: 2000.
inline constexpr std::size_t kMaxFleetPeerEntries = 2000;
// A peer's URL, bytes (as storage::kMaxPeerUrl). Default: 512.
inline constexpr std::size_t kMaxFleetPeerUrl = 512;
// Signatures in one touch event. A stored value is at most 512 bytes, so 2,000 of them fit
// kMaxFleetEventBytes; a member publishes its hits in events of at most this many. Default:
// 2000.
inline constexpr std::size_t kMaxFleetTouchSigs = 2000;
// Signatures one expire event may delete (one LMDB transaction on every member). Default:
// 100000.
inline constexpr std::uint32_t kMaxFleetExpireLimit = 100000;

enum class FleetEventType : std::uint8_t {
  kVote = 1,              // a report or revoke request
  kAddReporter = 2,       // registration (open or by an admin)
  kSetTrust = 3,          // admin: set a reporter's trust
  kSetDisabled = 4,       // admin: disable or enable a reporter
  kSetAllowed = 5,        // admin: allowlist signatures or take them off
  kDeleteSignatures = 6,  // admin: delete signatures entirely
  kPeerBatch = 7,         // federation: a batch pulled from a peer's feed, with the cursor
  kAddPeer = 8,           // admin: add a federation peer
  kRemovePeer = 9,        // admin: remove a federation peer
  kTouch = 10,            // activity: signatures a member's checks hit
  kExpire = 11            // activity: an expiry sweep step
};

struct FleetVote {
  std::string reporter;  // name
  bool revoke = false;
  std::vector<sigs::Signature> sigs;
  std::vector<std::uint32_t> message_sizes;  // empty: one message
  struct Replay {
    std::string nonce;
    std::uint64_t expires = 0;  // Unix seconds
    friend bool operator==(const Replay&, const Replay&) = default;
  };
  std::optional<Replay> replay;
  friend bool operator==(const FleetVote&, const FleetVote&) = default;
};

struct FleetAddReporter {
  std::string name;
  std::string secret;
  std::optional<double> trust;  // 0.0..1.0
  bool pinned = true;
  bool admin = false;
  bool open_registration = false;
  friend bool operator==(const FleetAddReporter&, const FleetAddReporter&) = default;
};

struct FleetSetTrust {
  std::string name;
  double trust = 0;  // 0.0..1.0
  bool pinned = true;
  friend bool operator==(const FleetSetTrust&, const FleetSetTrust&) = default;
};

struct FleetSetDisabled {
  std::string name;
  bool disabled = true;
  friend bool operator==(const FleetSetDisabled&, const FleetSetDisabled&) = default;
};

struct FleetSetAllowed {
  std::vector<sigs::Signature> sigs;
  bool allowed = true;
  friend bool operator==(const FleetSetAllowed&, const FleetSetAllowed&) = default;
};

struct FleetDeleteSignatures {
  std::vector<sigs::Signature> sigs;
  friend bool operator==(const FleetDeleteSignatures&, const FleetDeleteSignatures&) = default;
};

// A batch one member pulled from a peer's feed (docs/federation.md "In a fleet"). Every member
// applies it with the cursor, and only when its stored cursor for the peer is still `after`
// (otherwise it is skipped everywhere alike). The event's `time` is the `now` of the apply.
struct FleetPeerBatch {
  std::string peer;                    // the peer's site name (1..kMaxFeedOrigin of [a-z0-9.-])
  std::uint64_t after = 0;             // the cursor the batch was pulled from
  std::uint64_t cursor = 0;            // the new cursor: the last entry's seq, or `after` when none
  std::vector<FeedWireEntry> entries;  // seq strictly increasing, all above `after`
  friend bool operator==(const FleetPeerBatch&, const FleetPeerBatch&) = default;
};

struct FleetAddPeer {
  std::string name;    // site name
  std::string url;     // 1..kMaxFleetPeerUrl bytes
  std::string secret;  // 1..kMaxFleetSecret bytes
  double trust = 0.3;  // 0.0..1.0
  friend bool operator==(const FleetAddPeer&, const FleetAddPeer&) = default;
};

struct FleetRemovePeer {
  std::string name;
  friend bool operator==(const FleetRemovePeer&, const FleetRemovePeer&) = default;
};

// Hits (docs/fleet.md "Activity and expiry"): signatures that checks at one member matched.
// Every member moves their last-hit time to the event's `time`, so a signature's activity, and
// with it its expiry, is the same everywhere. Unknown signatures are ignored.
struct FleetTouch {
  std::vector<sigs::Signature> sigs;  // 1..kMaxFleetTouchSigs
  friend bool operator==(const FleetTouch&, const FleetTouch&) = default;
};

// One step of the fleet's expiry sweep, published by one member: every member deletes the
// same signatures, the (at most `limit`) least recently active ones whose activity is before
// `cutoff` (Unix seconds), in activity order.
struct FleetExpire {
  std::uint64_t cutoff = 0;
  std::uint32_t limit = 0;  // 1..kMaxFleetExpireLimit
  friend bool operator==(const FleetExpire&, const FleetExpire&) = default;
};

using FleetWrite = std::variant<FleetVote, FleetAddReporter, FleetSetTrust, FleetSetDisabled,
                                FleetSetAllowed, FleetDeleteSignatures, FleetPeerBatch,
                                FleetAddPeer, FleetRemovePeer, FleetTouch, FleetExpire>;

struct FleetEvent {
  std::string origin;         // the accepting node's id (1..kMaxFleetOrigin bytes)
  std::uint64_t request = 0;  // the origin's request number (unique per origin process run)
  std::uint64_t time = 0;     // acceptance time, Unix seconds: every node applies this time
  FleetWrite write;
  friend bool operator==(const FleetEvent&, const FleetEvent&) = default;
};

FleetEventType fleet_event_type(const FleetEvent& e);

// The event's bytes. REQUIRES: the event is within the limits above (an event the node
// builds from a request its adapters admitted always is); otherwise kLimitExceeded.
Result<std::string> encode_fleet_event(const FleetEvent& e);

// Parses one event. Errors: kMalformed (bad magic, truncated, trailing bytes, unknown type or
// engine, a value out of range, a type under the wrong version; for a peer batch an entry
// the feed decoder would refuse, sequences not increasing or not after `after`, a cursor
// other than the last entry's), kLimitExceeded (a named limit), kInvalidArgument (a newer
// version than this node understands: the node must be upgraded, not skip it).
Result<FleetEvent> decode_fleet_event(std::string_view bytes);

// ---- member beats: each fleet node announces, every few seconds, on core NATS (not in the
// stream), how far it has applied the log, so that every member can show every other's lag
// (docs/fleet.md "Observability"). Bytes: "SFM1", origin (u8 length + 1..kMaxFleetOrigin
// bytes of [A-Za-z0-9._-]), applied sequence (u64), stream head as that node last saw it
// (u64); big-endian.
inline constexpr std::string_view kFleetBeatMagic = "SFM1";
inline constexpr std::size_t kMaxFleetBeat = 4 + 1 + kMaxFleetOrigin + 8 + 8;

struct FleetBeat {
  std::string origin;
  std::uint64_t applied = 0;
  std::uint64_t head = 0;
  friend bool operator==(const FleetBeat&, const FleetBeat&) = default;
};

// Errors: kInvalidArgument (empty origin), kLimitExceeded (origin over kMaxFleetOrigin).
Result<std::string> encode_fleet_beat(const FleetBeat& b);
// Errors: kMalformed (bad magic, truncated, trailing bytes, empty origin or another
// character), kLimitExceeded.
Result<FleetBeat> decode_fleet_beat(std::string_view bytes);

}  // namespace strop::protocol
