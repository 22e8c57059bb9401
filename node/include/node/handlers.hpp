// handlers.hpp: the native API's request handling as a function of plain values: an
// HttpRequest DTO in, an HttpResponse DTO out, no sockets (the Server in server.hpp does the
// HTTP I/O and calls Api::handle). Routing, authentication (signing.hpp + nonce replay
// cache), rate limits, decoding, the Store calls, encoding and metrics all live here, so
// they are unit-tested without a network.
//
// Threading: Api::handle may be called from any number of threads at once. Checks, state,
// health and metrics complete on the calling thread before handle() returns; report and
// revoke complete on the Store's writer thread after the durable commit; register runs on
// the `offload` executor (it waits for a commit). `done` is called exactly once.
// Lifetime: the Store and NodeMetrics must outlive the Api; the string_views in an
// HttpRequest must stay valid until its `done` has been called.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "node/config.hpp"
#include "node/limiter.hpp"
#include "node/metrics.hpp"
#include "protocol/errors.hpp"
#include "protocol/limits.hpp"
#include "protocol/signing.hpp"
#include "storage/store.hpp"

namespace strop::node {

struct HttpRequest {
  std::string_view method;     // as received, e.g. "POST"
  std::string_view target;     // request target as received, e.g. "/v1/check"
  std::string_view body;
  protocol::AuthHeaders auth;  // X-Strop-* header values ("" when absent)
  std::string_view client_ip;  // peer address, for per-IP rate limits
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;     // "Allow" header for 405
  int retry_after = 0;   // "Retry-After" seconds for 429/503; 0 = none
  bool close = false;    // ask the server to close the connection after this response
  int api_error = 0;     // the ApiErrc value of an error response (metrics label); 0 = ok
};

using Done = std::function<void(HttpResponse)>;

struct ApiOptions {
  bool anonymous_check = true;
  bool open_registration = true;
  std::int64_t signing_window_seconds = protocol::kDefaultSigningWindowSeconds;
  std::size_t nonce_cache_entries = 1'000'000;
  std::size_t nonce_cache_per_reporter = 100'000;
  // The store's deciding engines: a reported message without one is answered listable=false.
  sigs::EngineMask verdict_engines = storage::kDefaultVerdictEngines;
  protocol::Limits limits;
  RateLimit ip_limit;
  RateLimit reporter_limit;
  RateLimit register_limit;
  std::size_t rate_limit_entries = 100'000;
  int threshold = 50;  // reported in /v1/state; the Store decides verdicts
};
// The Api's options from the node configuration.
ApiOptions api_options(const Config& c);

struct Clocks {
  std::function<std::int64_t()> unix_seconds;  // wall clock (signing window). Default: system
  std::function<std::int64_t()> mono_ns;       // monotonic (rate limits, latency). Default: steady
};

// Runs a blocking job (reporter registration waits for a commit) off the I/O threads.
using Offload = std::function<void(std::function<void()>)>;

class Api {
 public:
  // `offload` defaults to running the job inline.
  Api(storage::Store& store, ApiOptions options, NodeMetrics& metrics, Clocks clocks = {},
      Offload offload = {});
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
};

}  // namespace strop::node
