// signing.hpp: the request-signing scheme shared by clients (the agent) and the node.
//
// A signed request carries four header fields:
//   X-Strop-Reporter:  the reporter name
//   X-Strop-Timestamp: Unix time in seconds, decimal ASCII (e.g. "1767225600")
//   X-Strop-Nonce:     16..64 characters of [A-Za-z0-9_-], fresh for every request
//   X-Strop-Signature: lowercase hex HMAC-SHA256(secret, canonical string), 64 characters
// where the canonical string is five lines joined by '\n' (no trailing newline):
//   STROP-HMAC-SHA256
//   <METHOD, upper case, e.g. POST>
//   <request target exactly as sent in the request line, e.g. /v1/report>
//   <timestamp, as in the header>
//   <nonce, as in the header>
//   <lowercase hex SHA-256 of the body bytes (of the empty string when there is none)>
// and the HMAC key is the reporter's secret taken as raw bytes (the text as issued).
// The node accepts a request when the timestamp is within +-window of its clock, the
// signature verifies, and the nonce was not seen within the window (the replay cache is the
// node's business, not this module's). docs/protocol.md has a worked example.
//
// Thread-safety: all functions are pure and thread-safe, except make_nonce/make_secret,
// which read OpenSSL's CSPRNG (also thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strop::protocol {

inline constexpr std::string_view kHeaderReporter = "X-Strop-Reporter";
inline constexpr std::string_view kHeaderTimestamp = "X-Strop-Timestamp";
inline constexpr std::string_view kHeaderNonce = "X-Strop-Nonce";
inline constexpr std::string_view kHeaderSignature = "X-Strop-Signature";
inline constexpr std::string_view kSigningScheme = "STROP-HMAC-SHA256";
// Federation: a peer pulling a feed signs with the peering secret under its own scheme (the
// canonical string's first line), so a peer's MAC is never a valid reporter request and the
// reverse; it names itself in X-Strop-Peer instead of X-Strop-Reporter (docs/federation.md).
inline constexpr std::string_view kPeerSigningScheme = "STROP-PEER-HMAC-SHA256";
inline constexpr std::string_view kHeaderPeer = "X-Strop-Peer";

// Default accepted clock skew, seconds (either direction).
inline constexpr std::int64_t kDefaultSigningWindowSeconds = 300;
inline constexpr std::size_t kMinNonceLength = 16;
inline constexpr std::size_t kMaxNonceLength = 64;

// The four header values of a signed request.
struct AuthHeaders {
  std::string reporter;
  std::string timestamp;
  std::string nonce;
  std::string signature;
};

// The canonical string that is MAC'd (exposed for tests and reimplementations).
// `scheme` is its first line: kSigningScheme, or kPeerSigningScheme for a peer's pull.
std::string canonical_request(std::string_view method, std::string_view target,
                              std::string_view timestamp, std::string_view nonce,
                              std::string_view body, std::string_view scheme = kSigningScheme);

// Signs one request. `unix_time` is the client's clock in seconds; `nonce` must be fresh
// (make_nonce()). REQUIRES: nonce is 16..64 characters of [A-Za-z0-9_-].
AuthHeaders sign_request(std::string_view reporter, std::string_view secret,
                         std::string_view method, std::string_view target, std::string_view body,
                         std::int64_t unix_time, std::string_view nonce,
                         std::string_view scheme = kSigningScheme);

// A fresh random nonce: 32 lowercase hex characters (128 bits from the CSPRNG).
std::string make_nonce();
// A fresh reporter secret: 43 characters of base64url (256 bits from the CSPRNG).
std::string make_secret();

enum class AuthStatus : std::uint8_t {
  kOk = 0,
  kMalformed = 1,     // a header is missing or badly formed (timestamp, nonce, hex)
  kStale = 2,         // timestamp outside [now - window, now + window]
  kBadSignature = 3,  // the HMAC does not match
};

// Verifies headers `h` of a request against the reporter's `secret`, the node's clock
// `now` (Unix seconds) and the accepted skew `window_seconds`. Checks, in order: header
// syntax, time window, HMAC (constant-time comparison). Does not look at the nonce cache.
AuthStatus verify_request(const AuthHeaders& h, std::string_view secret, std::string_view method,
                          std::string_view target, std::string_view body, std::int64_t now,
                          std::int64_t window_seconds = kDefaultSigningWindowSeconds,
                          std::string_view scheme = kSigningScheme);

// true when `nonce` is 16..64 characters of [A-Za-z0-9_-].
bool valid_nonce(std::string_view nonce);

}  // namespace strop::protocol
