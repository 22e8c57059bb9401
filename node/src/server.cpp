// server.cpp: Beast sessions (plain and TLS), the acceptor and the graceful shutdown.
// Asio/Beast are compiled once in asio_impl.cpp (separate compilation).
#include "node/server.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "base/mutex.hpp"
#include "base/thread_annotations.hpp"
#include "http_framing.hpp"
#include "node/conn_guard.hpp"
#include "node_common.hpp"
#include "protocol/feed.hpp"
#include "protocol/signing.hpp"
#include "tcp_listener.hpp"

namespace strop::node {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using protocol::ApiErrc;

namespace {

// Read buffer capacity per connection: a whole typical request in one read (Beast's
// default growth would read in 512-byte steps).
constexpr std::size_t kReadBufferBytes = 16 * 1024;
// Lingering close: most bytes read and discarded after the final response.
constexpr std::size_t kLingerMaxBytes = 4 * 1024 * 1024;

// Everything a session needs after the Server object may be gone (held by shared_ptr).
struct SharedState {
  Api* api = nullptr;
  NodeMetrics* metrics = nullptr;
  Config config;
  bool admin = false;  // the admin listener (server.hpp)
  // The web console's handler for /ui/ on the admin listener (unset: none).
  UiHandler console;
  bool admin_elsewhere = false;    // API listener with an admin listener: no /metrics, /admin/
  bool tls_on = false;             // constant after create()
  std::atomic<bool> ready{false};  // /readyz
  // The listener's open connections and admission guard (tcp_listener.hpp).
  std::shared_ptr<ConnectionRegistry> registry;
  bool stopping() const { return registry->stopping(); }

  // The TLS context for new connections (null: plain HTTP); reload_tls() replaces it.
  std::shared_ptr<ssl::context> tls() const EXCLUDES(tls_mu) {
    MutexLock lock(&tls_mu);
    return tls_ctx;
  }
  void set_tls(std::shared_ptr<ssl::context> ctx) EXCLUDES(tls_mu) {
    MutexLock lock(&tls_mu);
    tls_ctx = std::move(ctx);
  }
  mutable Mutex tls_mu;
  std::shared_ptr<ssl::context> tls_ctx GUARDED_BY(tls_mu);
};

// The request path without its query.
std::string_view path_of(std::string_view target) {
  return target.substr(0, std::min(target.find('?'), target.size()));
}

// One connection. Its timeouts (read_timeout from accept for the first request and from the
// first byte of every later one, idle_timeout between requests, write_timeout per response,
// 2 s for a closing handshake or lingering close) are one deadline per connection, kept in
// deadline_ and enforced by one steady_timer that is checked lazily: setting a deadline only
// stores it, and the timer, which never waits longer than the shortest configured timeout,
// re-arms itself for the current deadline when it fires early. A keep-alive request
// therefore arms no timer at all (Beast's tcp_stream expiry armed and cancelled one per read
// and per write: a timerfd_settime each, docs/performance.md); the stream's own expiry is
// never set. At the deadline the timer closes the connection, which ends the pending read or
// write with operation_aborted. All of it runs on the connection's strand.
template <class Stream>
class Session : public ListenerConnection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  using SteadyClock = std::chrono::steady_clock;

