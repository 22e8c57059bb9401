// http_transport.hpp (private to strop_agent): HTTP/1.1 exchanges with one node over a
// keep-alive connection pool, every step bounded by a deadline.
//
// The calling thread does all the work of an exchange, and there is no background thread:
// a plain-HTTP connection is a non-blocking socket driven with send, ppoll and recv up to
// the deadline (no event loop, no timer: one check costs about three system calls beyond the
// round trip); an https connection owns a private io_context that the caller drives only
// for the duration of one operation (async Beast operations whose tcp_stream expiry is the
// deadline). Either way no call outlives its deadline. Name resolution runs getaddrinfo on
// a detached helper thread that the caller abandons at the deadline. A connection is used by
// one thread at a time: it is taken out of the pool for the exchange and put back afterwards
// when the server kept it alive.
//
// Thread-safety: NodeTransport is safe for concurrent use (pool and resolver cache under a
// mutex). TlsContext is immutable after creation and shared by all transports of a Client.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/node_url.hpp"
#include "base/result.hpp"
#include "strop/version.hpp"

namespace strop::agent::detail {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

struct HttpRequest {
  std::string method = "GET";  // "GET" or "POST"
  std::string target;          // as sent in the request line: node base path + "/v1/check"
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields
  // Called before every attempt (a stale keep-alive connection causes a second one) to add
  // fields that must be fresh each time, such as a signature with a new nonce. Optional.
  std::function<void(std::vector<std::pair<std::string, std::string>>*)> fresh_headers;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // Retry-After field, if any
};

struct TransportOptions {
  std::size_t max_idle_connections = 4;                // Default: 4 idle connections per node
  std::chrono::milliseconds idle_timeout{30000};       // Default: 30 s; older idle ones are closed
  std::size_t max_response_bytes = 16u << 20;          // Default: 16 MiB response body
  std::size_t max_response_header_bytes = 16u << 10;   // Default: 16 KiB response header
  std::chrono::milliseconds resolve_cache_ttl{60000};  // Default: 60 s
  std::string user_agent = "strop-agent/" + std::string(kVersion);
};

// The client-side TLS configuration: TLS 1.2+, peer verification against the system store
// or `ca_file`, host name checked against the certificate.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(const std::string& ca_file, bool verify);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  void* native() const;  // boost::asio::ssl::context*
  bool verify() const { return verify_; }

 private:
  TlsContext() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool verify_ = true;
};

class NodeTransport {
 public:
  // REQUIRES: tls != nullptr when url.tls.
  NodeTransport(NodeUrl url, TransportOptions options, std::shared_ptr<TlsContext> tls);
  ~NodeTransport();
  NodeTransport(const NodeTransport&) = delete;
  NodeTransport& operator=(const NodeTransport&) = delete;

  // Sends `request` and returns the response, whatever its status. Errors: kTimeout when
  // `deadline` passed, kUnavailable when the node could not be reached (refused, reset, TLS
  // failure), kLimitExceeded when the response is larger than the limits, kMalformed when
  // it is not HTTP. A request that fails on a reused idle connection before any response
  // byte arrived is retried once on a fresh connection (the server may have closed it).
  Result<HttpResponse> exchange(const HttpRequest& request, Deadline deadline);

  const NodeUrl& url() const { return url_; }
  std::size_t idle_count() const;

 private:
  struct State;
  const NodeUrl url_;
  const TransportOptions options_;
  const std::shared_ptr<TlsContext> tls_;
  const std::unique_ptr<State> state_;  // pool and resolver cache, under its own mutex
};

}  // namespace strop::agent::detail
