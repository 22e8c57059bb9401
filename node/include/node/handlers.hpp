// handlers.hpp: the native API's adapter as a function of plain values: an HttpRequest DTO
// in, an HttpResponse DTO out, no sockets (the Server in server.hpp does the HTTP I/O and
// calls Api::handle). Paths under /admin/ go to the admin API (admin_api.hpp). It routes, decodes
// the JSON request, asks the SignatureService (signature_service.hpp: authentication, rate limits,
// the Store, policy) and encodes the answer, mapping a ServiceError to an HTTP status and ApiErrc;
// per-request metrics are recorded here. Unit-tested without a network (handlers_test.cpp).
//
// Threading: Api::handle may be called from any number of threads at once. Checks, state,
// health and metrics complete on the calling thread before handle() returns; report and
// revoke complete on the Store's writer thread after the durable commit; register runs on
// the `offload` executor (it waits for a commit). `done` is called exactly once.
// Lifetime: the SignatureService must outlive the Api; the string_views in an
// HttpRequest must stay valid until its `done` has been called.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/metrics.hpp"
#include "node/signature_service.hpp"
#include "protocol/errors.hpp"
#include "protocol/signing.hpp"

namespace strop::node {

struct HttpRequest {
  std::string_view method;  // as received, e.g. "POST"
  std::string_view target;  // request target as received, e.g. "/v1/check"
  std::string_view body;
  protocol::AuthHeaders auth;  // X-Strop-* header values ("" when absent)
  std::string_view client_ip;  // peer address, for per-IP rate limits
  std::string peer;            // X-Strop-Peer: a federation peer's pull ("" when absent)
  bool accept_gzip = false;    // Accept-Encoding accepts gzip (protocol::accepts_gzip)
};

// The header fields the web console reads (console.hpp), read on the admin listener only and
// passed beside the HttpRequest ("" when absent).
struct BrowserFields {
  std::string cookie;         // Cookie
  std::string csrf_token;     // X-CSRF-Token
  std::string if_none_match;  // If-None-Match
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;             // "Allow" header for 405
  int retry_after = 0;           // "Retry-After" seconds for 429/503; 0 = none
  bool close = false;            // ask the server to close the connection after this response
  int api_error = 0;             // the ApiErrc value of an error response (metrics label); 0 = ok
  std::string signature;         // "X-Strop-Signature" of a feed response (docs/federation.md)
  std::string content_encoding;  // "Content-Encoding" of the body ("" = none)
  // More header fields (the web console's Set-Cookie, ETag, Cache-Control, security headers).
  std::vector<std::pair<std::string, std::string>> headers;
};

using Done = std::function<void(HttpResponse)>;
// Answers the web console's requests (paths /ui and /ui/...).
using UiHandler = std::function<void(const HttpRequest&, const BrowserFields&, Done)>;

class Api {
 public:
  // The service decides; the Api decodes, routes and encodes.
  explicit Api(SignatureService& service);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  void handle(const HttpRequest& req, Done done);

  // While draining (SIGTERM received) /healthz answers 503 and responses ask to close.
  void set_draining(bool draining) { draining_.store(draining, std::memory_order_relaxed); }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  // An error response with the JSON error body (also used by the server for HTTP-level
  // errors such as an oversized header).
  static HttpResponse error_response(protocol::ApiErrc code, std::string message);
  // The error response of a service refusal (status, ApiErrc, Retry-After).
  static HttpResponse error_response(const ServiceError& e);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
};

}  // namespace strop::node