  Session(tcp::socket&& socket, std::shared_ptr<SharedState> st, ConnGuard::Slot slot,
          std::shared_ptr<ssl::context> tls)
      : st_(std::move(st)),
        slot_(std::move(slot)),
        tls_(std::move(tls)),
        stream_(make_stream(std::move(socket), tls_.get())),
        timer_(stream_.get_executor()),
        check_every_(std::max(std::chrono::milliseconds(1),
                              std::min({st_->config.read_timeout, st_->config.write_timeout,
                                        st_->config.idle_timeout}))),
        first_deadline_(SteadyClock::now() + st_->config.read_timeout) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) client_ip_ = ep.address().to_string();
    buffer_.reserve(kReadBufferBytes);
    st_->metrics->connections_active.add(1);
  }

  ~Session() override {
    st_->registry->remove(this);
    st_->metrics->connections_active.add(-1);
  }

  void start() {
    st_->registry->add(this, this->weak_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->on_start(); });
  }

  void shutdown_if_idle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) self->close_now();
    });
  }

 private:
  static Stream make_stream(tcp::socket&& socket, ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      (void)tls;
      return Stream(std::move(socket));
    }
  }

  auto& lowest() { return beast::get_lowest_layer(stream_); }

  void on_start() {
    set_deadline(first_deadline_);
    if constexpr (kTls) {
      stream_.async_handshake(
          ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) {
              logger()->debug("TLS handshake with {} failed: {}", self->client_ip_, ec.message());
              return self->close_now();
            }
            self->do_read();
          });
    } else {
      do_read();
    }
  }

  // Waits (idle_timeout) for the first byte of the next request, unless the buffer already
  // holds some (pipelining), then reads the whole request under read_timeout. A new
  // connection's first request has read_timeout from accept for all of it: a silent peer
  // gives its slot back as fast as a slow one.
  void do_read() {
    if (st_->stopping() || closed_) return close_now();
    if (buffer_.size() > 0) return read_request();
    set_deadline(served_ == 0 ? first_deadline_ : SteadyClock::now() + st_->config.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadBufferBytes),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->close_now();
                              self->buffer_.commit(n);
                              self->read_request();
                            });
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(st_->config.max_header_bytes));
    parser_->body_limit(st_->config.limits.max_body_bytes);
    set_deadline(served_ == 0 ? first_deadline_ : SteadyClock::now() + st_->config.read_timeout);
    parse_header();
  }

  // Feeds the buffered bytes to the parser until it has the whole header (the parser
  // enforces max_header_bytes), reading more as needed; the raw bytes are checked for
  // obs-fold before each attempt, because the parser would accept it.
  void parse_header() {
    auto bytes = buffer_.data();
    if (has_obs_fold(std::string_view(static_cast<const char*>(bytes.data()), bytes.size()))) {
      st_->metrics->bad_requests.add();
      return reply_error(ApiErrc::kMalformed,
                         "bad HTTP request: obsolete line folding (obs-fold) in the header");
    }
    beast::error_code ec;
    std::size_t used = parser_->put(bytes, ec);
    buffer_.consume(used);
    if (ec != http::error::need_more) return on_header(ec);
    stream_.async_read_some(
        buffer_.prepare(kReadBufferBytes),
        [self = this->shared_from_this()](beast::error_code rec, std::size_t n) {
          if (rec == net::error::eof) return self->close_now();
          if (rec) return self->on_read(rec);
          self->buffer_.commit(n);
          self->parse_header();
        });
  }

  // After the header: check the framing (RFC 9112 §6), charge the body to the client
  // address's budget, answer "Expect: 100-continue" (curl sends it for bodies over 1 KiB
  // and would otherwise stall a second), then read the body under the same deadline.
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    auto& req = parser_->get();
    if (auto why = framing_error(req); !why.empty()) {
      st_->metrics->bad_requests.add();
      return reply_error(ApiErrc::kMalformed, "bad HTTP request: " + why);
    }
    if (parser_->is_done()) return on_read(ec);
    // The body reader reserves the declared length at once; a chunked body may grow to
    // max_body_bytes.
    auto declared = parser_->content_length();
    std::size_t body =
        declared ? static_cast<std::size_t>(*declared) : st_->config.limits.max_body_bytes;
    if (!slot_.hold(body)) {
      st_->metrics->connections_rejected.add();
      return reply_error(ApiErrc::kOverloaded,
                         "too many unfinished request bodies from this address, retry later");
    }
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(k100.data(), k100.size()),
                       [self = this->shared_from_this()](beast::error_code wec, std::size_t) {
                         if (wec) return self->close_now();
                         self->read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    // The body usually arrived with the header: parse it from the buffer, without the read
    // operation and the posted completion of http::async_read.
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return on_read(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return on_read({});
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // closed_: the deadline passed (a slow or stalled request, slowloris) or shutdown.
      if (closed_ || ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
          ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated) {
        return close_now();
      }
      st_->metrics->bad_requests.add();
      if (ec == http::error::body_limit) {
        return reply_error(
            ApiErrc::kTooLarge,
            "body larger than " + std::to_string(st_->config.limits.max_body_bytes) + " bytes");
      }
      if (ec == http::error::header_limit) {
        return reply_error(
            ApiErrc::kTooLarge,
            "header larger than " + std::to_string(st_->config.max_header_bytes) + " bytes");
      }
      if (ec == http::error::partial_message) return close_now();
      return reply_error(ApiErrc::kMalformed, "bad HTTP request: " + ec.message());
    }
    handle();
  }

  // An HTTP-level error: respond and close (the stream state is unknown).
  void reply_error(ApiErrc code, std::string message) {
    busy_ = true;
    keep_alive_ = false;
    st_->metrics->record(Op::kOther, result_index(code), std::chrono::nanoseconds(0));
    write(Api::error_response(code, std::move(message)));
  }

  void handle() {
    busy_ = true;
    ++served_;
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    // No deadline while the request is handled (a report may wait for a commit).
    set_deadline(SteadyClock::time_point::max());
    req_.method = std::string_view(req.method_string().data(), req.method_string().size());
    req_.target = std::string_view(req.target().data(), req.target().size());
    req_.body = req.body();
    req_.client_ip = client_ip_;
    auto field = [&](std::string_view name) {
      auto it = req.find(beast::string_view(name.data(), name.size()));
      return it == req.end() ? std::string() : std::string(it->value().data(), it->value().size());
    };
    if (req.count(beast::string_view(protocol::kHeaderReporter.data(),
                                     protocol::kHeaderReporter.size())) ||
        req.count(beast::string_view(protocol::kHeaderSignature.data(),
                                     protocol::kHeaderSignature.size()))) {
      req_.auth.reporter = field(protocol::kHeaderReporter);
      req_.auth.timestamp = field(protocol::kHeaderTimestamp);
      req_.auth.nonce = field(protocol::kHeaderNonce);
      req_.auth.signature = field(protocol::kHeaderSignature);
    } else {
      req_.auth = {};
    }
    req_.peer = field(protocol::kHeaderPeer);
    auto accept = req.find(http::field::accept_encoding);
    req_.accept_gzip = accept != req.end() && protocol::accepts_gzip(std::string_view(
                                                  accept->value().data(), accept->value().size()));
    // Keep the io_context alive while a response is pending on another thread.
    auto work = net::prefer(stream_.get_executor(), net::execution::outstanding_work.tracked);
    Done done = [self = this->shared_from_this(), work](HttpResponse r) {
      net::dispatch(self->stream_.get_executor(),
                    [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    };
    // The Api serves /metrics, /healthz and the admin API (/admin/, admin_api.hpp) itself;
    // which of its paths each listener offers is decided here.
    std::string_view path = path_of(req_.target);
    const bool internal = path == "/metrics" || path.starts_with("/admin/");
    if (path == "/readyz") return done(readyz());
    if (st_->admin && st_->console && (path == "/ui" || path.starts_with("/ui/"))) {
      ui_.cookie = field("Cookie");
      ui_.csrf_token = field("X-CSRF-Token");
      ui_.if_none_match = field("If-None-Match");
      return st_->console(req_, ui_, std::move(done));
    }
    if (st_->admin ? !(internal || path == "/healthz") : (st_->admin_elsewhere && internal)) {
      return done(not_found());
    }
    st_->api->handle(req_, std::move(done));
  }

  // GET /readyz: serving (store open, listeners bound) and not draining.
  HttpResponse readyz() const {
    st_->metrics->record(Op::kHealth, 0, std::chrono::nanoseconds(0));
    if (st_->ready.load(std::memory_order_relaxed) && !st_->stopping() && !st_->api->draining()) {
      HttpResponse r;
      r.body = R"({"v":1,"status":"ready"})";
      return r;
    }
    auto r =
        Api::error_response(ApiErrc::kOverloaded,
                            st_->stopping() || st_->api->draining() ? "shutting down" : "starting");
    r.retry_after = 1;
    return r;
  }

  HttpResponse not_found() const {
    st_->metrics->record(Op::kOther, result_index(ApiErrc::kNotFound), std::chrono::nanoseconds(0));
    return Api::error_response(ApiErrc::kNotFound, st_->admin
                                                       ? "no such endpoint on the admin listener"
                                                       : "no such endpoint on this listener");
  }

  void write(HttpResponse r) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::content_type, r.content_type);
    if (!r.allow.empty()) res_.set(http::field::allow, r.allow);
    for (const auto& [name, value] : r.headers) res_.insert(name, value);
    if (r.retry_after > 0) res_.set(http::field::retry_after, std::to_string(r.retry_after));
    if (!r.signature.empty()) {
      res_.set(
          beast::string_view(protocol::kHeaderSignature.data(), protocol::kHeaderSignature.size()),
          r.signature);
    }
    if (!r.content_encoding.empty()) res_.set(http::field::content_encoding, r.content_encoding);
    std::size_t max_req = st_->config.max_requests_per_connection;
    bool keep = keep_alive_ && !r.close && !st_->stopping() && (max_req == 0 || served_ < max_req);
    res_.keep_alive(keep);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    set_deadline(SteadyClock::now() + st_->config.write_timeout);
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(beast::error_code ec) {
    busy_ = false;
    // The request and its body are done with: free them and the address's budget.
    parser_.reset();
    (void)slot_.hold(0);
    if (ec) return close_now();
    if (!res_.keep_alive()) return graceful_close();
    res_ = {};
    do_read();
  }

  // After a response with Connection: close: TLS close_notify / TCP FIN, then close.
  void graceful_close() {
    closing_ = true;
    if constexpr (kTls) {
      set_deadline(SteadyClock::now() + std::chrono::seconds(2));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close_now(); });
    } else {
      // Lingering close: send FIN, then read and discard what the client still sends (e.g.
      // the rest of an oversized body) so it sees our response instead of a reset.
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return close_now();
      set_deadline(SteadyClock::now() + std::chrono::seconds(2));
      linger(0);
    }
  }

  void linger(std::size_t drained) {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(
        buffer_.prepare(kReadBufferBytes),
        [self = this->shared_from_this(), drained](beast::error_code ec, std::size_t n) {
          if (ec || drained + n > kLingerMaxBytes) return self->close_now();
          self->buffer_.commit(n);
          self->linger(drained + n);
        });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  // The connection's deadline (time_point::max(): none). Arms the timer only when `at` is
  // earlier than the pending wake-up; otherwise the wake-up re-arms it (on_timer).
  void set_deadline(SteadyClock::time_point at) {
    deadline_ = at;
    if (at < timer_at_) arm(at);
  }

  // Wakes up at `at`, or sooner: never more than check_every_ from now, so that a later
  // set_deadline() (now + a configured timeout) never needs to re-arm.
  void arm(SteadyClock::time_point at) {
    if (closed_) return;
    auto now = SteadyClock::now();
    timer_at_ = at - now > check_every_ ? now + check_every_ : at;
    timer_.expires_at(timer_at_);
    // A weak reference: a pending wake-up does not keep a finished connection alive.
    timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      if (ec == net::error::operation_aborted) return;
      if (auto self = weak.lock()) self->on_timer();
    });
  }

  void on_timer() {
    if (closed_) return;
    auto now = SteadyClock::now();
    // A wait that expires_at() could no longer cancel may run after a newer arm().
    if (now < timer_at_) return;
    timer_at_ = SteadyClock::time_point::max();
    if (now < deadline_) return arm(deadline_);
    // A closing handshake or lingering close that runs out is not a client's timeout.
    if (!closing_) st_->metrics->connections_timed_out.add();
    close_now();
  }

  std::shared_ptr<SharedState> st_;
  ConnGuard::Slot slot_;               // after st_: released before the guard can go
  std::shared_ptr<ssl::context> tls_;  // the context this connection was made with
  Stream stream_;
  net::steady_timer timer_;                       // the deadline's wake-up, on the stream's strand
  const std::chrono::milliseconds check_every_;   // the shortest configured timeout
  const SteadyClock::time_point first_deadline_;  // accept + read_timeout
  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point timer_at_ = SteadyClock::time_point::max();  // pending wake-up
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  HttpRequest req_;
  BrowserFields ui_;  // the web console's fields of req_ (admin listener)
  std::string client_ip_;
  bool busy_ = false;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool closing_ = false;  // graceful_close() began
  std::size_t served_ = 0;
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace

