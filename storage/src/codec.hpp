// codec.hpp: key and value layouts of the store's LMDB databases (internal to storage).
//
// docs/storage-format.md is the prose form of this file; change both together. Keys are
// fixed-width big-endian so LMDB's byte order is numeric order; every value starts with a
// version byte (kValueVersion). Decoders take bytes straight from the memory map (2-byte
// alignment only), so they read with byte access, never struct casts, and reject anything
// with a wrong size or version (std::nullopt = corrupt record).
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sigs/signature.hpp"

namespace strop::storage::codec {

inline constexpr std::uint8_t kValueVersion = 1;
inline constexpr std::uint32_t kSchemaVersion = 1;

using SigId = std::uint32_t;                    // 1..kMaxSigId, 0 = none
inline constexpr SigId kMaxSigId = 0x7fffffff;  // the in-memory index uses the top bit

// ---- big-endian primitives

inline void put_u16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
}
inline void put_u32(char* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<char>(v);
    v >>= 8;
  }
}
inline void put_u64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v);
    v >>= 8;
  }
}
inline std::uint16_t get_u16(const char* p) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(p[0]) << 8) |
                                    static_cast<unsigned char>(p[1]));
}
inline std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// ---- fuzzy values

// Fast decode of a fuzzy/1 value (kFuzzyHashes x 8 lowercase hex); same result and the same
// rejections as sigs::decode_fuzzy, table-driven.
std::optional<sigs::FuzzyHashes> decode_fuzzy(std::string_view value);
// Equal positions of two fuzzy/1 values compared as text (8 hex chars per position; the
// text form is canonical, so equal text <=> equal hash). -1 when either is malformed.
int fuzzy_equal_positions_text(std::string_view a, std::string_view b);

// ---- keys (fixed-size arrays; sv() views one)

template <std::size_t N>
std::string_view sv(const std::array<char, N>& k) {
  return {k.data(), N};
}

using SigIdKey = std::array<char, 4>;
SigIdKey sig_id_key(SigId id);

// The in-memory exact key of a signature: XXH3-64 of the value, seeded with the engine value.
// Not stored; every use verifies the record's engine and value.
std::uint64_t exact_key64(sigs::Engine engine, std::string_view value);

// votes: [sig id u32 BE][reporter id u32 BE]
using VoteKey = std::array<char, 8>;
VoteKey vote_key(SigId sig, std::uint32_t reporter);

// activity: [time u64 BE][sig id u32 BE]
using ActivityKey = std::array<char, 12>;
ActivityKey activity_key(std::uint64_t time, SigId sig);

// reporters: [reporter id u32 BE]
using ReporterKey = std::array<char, 4>;
ReporterKey reporter_key(std::uint32_t id);

// replay: [reporter id u32 BE][nonce bytes] -> [ver][expires u64]
std::string replay_key(std::uint32_t reporter, std::string_view nonce);
// replay_expiry: [expires u64 BE][reporter id u32 BE][nonce bytes] -> "" (sweep order)
std::string replay_expiry_key(std::uint64_t expires, std::uint32_t reporter,
                              std::string_view nonce);

// allowed: [engine u8][XXH3-128 of the value, 16 bytes BE] -> AllowRecord. The value is kept
// in the record, and every lookup compares it (a hash collision never allows another value).
using AllowKey = std::array<char, 17>;
AllowKey allow_key(sigs::Engine engine, std::string_view value);

// ---- values

// Value of reporter_names (an id): [ver][id u32]
std::string encode_id(std::uint32_t id);
std::optional<std::uint32_t> decode_id(std::string_view v);

struct SigRecord {
  sigs::Engine engine = sigs::Engine::kBody;
  std::uint16_t flags = 0;  // reserved, 0
  std::uint64_t first_seen = 0;
  std::uint64_t last_vote = 0;
  std::uint64_t last_hit = 0;
  std::uint32_t reports = 0;  // active reports
  std::uint32_t revokes = 0;  // active revokes (by others)
  std::string value;

