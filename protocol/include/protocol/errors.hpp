// errors.hpp: the native API's stable error codes and their HTTP status.
//
// Every non-2xx response of the node carries a JSON body {"v":1,"error":{"code":"...",
// "message":"..."}} (see codec.hpp). The code strings are a contract: clients switch on them,
// so they are never renamed or reused; new ones are appended. The message is for humans and
// may change. Thread-safety: pure functions over constants.
#pragma once

#include <optional>
#include <string_view>

#include "base/result.hpp"

namespace strop::protocol {

enum class ApiErrc : int {
  kMalformed = 1,           // 400 the body or a header does not parse
  kInvalid = 2,             // 400 parses, but a value is unusable (bad signature text, name)
  kUnsupportedVersion = 3,  // 400 "v" is not a version this node speaks
  kAuthRequired = 4,        // 401 the endpoint needs a signed request
  kBadSignature = 5,        // 401 HMAC does not verify (or unknown reporter)
  kStaleRequest = 6,        // 401 timestamp outside the node's window
  kReplayedNonce = 7,       // 401 the nonce was already used within the window
  kForbidden = 8,           // 403 authenticated, but not allowed (disabled, not admin)
  kRegistrationClosed = 9,  // 403 open registration is switched off
  kNotFound = 10,           // 404 no such endpoint
  kMethodNotAllowed = 11,   // 405 the endpoint exists, the method does not
  kNameTaken = 12,          // 409 register: the reporter name exists
  kTooLarge = 13,           // 413 body or header larger than the node's limit
  kLimitExceeded = 14,      // 413 too many messages/signatures, or a value too long
  kRateLimited = 15,        // 429 per-reporter or per-client-IP budget spent (Retry-After)
  kInternal = 16,           // 500 a bug or an unexpected storage failure
  kOverloaded = 17,         // 503 connection limit, writer queue full, shutting down
  kTimeout = 18,            // 408 the request was not received in time
};

// The stable code string, e.g. "bad_signature".
std::string_view api_errc_name(ApiErrc code);
// Inverse of api_errc_name; nullopt for an unknown string (clients should treat an unknown
// code by its HTTP status).
std::optional<ApiErrc> api_errc_from_name(std::string_view name);
// The HTTP status a node answers with for `code`.
int http_status(ApiErrc code);

// The ApiErrc a library Error maps to when it escapes into a response (kMalformed ->
// kMalformed, kLimitExceeded -> kLimitExceeded, kInvalidArgument -> kInvalid, ...).
ApiErrc api_errc_from(Errc code);
// The library Errc a client should see for an API error (kRateLimited -> Errc::kRateLimited,
// kOverloaded -> Errc::kUnavailable, auth errors -> kUnauthorized/kForbidden, ...).
Errc errc_from(ApiErrc code);

}  // namespace strop::protocol