struct Server::Impl {
  std::shared_ptr<SharedState> st = std::make_shared<SharedState>();
  std::shared_ptr<TcpListener> listener;

  void accept(tcp::socket&& socket, ConnGuard::Slot slot) {
    st->metrics->connections_accepted.add();
    if (auto ctx = st->tls()) {
      std::make_shared<TlsSession>(std::move(socket), st, std::move(slot), std::move(ctx))->start();
    } else {
      std::make_shared<PlainSession>(std::move(socket), st, std::move(slot), nullptr)->start();
    }
  }

  // Over max_connections, the address's share, or into the slots kept for addresses not yet
  // connected: a canned 503 (plain HTTP only), then the skeleton closes it.
  void refuse(tcp::socket& socket) {
    st->metrics->connections_accepted.add();
    st->metrics->connections_rejected.add();
    if (st->tls_on) return;
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        "Connection: close\r\nContent-Length: 83\r\n\r\n"
        R"({"v":1,"error":{"code":"overloaded","message":"too many connections, retry later"}})";
    static_assert(kBusy.size() - kBusy.find("\r\n\r\n") - 4 == 83);
    beast::error_code wec;
    socket.non_blocking(true, wec);
    socket.write_some(net::buffer(kBusy.data(), kBusy.size()), wec);
    socket.shutdown(tcp::socket::shutdown_both, wec);
  }
};