  // The time the activity index holds for this signature.
  std::uint64_t activity() const {
    std::uint64_t t = first_seen > last_vote ? first_seen : last_vote;
    return t > last_hit ? t : last_hit;
  }
};
inline constexpr std::size_t kSigHeader = 36;
std::string encode_sig(const SigRecord& r);
std::optional<SigRecord> decode_sig(std::string_view v);
// Engine and value of a sig record without copying (the view points into v).
struct SigPeek {
  sigs::Engine engine;
  std::uint64_t first_seen;
  std::uint64_t last_hit;
  std::string_view value;
};
std::optional<SigPeek> peek_sig(std::string_view v);

enum class VoteKind : std::uint8_t { kReport = 1, kRevoke = 2, kWithdrawn = 3 };
inline constexpr std::uint8_t kVoteCredited = 1;   // corroboration already rewarded
inline constexpr std::uint8_t kVotePenalised = 2;  // contradiction already penalised
// A federation peer's vote (docs/federation.md): weighed by hop, never judges nor is judged.
inline constexpr std::uint8_t kVotePeer = 4;
struct VoteRecord {
  VoteKind kind = VoteKind::kReport;
  std::uint8_t flags = 0;
  std::uint8_t hop = 0;    // peer votes: forwarding hops before the peer (byte 3; else 0)
  std::uint64_t time = 0;  // when the current kind was set
};
inline constexpr std::size_t kVoteSize = 12;
std::string encode_vote(const VoteRecord& r);
std::optional<VoteRecord> decode_vote(std::string_view v);

inline constexpr std::uint8_t kReporterDisabled = 1;
inline constexpr std::uint8_t kReporterPinned = 2;
inline constexpr std::uint8_t kReporterAdmin = 4;
// An open registration (not vouched for by an admin). Records written before this bit existed
// do not have it and are read as vouched: they cannot be told apart, and they were all created
// by admins or by registrations the operator accepted under the old model.
inline constexpr std::uint8_t kReporterOpen = 8;
// A federation peer's identity (docs/federation.md): it can pull the feed and vote through
// pulled batches, never sign a report, revoke or check.
inline constexpr std::uint8_t kReporterPeer = 16;
// Credit pacing log (reputation::CreditLog): judge id and UTC day of the latest credits.
inline constexpr std::size_t kReporterCreditSlots = 4;
struct CreditEntry {
  std::uint32_t judge = 0;  // 0 = empty
  std::uint32_t day = 0;
};
struct ReporterRecord {
  std::uint8_t flags = 0;
  std::uint16_t trust = 0;  // current effective trust, per-mille (cached model output)
  std::uint16_t base = 0;   // starting / admin-set trust, per-mille
  std::uint64_t created = 0;
  std::uint64_t last_active = 0;
  std::uint64_t reports = 0;
  std::uint64_t revokes = 0;
  std::uint64_t good = 0;
  std::uint64_t bad = 0;
  std::uint32_t corroborated = 0;
  std::uint32_t contradicted = 0;
  std::string name;
  std::string secret;
  // Optional trailer: written only when some entry is non-empty, so records of reporters
  // never credited keep the layout older versions read.
  std::array<CreditEntry, kReporterCreditSlots> credits{};
};
inline constexpr std::size_t kReporterHeader = 64;
inline constexpr std::size_t kReporterCreditsSize = kReporterCreditSlots * 8;
std::string encode_reporter(const ReporterRecord& r);
std::optional<ReporterRecord> decode_reporter(std::string_view v);

// Value of allowed: [ver][since u64][value bytes]
struct AllowRecord {
  std::uint64_t since = 0;  // when the operator allowed the signature
  std::string value;
};
inline constexpr std::size_t kAllowHeader = 9;
std::string encode_allow(std::uint64_t since, std::string_view value);
std::optional<AllowRecord> decode_allow(std::string_view v);

