// server.hpp: strop-node's HTTP/1.1 (optionally TLS 1.2+) listener on Boost.Beast.
//
// The TCP skeleton (src/tcp_listener.hpp, shared with the Razor2 listener: one io_context
// per I/O thread, accept, connection registry, drain) runs the sessions: async read/write with
// per-operation deadlines on the lowest layer (a new connection's first request, TLS
// handshake included, must arrive within read_timeout of accept; later ones: idle wait for
// the first byte, then read_timeout for the whole request; write_timeout for the
// response), a bounded request parser (max_header_bytes, max_body_bytes), pre-sized read
// buffers, keep-alive, and connection fairness through a ConnGuard (conn_guard.hpp):
// max_connections, max_connections_per_address, reserved_connections for addresses not yet
// connected (a refused connection gets a canned 503 and is closed), and
// max_body_bytes_per_address for bodies being received (over it: 503 and close).
//
// HTTP framing follows RFC 9112: a Transfer-Encoding other than one final "chunked", a
// duplicated "chunked", Transfer-Encoding with Content-Length or in HTTP/1.0, and obs-fold
// header lines get 400 and the connection is closed (nothing after them is read as a
// request). Each complete request is handed to Api::handle on the connection's own
// strand; checks are answered inline, reports after the durable commit.
//
// Shutdown (SIGTERM/SIGINT or stop()): stop accepting, let in-flight requests finish and
// their responses be written (with Connection: close), close idle connections, then run()
// returns; after shutdown_timeout the remaining connections are cut.
//
// Threading: create() and run() from one thread (main); stop() from any thread. run()
// blocks until shutdown. Lifetime: the Api and NodeMetrics must outlive the Server; destroy
// the Server only after the Store's pending write callbacks have run (Store::flush()).
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "node/config.hpp"
#include "node/handlers.hpp"
#include "node/metrics.hpp"

namespace strop::node {

class Server {
 public:
  // Binds the listening socket (so the port is known before run()), prepares TLS and
  // registers the SIGTERM/SIGINT handlers (signals from then on start a graceful shutdown).
  // Errors: kInvalidArgument (bad listen address), kIo (bind/listen failed, unreadable
  // certificate or key).
  static Result<std::unique_ptr<Server>> create(const Config& config, Api& api,
                                                NodeMetrics& metrics);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address, e.g. "127.0.0.1" and the actual port (useful with port 0).
  std::string local_host() const;
  unsigned short local_port() const;
  bool tls() const;

  // Serves until SIGTERM/SIGINT or stop(), then drains gracefully (see above).
  void run();
  // Begins the graceful shutdown. Thread-safe.
  void stop();

 private:
  Server() = default;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace strop::node