namespace {

// Every admitted connection is a descriptor, and so is every refused one until it is
// closed: raise the soft RLIMIT_NOFILE towards the hard limit when the listeners' limits
// need more (a common default soft limit is 1024), so that accept() does not fail with
// EMFILE before max_connections is reached.
void raise_fd_limit(const Config& config) {
  std::size_t need = config.max_connections + 256;
  if (listener_enabled(config.razor.listen)) need += config.razor.max_connections;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return;
  rlim_t want = rl.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(need)
                                             : std::min<rlim_t>(rl.rlim_max, need);
  if (want > rl.rlim_cur) {
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < need) {
    logger()->warn(
        "open file limit {} is below the {} descriptors the connection limits need; raise "
        "LimitNOFILE",
        static_cast<std::uint64_t>(rl.rlim_cur), need);
  }
}

}  // namespace

namespace {

// A TLS 1.2+ server context from tls.cert and tls.key.
Result<std::shared_ptr<ssl::context>> make_tls_context(const Config& config) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  ctx->use_certificate_chain_file(config.tls_cert, ec);
  if (ec) return make_error(Errc::kIo, "tls.cert " + config.tls_cert + ": " + ec.message());
  ctx->use_private_key_file(config.tls_key, ssl::context::pem, ec);
  if (ec) return make_error(Errc::kIo, "tls.key " + config.tls_key + ": " + ec.message());
  // A key of another certificate (a rotation caught half-way) would fail every handshake.
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return make_error(Errc::kIo,
                      "tls.key " + config.tls_key + " does not match tls.cert " + config.tls_cert);
  }
  return ctx;
}

}  // namespace

