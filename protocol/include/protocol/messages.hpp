// messages.hpp: the native API's request and response values (DTOs), version 1.
//
// These are what codec.hpp encodes and decodes; docs/protocol.md shows their JSON form.
// Signatures travel in their text form "engine:value" (sigs/signature.hpp) and are parsed
// with sigs::parse_signature by the decoders, so a decoded request only holds valid
// signatures. Plain values: copyable, movable, no invariants beyond the field comments.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/errors.hpp"
#include "protocol/limits.hpp"
#include "sigs/signature.hpp"

namespace strop::protocol {

// One message's signature set, as sent in check, report and revoke requests.
struct MessageSigs {
  std::string id;                     // optional client tag (<= max_message_id_length), echoed
  std::vector<sigs::Signature> sigs;  // <= max_sigs_per_message; may be empty for check
};

// POST /v1/check: anonymous unless the node requires signed checks.
struct CheckRequest {
  std::vector<MessageSigs> messages;  // 1..max_messages
};

enum class Verdict : std::uint8_t {
  kNotSpam = 0,  // "not_spam": nothing matched, or confidence below the node's threshold
  kSpam = 1,     // "spam": confidence >= the node's threshold
};

// One stored signature that one of the message's signatures matched.
struct Match {
  sigs::Engine engine = sigs::Engine::kBody;
  std::string id;             // the stored signature's text form, as `strop sig` prints it
  double similarity = 1.0;    // 0..1; 1 for exact engines
  std::uint32_t reports = 0;  // distinct reporters' active reports
  std::uint32_t revokes = 0;  // distinct other reporters' active revokes
  int confidence = 0;         // this signature's confidence 0..100
};

// The node's answer for one message of a check request.
struct MessageVerdict {
  std::string id;  // the request's id for this message ("" when none was given)
  Verdict verdict = Verdict::kNotSpam;
  int confidence = 0;  // 0..100 (Razor's cf)
  std::vector<Match> matches;
};

struct CheckResponse {
  std::vector<MessageVerdict> results;  // one per request message, same order
};

// POST /v1/report and /v1/revoke: signed (signing.hpp). Idempotent per (reporter, signature).
struct VoteRequest {
  std::vector<MessageSigs> messages;  // 1..max_messages, each with >= 1 signature
};
using ReportRequest = VoteRequest;
using RevokeRequest = VoteRequest;

// What the node did with one message's signatures (counts sum to its signature count).
struct MessageVoteResult {
  std::string id;
  std::uint32_t recorded = 0;   // new votes
  std::uint32_t unchanged = 0;  // the same vote was already recorded (idempotent repeat)
  std::uint32_t changed = 0;    // the reporter's earlier opposite vote was replaced
  std::uint32_t withdrawn = 0;  // revoke of the reporter's own report
  std::uint32_t unknown = 0;    // revoke of a signature nobody reported
  // false: none of the message's signatures is of an engine that may decide a verdict on
  // this node (e.g. only razor-e8 / pyzor digests), so no report can make it spam.
  // Absent in older nodes' responses (decoded as true).
  bool listable = true;
};

// Sent only after the node's commit holding every vote of the request is durable.
struct VoteResponse {
  std::vector<MessageVoteResult> results;  // one per request message, same order
};

// POST /v1/register. Unsigned: open registration (if enabled), trust and admin ignored.
// Signed by an admin reporter: always allowed; trust and admin are honoured.
struct RegisterRequest {
  std::string name;             // valid_reporter_name()
  std::optional<double> trust;  // 0.0..1.0; admin-signed requests only
  bool admin = false;           // admin-signed requests only
};

struct RegisterResponse {
  std::string reporter;  // the registered name
  std::string secret;    // the HMAC key: shown once, the node cannot show it again
  double trust = 0;      // starting trust 0.0..1.0
};

// GET /v1/state
struct StateResponse {
  std::string node_version;  // e.g. "0.1.0"
  int api_version = kApiVersion;
  std::vector<std::string> engines;  // engine names the node stores, e.g. "fuzzy/1"
  int threshold = 50;                // confidence at/above which the verdict is spam
  Limits limits;                     // the node's effective request limits
  bool anonymous_check = true;       // checks need no signature
  bool open_registration = true;     // unsigned /v1/register is allowed
  std::uint64_t signatures = 0;      // stored signatures
  std::uint64_t reporters = 0;       // registered reporters
};

// Body of every error response.
struct ErrorBody {
  ApiErrc code = ApiErrc::kInternal;
  std::string message;
};

// The identity file a client uses to talk to a node as a reporter (written by
// `strop-node reporter add --out FILE` and by clients after /v1/register). JSON:
// {"v":1,"node":"http://127.0.0.1:7420","reporter":"alice","secret":"..."}.
struct Identity {
  std::string node;      // base URL of the node, e.g. "https://strop.example.org:7420"
  std::string reporter;  // reporter name
  std::string secret;    // HMAC key (text, used as raw bytes)
};

std::string_view verdict_name(Verdict v);  // "spam" / "not_spam"

}  // namespace strop::protocol
