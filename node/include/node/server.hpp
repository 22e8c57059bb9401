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
// Two roles. The API listener (create(): node.listen, TLS, SIGTERM/SIGINT/SIGHUP) serves the
// native API through Api::handle. The admin listener (create_admin(): admin.listen, plain
// HTTP, one thread, no signals) passes only GET /metrics, /healthz and the admin API (paths
// under /admin/, which the Api hands to admin_api.hpp) to the same Api; everything else is
// 404 there (except /ui/, the web console, when create_admin() is given one), and with an
// admin listener configured the API listener answers /metrics and
// /admin/ with 404. Both answer GET /readyz themselves: 200 {"status":"ready"} once
// set_ready(true) and until shutdown begins, else 503 (healthz, in the Api, says whether the
// process is alive).
//
// Threading: create() and run() from one thread (main); stop() from any thread. run()
// blocks until shutdown. Lifetime: the Api and NodeMetrics must outlive the Server; destroy
// the Server only after the Store's pending write callbacks have run (Store::flush()).
#pragma once

#include <functional>
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
  // The admin listener on config.admin.listen (which must be enabled). Errors as create().
  // `console`, when set, answers every path under /ui/ (the web console, console.hpp); the
  // request comes with its BrowserFields (handlers.hpp).
  static Result<std::unique_ptr<Server>> create_admin(const Config& config, Api& api,
                                                      NodeMetrics& metrics, UiHandler console = {});

  // What SIGHUP runs (API listener), on its first I/O thread. Set before run().
  void set_on_reload(std::function<void()> on_reload);
  // Reads tls.cert and tls.key again; new connections use them, open ones keep theirs.
  // Errors: kIo (unreadable or mismatched files; the old certificate stays), kInvalidArgument
  // (TLS switched on or off: that needs a restart).
  Result<void> reload_tls(const Config& config);
  // /readyz answers 200 from now on (until shutdown). Thread-safe.
  void set_ready(bool ready);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address, e.g. "127.0.0.1" and the actual port (useful with port 0).
  std::string local_host() const;
  unsigned short local_port() const;
  bool tls() const;

  // Serves until SIGTERM/SIGINT or stop(), then drains gracefully (see above).
  void run();
  // As run() on background threads (the admin listener); stop() ends it, join() waits.
  void start();
  void join();
  // Begins the graceful shutdown. Thread-safe.
  void stop();

 private:
  Server() = default;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace strop::node