Result<std::unique_ptr<Server>> Server::create(const Config& config, Api& api,
                                               NodeMetrics& metrics) {
  unsigned threads =
      config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<Server> server(new Server());
  auto impl = std::make_shared<Impl>();
  impl->st->api = &api;
  impl->st->metrics = &metrics;
  impl->st->config = config;
  impl->st->config.threads = threads;
  impl->st->admin_elsewhere = listener_enabled(config.admin.listen);
  raise_fd_limit(config);

  if (!config.tls_cert.empty()) {
    auto ctx = make_tls_context(config);
    if (!ctx) return ctx.error();
    impl->st->set_tls(std::move(*ctx));
    impl->st->tls_on = true;
  }

  TcpListener::Options o;
  o.listen = config.listen;
  o.listen_key = "listen";
  o.threads = threads;
  o.limits.max_connections = config.max_connections;
  o.limits.max_per_address = config.max_connections_per_address;
  o.limits.reserved = config.reserved_connections;
  o.limits.max_held_bytes_per_address = config.max_body_bytes_per_address;
  o.drain_timeout = config.shutdown_timeout;
  o.signals = true;
  Impl* i = impl.get();  // the listener lives inside impl: raw pointers do not cycle
  auto listener = TcpListener::bind(
      std::move(o),
      [i](tcp::socket&& s, ConnGuard::Slot slot) { i->accept(std::move(s), std::move(slot)); },
      [i](tcp::socket& s, const Error&) { i->refuse(s); }, [&api] { api.set_draining(true); });
  if (!listener) return listener.error();
  impl->listener = std::move(*listener);
  impl->st->registry = impl->listener->registry();
  server->impl_ = std::move(impl);
  return server;
}

