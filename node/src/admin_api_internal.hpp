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
};

// Whether `a` is one of the reporter routes.
inline bool reporter_action(Action a) { return a >= Action::kReporterShow; }

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
