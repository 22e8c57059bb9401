// udp_wire.hpp: strop-udp/1, the native binary UDP check protocol of strop-node
// (docs/protocol.md "## Native UDP check (strop-udp/1)"): one request datagram carries the
// signatures of 1..max_messages messages in binary form, one reply datagram carries each
// message's verdict, confidence and one compact record per matched engine. Anonymous checks
// only: reports and revokes stay on the authenticated HTTP API.
//
// All integers are big-endian. A request is never answered with more bytes than it had
// (anti-reflection): encode_reply() drops match records to fit and sets kFlagTruncated.
//
// Pure functions, no sockets or clock: unit-tested and fuzzed without a network. Untrusted
// input is bounded by Limits; hitting a limit is an Error value.
// Thread-safety: all functions are pure and may be called from any thread. Returned values
// own their bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sigs/signature.hpp"

namespace strop::protocol::udp {

// Header bytes shared by requests and replies.
inline constexpr std::array<std::uint8_t, 2> kMagic = {0x53, 0x54};  // "ST"
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::uint8_t kOpCheck = 0x01;       // request: check
inline constexpr std::uint8_t kOpCheckReply = 0x81;  // reply to kOpCheck (high bit = reply)

inline constexpr std::size_t kRequestHeaderBytes = 10;  // magic, version, op, id, count
inline constexpr std::size_t kReplyHeaderBytes =
    12;  // magic, version, op, id, status, flags, count
inline constexpr std::size_t kReplyMessageBytes = 3;  // verdict, confidence, record count
inline constexpr std::size_t kMatchRecordBytes = 6;   // engine, similarity, reports, revokes

struct Limits {
  // Largest request datagram accepted. Default: 8192 bytes (a full message, body + fuzzy + 3
  // url, is 198 bytes; keep datagrams under the path MTU, ~1400 bytes, to avoid fragments).
  std::size_t max_datagram_bytes = 8192;
  // Messages in one request. Default: 64.
  std::size_t max_messages = 64;
  // Signatures of one message. Default: 64 (at most 255 on the wire). Messages with more
  // go over the HTTP API.
  std::size_t max_sigs_per_message = 64;
};

// Reply status.
enum class Status : std::uint8_t {
  kOk = 0,           // one result per request message follows
  kRateLimited = 1,  // the source address's [rate_limit] budget is spent; no results
  kServerError = 2,  // the node could not read its store; no results; retry later
};

// Reply flags.
inline constexpr std::uint8_t kFlagTruncated = 0x01;  // match records were left out to fit

struct CheckRequest {
  std::uint32_t request_id = 0;  // chosen by the client, echoed in the reply
  std::vector<std::vector<sigs::Signature>> messages;
};

struct MatchRecord {
  sigs::Engine engine = sigs::Engine::kBody;
  std::uint8_t similarity = 0;  // 0..100 (100 for exact engines)
  std::uint16_t reports = 0;    // distinct reporters, saturated at 65535
  std::uint16_t revokes = 0;    // distinct revokers, saturated at 65535
  friend bool operator==(const MatchRecord&, const MatchRecord&) = default;
};

struct MessageResult {
  bool spam = false;
  std::uint8_t confidence = 0;       // 0..100
  std::vector<MatchRecord> matches;  // at most one per engine
  friend bool operator==(const MessageResult&, const MessageResult&) = default;
};

struct CheckReply {
  std::uint32_t request_id = 0;
  Status status = Status::kOk;
  std::uint8_t flags = 0;
  std::vector<MessageResult> results;  // empty unless status is kOk
};

// Bytes of an engine's binary value: 16 for body/1, url/1 and attach/1 (the 128-bit digest),
// 128 for fuzzy/1 (32 x u32), 28 for razor-e4 and 12 for razor-e8 (their ASCII text), 20 for
// pyzor (the 160-bit digest).
std::size_t value_bytes(sigs::Engine e);

// Parses a request datagram. Errors: kLimitExceeded (datagram, messages or signatures over
// `limits`), kMalformed (bad magic, version or op, truncated, trailing bytes, no messages, a
// message without signatures, unknown engine, a value that is not valid for its engine).
Result<CheckRequest> decode_request(std::string_view datagram, const Limits& limits = {});

// Encodes a request. Errors: kInvalidArgument (a signature value not valid for its engine,
// no messages, a message without signatures, more than 255 signatures or 65535 messages).
Result<std::string> encode_request(const CheckRequest& request);

// Encodes a reply of at most `max_bytes` bytes (the request's size): when the records do not
// fit, the last ones are left out and kFlagTruncated is set. Errors: kLimitExceeded when not
// even the header and the per-message verdicts fit (never the case for a reply to a valid
// request of at least that many messages).
Result<std::string> encode_reply(const CheckReply& reply, std::size_t max_bytes);

// Parses a reply datagram (clients, tests). Errors: kMalformed.
Result<CheckReply> decode_reply(std::string_view datagram);

// Whether `datagram` starts like a strop-udp/1 reply (clients drop anything else).
bool looks_like_reply(std::string_view datagram);

// The similarity byte for a similarity in 0..1 (rounded, clamped).
std::uint8_t similarity_percent(double similarity);

}  // namespace strop::protocol::udp
