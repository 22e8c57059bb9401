// limits.hpp: the named limits of the native API, with their defaults, and its version.
//
// Every decoder of untrusted bytes in protocol/ takes a Limits and reports a limit hit as a
// clean Error (Errc::kLimitExceeded), never a crash. The node publishes its effective
// limits in GET /v1/state so clients can split large batches. Defaults are declared here
// and only here; the node's config refers to these values.
// Thread-safety: plain values and constants.
#pragma once

#include <cstddef>
#include <string_view>

namespace strop::protocol {

// The native API version: every path is under "/v1", every JSON body carries "v": 1.
inline constexpr int kApiVersion = 1;
inline constexpr std::string_view kApiPrefix = "/v1";

// Endpoint paths (docs/protocol.md).
inline constexpr std::string_view kPathCheck = "/v1/check";         // POST
inline constexpr std::string_view kPathReport = "/v1/report";       // POST, signed
inline constexpr std::string_view kPathRevoke = "/v1/revoke";       // POST, signed
inline constexpr std::string_view kPathRegister = "/v1/register";   // POST, optionally signed
inline constexpr std::string_view kPathState = "/v1/state";         // GET
inline constexpr std::string_view kPathHealth = "/healthz";         // GET
inline constexpr std::string_view kPathMetrics = "/metrics";        // GET
inline constexpr std::string_view kPathPeerFeed = "/v1/peer/feed";  // GET, signed by a peer

// The default TCP port of the native API.
inline constexpr unsigned short kDefaultPort = 7420;

struct Limits {
  // Request body size in bytes. Default: 1 MiB.
  std::size_t max_body_bytes = 1u << 20;
  // Messages in one check/report/revoke request. Default: 1000.
  std::size_t max_messages = 1000;
  // Signatures per message. Default: 256.
  std::size_t max_sigs_per_message = 256;
  // Length of one signature's text form "engine:value". Default: 512 (fuzzy/1 is 264).
  std::size_t max_signature_length = 512;
  // Length of a client-chosen message id (echoed in the response). Default: 128.
  std::size_t max_message_id_length = 128;
  // Nesting depth of JSON containers (objects + arrays). Default: 16.
  std::size_t max_json_depth = 16;
};

// Reporter names: 1..kMaxReporterNameLength characters of [A-Za-z0-9._@+-], not starting
// with '.' or '-'.
inline constexpr std::size_t kMaxReporterNameLength = 64;
bool valid_reporter_name(std::string_view name);

}  // namespace strop::protocol
