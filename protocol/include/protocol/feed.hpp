// feed.hpp: the federation feed on the wire (docs/federation.md "The feed"): the body
// `strop-feed/1` a site serves to its peers, and the signature over a feed response that
// lets the puller refuse a tampered or replayed batch before decoding it.
//
// Pure codec: no sockets, no storage. decode_feed() takes untrusted bytes (a peer's
// response) and checks every named limit below; hitting one is an Error (Errc::kMalformed or
// Errc::kLimitExceeded), never a crash, and a batch is taken whole or not at all.
// encode_feed(decode_feed(b)) == b for every b that decodes (tests/fuzz/feed_fuzz.cpp).
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "sigs/signature.hpp"

namespace strop::protocol {

inline constexpr std::string_view kFeedMagic = "SFD1";
inline constexpr std::string_view kFeedContentType = "application/x-strop-feed";
inline constexpr std::string_view kFeedResponseScheme = "STROP-PEER-RESPONSE-HMAC-SHA256";

// Named limits.
// Entries in one batch (and the most a puller may ask for). Default: 10,000.
inline constexpr std::size_t kMaxFeedEntries = 10000;
// Body bytes (after content decoding). Default: 4 MiB.
inline constexpr std::size_t kMaxFeedBody = std::size_t{4} << 20;
// A site name: 1..64 bytes of [a-z0-9.-].
inline constexpr std::size_t kMaxFeedOrigin = 64;
// A signature value: 1..256 bytes.
inline constexpr std::size_t kMaxFeedValue = 256;
// Hops an entry may carry.
inline constexpr std::uint8_t kMaxFeedHop = 8;

struct FeedWireEntry {
  std::uint64_t seq = 0;
  bool listed = false;
  sigs::Signature sig;
  std::uint8_t hop = 0;
  std::uint8_t confidence = 0;  // 0..100
  std::uint64_t version = 0;
  std::string origin;
  friend bool operator==(const FeedWireEntry&, const FeedWireEntry&) = default;
};

// Why `e` cannot be on the wire (unknown engine, value size, hop, confidence, origin), or
// nullptr. The feed codec and the fleet's peer-batch event (fleet_event.hpp) both use it.
const char* feed_entry_problem(const FeedWireEntry& e);

// One entry in the strop-feed/1 layout (docs/federation.md, "Body"), shared by the feed body
// and the fleet's peer-batch event. write_feed_entry() writes it as it is (callers check
// feed_entry_problem() first); read_feed_entry() returns nullptr, or why the bytes are not an
// entry ("truncated", "unknown state"), leaving the limits to the caller.
void write_feed_entry(ByteWriter& w, const FeedWireEntry& e);
const char* read_feed_entry(ByteReader& r, FeedWireEntry* e);

struct FeedBatch {
  std::uint64_t head = 0;              // the serving site's last feed sequence
  std::uint64_t oldest = 0;            // the lowest cursor (other than 0) it can still serve
  std::vector<FeedWireEntry> entries;  // strictly increasing seq
  friend bool operator==(const FeedBatch&, const FeedBatch&) = default;
};

// The body. Errors: kLimitExceeded (more than kMaxFeedEntries, or body over kMaxFeedBody),
// kInvalidArgument (an entry the decoder would refuse).
Result<std::string> encode_feed(const FeedBatch& batch);
// Parses a body. `max_entries` is what the puller asked for (a server that sends more is
// refused). Errors: kMalformed, kLimitExceeded.
Result<FeedBatch> decode_feed(std::string_view body, std::size_t max_entries = kMaxFeedEntries);

// Response bodies of at least this many bytes go gzip-compressed to a puller that sends
// `Accept-Encoding: gzip`; below it the gzip header and trailer (18 bytes) and the work cost
// more than they save. Default: 1 KiB (about a dozen entries).
inline constexpr std::size_t kFeedGzipMinBody = 1024;
// True when an Accept-Encoding value accepts gzip: a "gzip" (or "x-gzip") token, any case,
// whose q is not 0.
bool accepts_gzip(std::string_view accept_encoding);
// Decodes a response body as received (after its signature was verified): Content-Encoding
// "" or "identity" as is, "gzip" decompressed first with the limit kMaxFeedBody. Errors:
// those of decode_feed, kMalformed (another encoding, bad gzip), kLimitExceeded (over
// kMaxFeedBody once decompressed: a bomb is refused without inflating it further).
Result<FeedBatch> decode_feed_body(std::string_view body, std::string_view content_encoding,
                                   std::size_t max_entries = kMaxFeedEntries);

// The query of GET /v1/peer/feed: after=N (required), limit=M (1..kMaxFeedEntries, default
// kDefaultFeedLimit) and wait=S (0..kMaxFeedWait seconds of long poll, default 0), decimal,
// each at most once, nothing else.
inline constexpr std::size_t kDefaultFeedLimit = 5000;
// Seconds a pull may wait for an entry after its cursor. Default: 30.
inline constexpr unsigned kMaxFeedWait = 30;
struct FeedQuery {
  std::uint64_t after = 0;
  std::size_t limit = kDefaultFeedLimit;
  unsigned wait = 0;
};
// Parses the query part of a request target ("/v1/peer/feed?after=0&limit=100"). Errors:
// kMalformed.
Result<FeedQuery> parse_feed_query(std::string_view target);
// The request target of a pull (wait=S only when S > 0).
std::string feed_target(std::uint64_t after, std::size_t limit, unsigned wait = 0);

// The server's X-Strop-Signature over a feed response: lowercase hex HMAC-SHA256 with the
// peering secret of "STROP-PEER-RESPONSE-HMAC-SHA256\n<status>\n<request nonce>\n<hex
// SHA-256 of the body as sent>".
std::string sign_feed_response(std::string_view secret, unsigned status, std::string_view nonce,
                               std::string_view body);
// Constant-time check of a response signature.
bool verify_feed_response(std::string_view secret, unsigned status, std::string_view nonce,
                          std::string_view body, std::string_view signature);

}  // namespace strop::protocol