Result<std::unique_ptr<Server>> Server::create_admin(const Config& config, Api& api,
                                                     NodeMetrics& metrics, UiHandler console) {
  std::unique_ptr<Server> server(new Server());
  auto impl = std::make_shared<Impl>();
  impl->st->api = &api;
  impl->st->metrics = &metrics;
  impl->st->config = config;
  impl->st->config.threads = 1;
  impl->st->admin = true;
  impl->st->console = std::move(console);

  TcpListener::Options o;
  o.name = "admin";
  o.listen = config.admin.listen;
  o.listen_key = "admin.listen";
  o.threads = 1;
  o.limits.max_connections = 64;
  o.limits.max_per_address = 64;
  o.limits.reserved = 0;
  o.limits.max_held_bytes_per_address = config.max_body_bytes_per_address;
  o.drain_timeout = config.shutdown_timeout;
  o.signals = false;
  Impl* i = impl.get();
  auto listener = TcpListener::bind(
      std::move(o),
      [i](tcp::socket&& s, ConnGuard::Slot slot) { i->accept(std::move(s), std::move(slot)); },
      [i](tcp::socket& s, const Error&) { i->refuse(s); });
  if (!listener) return listener.error();
  impl->listener = std::move(*listener);
  impl->st->registry = impl->listener->registry();
  server->impl_ = std::move(impl);
  return server;
}

Server::~Server() = default;

std::string Server::local_host() const { return impl_->listener->host(); }
unsigned short Server::local_port() const { return impl_->listener->port(); }
bool Server::tls() const { return impl_->st->tls_on; }

void Server::set_on_reload(std::function<void()> on_reload) {
  impl_->listener->set_on_reload(std::move(on_reload));
}

Result<void> Server::reload_tls(const Config& config) {
  if (config.tls_cert.empty() != !impl_->st->tls_on) {
    return make_error(Errc::kInvalidArgument,
                      "tls.cert/tls.key: switching TLS on or off takes a restart");
  }
  if (!impl_->st->tls_on) return {};
  auto ctx = make_tls_context(config);
  if (!ctx) return ctx.error();
  impl_->st->set_tls(std::move(*ctx));
  return {};
}

void Server::set_ready(bool ready) { impl_->st->ready.store(ready, std::memory_order_relaxed); }

void Server::run() { impl_->listener->run(); }

void Server::start() { impl_->listener->start(); }

void Server::join() { impl_->listener->join(); }

void Server::stop() { impl_->listener->stop(); }

}  // namespace strop::node
