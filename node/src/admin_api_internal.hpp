// admin_api_internal.hpp (private to strop-node, for admin_api.cpp, its tests and the
// admin_path_fuzz target): the admin API's parsing of a request path, which runs on
// untrusted bytes before the request is authenticated (the route) and after (the signature
// ID or reporter name, the query of GET /admin/reporters, the body of a trust change).
//
// Thread-safety: pure functions. Lifetime: a Route's string_views point into the path given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "node/signature_service.hpp"
#include "sigs/signature.hpp"
#include "storage/federation.hpp"

namespace strop::node::admin_internal {

inline constexpr std::string_view kSigPrefix = "/admin/sig/";
// Longest ID accepted in a path: the engine name, ':' and the store's longest value, with
// room for percent-encoding.
inline constexpr std::size_t kMaxIdChars = 4096;

inline constexpr std::string_view kReporterPrefix = "/admin/reporter/";
inline constexpr std::string_view kReportersPath = "/admin/reporters";
// Longest reporter name accepted in a path: 64 bytes (storage::kMaxReporterName), each
// percent-encoded.
inline constexpr std::size_t kMaxNameChars = 3 * 64;
// Longest query of GET /admin/reporters. Default: 512.
inline constexpr std::size_t kMaxQueryChars = 512;
// Reporters in one page of GET /admin/reporters: the default and the most a `limit` gets.
inline constexpr std::size_t kDefaultReporterPage = 100;
inline constexpr std::size_t kMaxReporterPage = 1000;
// Longest body of POST /admin/reporter/NAME/trust. Default: 256.
inline constexpr std::size_t kMaxTrustBody = 256;
// Federation peers (docs/federation.md "Peers").
inline constexpr std::string_view kPeerPrefix = "/admin/peer/";
inline constexpr std::string_view kPeersPath = "/admin/peers";
// Longest body of POST /admin/peers: a url of 512 bytes and a secret of 128, escaped. Default:
// 2048.
inline constexpr std::size_t kMaxPeerBody = 2048;
// A peering secret, bytes (as `strop-node peer add --secret-file`).
inline constexpr std::size_t kMinPeerSecret = 16;
inline constexpr std::size_t kMaxPeerSecret = 128;

enum class Action : std::uint8_t {
  kShow,
  kDelete,
  kAllow,
  kUnallow,
  kReporterShow,     // GET  /admin/reporter/NAME
  kReporterList,     // GET  /admin/reporters
  kReporterTrust,    // POST /admin/reporter/NAME/trust
  kReporterDisable,  // POST /admin/reporter/NAME/disable
  kReporterEnable,   // POST /admin/reporter/NAME/enable
  kPeerShow,         // GET    /admin/peer/NAME
  kPeerList,         // GET    /admin/peers
  kPeerAdd,          // POST   /admin/peers
  kPeerTrust,        // POST   /admin/peer/NAME/trust
  kPeerDisable,      // POST   /admin/peer/NAME/disable
  kPeerEnable,       // POST   /admin/peer/NAME/enable
  kPeerRemove,       // DELETE /admin/peer/NAME
};

// Whether `a` is one of the reporter routes.
inline bool reporter_action(Action a) {
  return a >= Action::kReporterShow && a <= Action::kReporterEnable;
}
// Whether `a` is one of the peer routes.
inline bool peer_action(Action a) { return a >= Action::kPeerShow; }

struct Route {
  Action action = Action::kShow;
  // Still percent-encoded: the signature ID (never empty) or the reporter name (never empty
  // but for kReporterList, which has none).
  std::string_view id;
  std::string_view method;  // the one method the route takes
};

// The route of a path (without its query) under /admin/; nullopt when there is none. The ID
// may hold '/' (the engine names do: "body/1:..."), so the action is a known last segment.
std::optional<Route> route_of(std::string_view path, std::string_view method);

// The reporter name a route names: at most kMaxNameChars (kLimitExceeded), percent-decoded
// strictly (kMalformed), 1..64 bytes of [A-Za-z0-9._@+-] (kMalformed).
Result<std::string> parse_name(std::string_view id);

// GET /admin/reporters?limit=N&after=NAME: the page asked for. Other keys are ignored;
// `limit` is 1..kMaxReporterPage (a larger one is cut to it; default kDefaultReporterPage),
// `after` is percent-decoded (default "", the first page). Errors: kLimitExceeded (query over
// kMaxQueryChars), kMalformed (a limit that is not a positive number, a bad escape).
struct ReporterPage {
  std::size_t limit = kDefaultReporterPage;
  std::string after;
};
Result<ReporterPage> parse_reporter_query(std::string_view query);

// The body of POST /admin/reporter/NAME/trust: {"trust":0.7} and optionally "pinned":false
// (default true). Errors: kLimitExceeded (over kMaxTrustBody), kMalformed (not a JSON object,
// trust missing or not a number, pinned not a boolean); the range is the service's check.
struct TrustChange {
  double trust = 0;
  bool pinned = true;
};
Result<TrustChange> parse_trust_body(std::string_view body);
// The body of POST /admin/peers: {"name":"site","url":"http://...","secret":"...","trust":0.3}
// (trust optional, default 0.3; the secret kMinPeerSecret..kMaxPeerSecret bytes, the same on
// both sides). Errors: kLimitExceeded (over kMaxPeerBody), kMalformed (not a JSON object, a
// field missing or of the wrong type, a secret out of bounds); name, url and trust ranges are
// the store's checks.
Result<storage::PeerSpec> parse_peer_body(std::string_view body);

// The writes of the admin routes, shared by every operator front end (the admin API, the web
// console), logged with `actor`; synchronous (run them on the service's offload executor).
// write_signature: kDelete, kAllow or kUnallow of `s`; true when it was deleted or changed.
ServiceResult<bool> write_signature(SignatureService& service, Action action,
                                    std::string_view actor, const sigs::Signature& s);
// write_reporter: kReporterTrust, kReporterDisable or kReporterEnable of `name`; the reporter
// as changed.
ServiceResult<storage::Reporter> write_reporter(SignatureService& service, Action action,
                                                std::string_view actor, const std::string& name,
                                                TrustChange trust);

// The signature a route's ID names: at most kMaxIdChars (kLimitExceeded), percent-decoded
// strictly (a stray '%' is kMalformed), then sigs::parse_signature (kMalformed).
Result<sigs::Signature> parse_id(std::string_view id);

}  // namespace strop::node::admin_internal