// meta "counts": [ver][u64 x 8 signatures by engine][u64 votes][u64 reporters]
struct Counts {
  std::array<std::uint64_t, 8> by_engine{};
  std::uint64_t votes = 0;
  std::uint64_t reporters = 0;
  std::uint64_t signatures() const {
    std::uint64_t n = 0;
    for (auto c : by_engine) n += c;
    return n;
  }
  friend bool operator==(const Counts&, const Counts&) = default;
};
std::string encode_counts(const Counts& c);
std::optional<Counts> decode_counts(std::string_view v);

// meta u32 / u64 values: [ver][u32] and [ver][u64]
std::string encode_u32(std::uint32_t v);
std::optional<std::uint32_t> decode_u32(std::string_view v);
std::string encode_u64(std::uint64_t v);
std::optional<std::uint64_t> decode_u64(std::string_view v);

// ---- federation (docs/federation.md "Storage")

// peers: [reporter id u32] -> [ver][flags u8][cursor u64][last_success u64][applied u64][url]
struct PeerRecord {
  std::uint64_t cursor = 0;
  std::uint64_t last_success = 0;
  std::uint64_t applied = 0;
  std::string url;
};
inline constexpr std::size_t kPeerHeader = 26;
std::string encode_peer(const PeerRecord& r);
std::optional<PeerRecord> decode_peer(std::string_view v);

// feed: [seq u64] -> [ver][state u8 1 listed 2 unlisted][engine u8][hop u8][confidence u8]
//                    [sig id u32][version u64][len8 + origin][value bytes]
// feed_index: [sig id u32] -> [ver][seq u64] (the latest feed entry of the signature)
using SeqKey = std::array<char, 8>;
SeqKey seq_key(std::uint64_t seq);
struct FeedRecord {
  bool listed = false;
  sigs::Engine engine = sigs::Engine::kBody;
  std::uint8_t hop = 0;
  std::uint8_t confidence = 0;
  SigId sig = 0;
  std::uint64_t version = 0;
  std::string origin;
  std::string value;
};
inline constexpr std::size_t kFeedHeader = 17;
std::string encode_feed(const FeedRecord& r);
std::optional<FeedRecord> decode_feed(std::string_view v);

// peer_entries: [sig id u32][peer id u32] (as vote_key) -> the peer's latest entry for the
// signature: [ver][state u8][hop u8][confidence u8][version u64][len8 + origin]
struct PeerEntryRecord {
  bool listed = false;
  std::uint8_t hop = 0;
  std::uint8_t confidence = 0;
  std::uint64_t version = 0;
  std::string origin;
};
inline constexpr std::size_t kPeerEntryHeader = 12;
std::string encode_peer_entry(const PeerEntryRecord& r);
std::optional<PeerEntryRecord> decode_peer_entry(std::string_view v);

// origin_versions: [sig id u32][XXH3-64 of the origin name u64] -> the newest version of the
// origin's state of the signature seen from any peer: [ver][state u8][version u64][origin]
using OriginKey = std::array<char, 12>;
OriginKey origin_key(SigId sig, std::string_view origin);
struct OriginRecord {
  bool listed = false;
  std::uint64_t version = 0;
  std::string origin;
};
std::string encode_origin(const OriginRecord& r);
std::optional<OriginRecord> decode_origin(std::string_view v);

// meta keys
inline constexpr std::string_view kMetaSchema = "schema";                    // u32
inline constexpr std::string_view kMetaCreated = "created";                  // u64 unix seconds
inline constexpr std::string_view kMetaNextSigId = "next_sig_id";            // u32
inline constexpr std::string_view kMetaNextReporterId = "next_reporter_id";  // u32
inline constexpr std::string_view kMetaReportersGen = "reporters_gen";       // u64
inline constexpr std::string_view kMetaCounts = "counts";                    // Counts
// Fleet mode: the last applied replicated-log sequence (u64; absent: 0). docs/fleet.md.
inline constexpr std::string_view kMetaAppliedSeq = "applied_seq";
// Federation: the last sequence of this site's feed (u64; absent: 0). docs/federation.md.
inline constexpr std::string_view kMetaFeedSeq = "feed_seq";

}  // namespace strop::storage::codec
