#include "http_transport.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <system_error>
#include <thread>

#include "base/mutex.hpp"

namespace strop::agent::detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------
// TLS

struct TlsContext::Impl {
  ssl::context ctx{ssl::context::tls_client};
};

TlsContext::~TlsContext() = default;

void* TlsContext::native() const { return &impl_->ctx; }

Result<std::shared_ptr<TlsContext>> TlsContext::create(const std::string& ca_file, bool verify) {
  std::shared_ptr<TlsContext> t(new TlsContext());
  t->impl_ = std::make_unique<Impl>();
  t->verify_ = verify;
  auto& ctx = t->impl_->ctx;
  error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (!verify) {
    ctx.set_verify_mode(ssl::verify_none, ec);
    return t;
  }
  ctx.set_verify_mode(ssl::verify_peer, ec);
  if (!ca_file.empty()) {
    ctx.load_verify_file(ca_file, ec);
    if (ec) {
      return make_error(Errc::kInvalidArgument,
                        "CA file " + ca_file + ": cannot load certificates (" + ec.message() + ")");
    }
  } else {
    ctx.set_default_verify_paths(ec);
    if (ec) return make_error(Errc::kInternal, "cannot load the system CA store: " + ec.message());
  }
  return t;
}

// ---------------------------------------------------------------------------------------
// Name resolution with a deadline

namespace {

using Endpoints = std::vector<tcp::endpoint>;

// getaddrinfo cannot be cancelled, so it runs on a detached thread and the caller stops
// waiting at the deadline; the thread finishes on its own and only touches shared state.
Result<Endpoints> resolve(const std::string& host, const std::string& port, Deadline deadline) {
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  auto port_num = static_cast<unsigned short>(std::stoul(port));
  if (!ec) return Endpoints{tcp::endpoint(addr, port_num)};

  struct Shared {
    Mutex mu;
    CondVar cv;
    bool done GUARDED_BY(mu) = false;
    int rc GUARDED_BY(mu) = 0;
    Endpoints eps GUARDED_BY(mu);
  };
  auto sh = std::make_shared<Shared>();
  try {
    std::thread([sh, host, port] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_ADDRCONFIG;
      addrinfo* res = nullptr;
      int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
      Endpoints eps;
      for (addrinfo* ai = res; rc == 0 && ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        tcp::endpoint ep;
        if (ai->ai_addrlen > ep.capacity()) continue;
        std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
        ep.resize(ai->ai_addrlen);
        eps.push_back(ep);
      }
      if (res != nullptr) ::freeaddrinfo(res);
      MutexLock lock(&sh->mu);
      sh->rc = rc;
      sh->eps = std::move(eps);
      sh->done = true;
      sh->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return make_error(Errc::kUnavailable, std::string("cannot start the resolver: ") + e.what());
  }
  MutexLock lock(&sh->mu);
  if (!sh->cv.wait_until(&sh->mu, deadline, [&]() REQUIRES(sh->mu) { return sh->done; })) {
    return make_error(Errc::kTimeout, "timed out resolving " + host);
  }
  if (sh->rc != 0) {
    return make_error(Errc::kUnavailable, "cannot resolve " + host + ": " + ::gai_strerror(sh->rc));
  }
  if (sh->eps.empty()) return make_error(Errc::kUnavailable, "no address for " + host);
  return std::move(sh->eps);
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Connections

// One keep-alive connection to the node, used by one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;
  Clock::time_point idle_since() const { return idle_since_; }
  void set_idle_since(Clock::time_point t) { idle_since_ = t; }

  // Connects (and handshakes); on failure sets *phase.
  virtual error_code connect(const NodeUrl& url, const Endpoints& eps, Deadline deadline,
                             const char** phase) = 0;
  // Writes `req` and reads the response into `parser`.
  virtual error_code write_read(const http::request<http::string_body>& req,
                                http::response_parser<http::string_body>& parser, Deadline deadline,
                                const char** phase) = 0;

 private:
  Clock::time_point idle_since_{};
};

namespace {

error_code last_error() { return error_code(errno, boost::system::system_category()); }

// The request as it goes on the wire (the fields in the order they were set).
std::string serialize(const http::request<http::string_body>& req) {
  std::string out;
  out.reserve(256 + req.body().size());
  out.append(req.method_string().data(), req.method_string().size());
  out += ' ';
  out.append(req.target().data(), req.target().size());
  out += " HTTP/1.1\r\n";
  for (const auto& f : req.base()) {
    out.append(f.name_string().data(), f.name_string().size());
    out += ": ";
    out.append(f.value().data(), f.value().size());
    out += "\r\n";
  }
  out += "\r\n";
  out += req.body();
  return out;
}

// Plain HTTP, driven by the calling thread with non-blocking system calls and ppoll() until
// the deadline: a check costs send, ppoll and recv, with no event loop, no timer and no
// completion handlers (the io_context path took 1.6x the raw round trip per check, this one
// 1.25x; docs/performance.md "Agent HTTP checks").
class PlainConnection final : public Connection {
 public:
  PlainConnection() = default;
  ~PlainConnection() override { close(); }
  PlainConnection(const PlainConnection&) = delete;
  PlainConnection& operator=(const PlainConnection&) = delete;

  error_code connect(const NodeUrl&, const Endpoints& eps, Deadline deadline,
                     const char** phase) override {
    *phase = "connect";
    error_code ec = asio::error::host_not_found;
    for (const auto& ep : eps) {
      close();
      fd_ = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd_ < 0) return last_error();
      if (::connect(fd_, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
        if (errno != EINPROGRESS) {
          ec = last_error();
          continue;
        }
        ec = wait(POLLOUT, deadline);
        if (ec == beast::error::timeout) return ec;
        if (ec) continue;
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
          ec = error_code(err, boost::system::system_category());
          continue;
        }
      }
      int one = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return {};
    }
    close();
    return ec;
  }

  error_code write_read(const http::request<http::string_body>& req,
                        http::response_parser<http::string_body>& parser, Deadline deadline,
                        const char** phase) override {
    if (fd_ < 0) return asio::error::not_connected;
    *phase = "sending the request";
    const std::string wire = serialize(req);
    std::size_t sent = 0;
    while (sent < wire.size()) {
      ssize_t n = ::send(fd_, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
      if (n >= 0) {
        sent += static_cast<std::size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (error_code ec = wait(POLLOUT, deadline)) return ec;
      } else if (errno != EINTR) {
        return last_error();
      }
    }
    *phase = "reading the response";
    for (;;) {
      // Parse what is buffered: the header, then the body (one put() each).
      while (buffer_.size() > 0) {
        error_code ec;
        std::size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_more) break;
        if (ec) return ec;
        if (parser.is_done()) return {};
        if (used == 0) break;
      }
      if (error_code ec = wait(POLLIN, deadline)) return ec;
      auto space = buffer_.prepare(kReadBytes);
      ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
      if (n > 0) {
        buffer_.commit(static_cast<std::size_t>(n));
      } else if (n == 0) {
        if (!parser.got_some()) return http::error::end_of_stream;
        error_code ec;
        parser.put_eof(ec);
        return ec ? ec : (parser.is_done() ? error_code() : http::error::partial_message);
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return last_error();
      }
    }
  }

 private:
  static constexpr std::size_t kReadBytes = 16 * 1024;

  // Waits until the socket is ready for `events` or the deadline passes (then the
  // connection is closed and the error is beast::error::timeout, as tcp_stream reports it).
  error_code wait(short events, Deadline deadline) {
    for (;;) {
      auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        close();
        return beast::error::timeout;
      }
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      pollfd p{fd_, events, 0};
      int rc = ::ppoll(&p, 1, &ts, nullptr);
      if (rc > 0) return {};  // ready, or an error/hang-up the next call reports
      if (rc < 0 && errno != EINTR) return last_error();
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  beast::flat_buffer buffer_;  // bytes received and not yet parsed
};

// TLS over Beast: a private io_context that the calling thread drives only for the duration
// of one operation (tcp_stream's expiry is the deadline), so there is no background thread
// and no call outlives its deadline.
class TlsConnection final : public Connection {
 public:
  explicit TlsConnection(TlsContext* tls)
      : tls_(ioc_, *static_cast<ssl::context*>(tls->native())) {}

  error_code connect(const NodeUrl& url, const Endpoints& eps, Deadline deadline,
                     const char** phase) override {
    *phase = "connect";
    lowest().expires_at(deadline);
    error_code ec = run([&](auto h) { lowest().async_connect(eps, std::move(h)); });
    if (ec) return ec;
    lowest().socket().set_option(tcp::no_delay(true), ec);
    *phase = "TLS handshake";
    SSL* native = tls_.native_handle();
    if (!is_ip_literal(url.host)) SSL_set_tlsext_host_name(native, url.host.c_str());
    tls_.set_verify_callback(ssl::host_name_verification(url.host));
    return run([&](auto h) { tls_.async_handshake(ssl::stream_base::client, std::move(h)); });
  }

  error_code write_read(const http::request<http::string_body>& req,
                        http::response_parser<http::string_body>& parser, Deadline deadline,
                        const char** phase) override {
    lowest().expires_at(deadline);
    *phase = "sending the request";
    error_code ec = run([&](auto h) { http::async_write(tls_, req, std::move(h)); });
    if (ec) return ec;
    *phase = "reading the response";
    return run([&](auto h) { http::async_read(tls_, buffer_, parser, std::move(h)); });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(tls_); }

  // Starts one asynchronous operation and drives the private io_context until it is done.
  // tcp_stream's expiry closes the socket at the deadline, so every operation completes.
  template <class Start>
  error_code run(Start&& start) {
    auto result = std::make_shared<std::optional<error_code>>();
    start([result](error_code ec, auto&&...) { *result = ec; });
    ioc_.restart();
    ioc_.run();
    return result->value_or(asio::error::operation_aborted);
  }

  asio::io_context ioc_{1};
  ssl::stream<beast::tcp_stream> tls_;
  beast::flat_buffer buffer_;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// NodeTransport

struct NodeTransport::State {
  Mutex mu;
  std::vector<std::unique_ptr<Connection>> idle GUARDED_BY(mu);  // most recent last
  Endpoints endpoints GUARDED_BY(mu);
  Clock::time_point resolved_at GUARDED_BY(mu){};
};

NodeTransport::NodeTransport(NodeUrl url, TransportOptions options, std::shared_ptr<TlsContext> tls)
    : url_(std::move(url)),
      options_(std::move(options)),
      tls_(std::move(tls)),
      state_(std::make_unique<State>()) {}

NodeTransport::~NodeTransport() = default;

std::size_t NodeTransport::idle_count() const {
  MutexLock lock(&state_->mu);
  return state_->idle.size();
}

namespace {

Error transport_error(const char* phase, const error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    return make_error(Errc::kTimeout, std::string("timed out (") + phase + ")");
  }
  if (ec == http::error::body_limit || ec == http::error::header_limit ||
      ec == http::error::buffer_overflow) {
    return make_error(Errc::kLimitExceeded, "response too large (" + ec.message() + ")");
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return make_error(Errc::kMalformed, "not an HTTP response (" + ec.message() + ")");
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == http::error::partial_message) {
    return make_error(Errc::kUnavailable,
                      std::string("connection closed by the node (") + phase + ")");
  }
  std::string what = ec.message();
  if (ec.category() == asio::error::get_ssl_category() ||
      ec.category() == asio::ssl::error::get_stream_category()) {
    return make_error(Errc::kUnavailable, "TLS error (" + std::string(phase) + "): " + what);
  }
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return make_error(Errc::kUnavailable, what + " (" + phase + ")");
}

}  // namespace

Result<HttpResponse> NodeTransport::exchange(const HttpRequest& request, Deadline deadline) {
  http::request<http::string_body> req;
  req.method(request.method == "POST" ? http::verb::post : http::verb::get);
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, url_.host_header());
  req.set(http::field::user_agent, options_.user_agent);
  req.set(http::field::accept, "application/json");
  req.keep_alive(true);
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (req.method() == http::verb::post) {
    req.set(http::field::content_type, request.content_type);
    req.body() = request.body;
    req.prepare_payload();
  }

  for (int attempt = 0; attempt < 2; ++attempt) {
    if (Clock::now() >= deadline) return make_error(Errc::kTimeout, "timed out (before sending)");
    if (request.fresh_headers) {
      std::vector<std::pair<std::string, std::string>> fresh;
      request.fresh_headers(&fresh);
      for (const auto& [name, value] : fresh) req.set(name, value);
    }
    std::unique_ptr<Connection> conn;
    if (attempt == 0) {
      MutexLock lock(&state_->mu);
      auto now = Clock::now();
      while (!state_->idle.empty()) {
        auto c = std::move(state_->idle.back());
        state_->idle.pop_back();
        if (now - c->idle_since() < options_.idle_timeout) {
          conn = std::move(c);
          break;
        }
      }
    }
    const bool reused = conn != nullptr;
    const char* phase = "connect";
    if (!conn) {
      Endpoints eps;
      {
        MutexLock lock(&state_->mu);
        if (!state_->endpoints.empty() &&
            Clock::now() - state_->resolved_at < options_.resolve_cache_ttl) {
          eps = state_->endpoints;
        }
      }
      if (eps.empty()) {
        auto r = resolve(url_.host, url_.port, deadline);
        if (!r) return r.error();
        eps = *r;
        MutexLock lock(&state_->mu);
        state_->endpoints = eps;
        state_->resolved_at = Clock::now();
      }
      if (url_.tls) {
        conn = std::make_unique<TlsConnection>(tls_.get());
      } else {
        conn = std::make_unique<PlainConnection>();
      }
      error_code ec = conn->connect(url_, eps, deadline, &phase);
      if (ec) return transport_error(phase, ec);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(static_cast<std::uint32_t>(options_.max_response_header_bytes));
    error_code ec = conn->write_read(req, parser, deadline, &phase);
    if (ec) {
      // An idle connection the node closed meanwhile fails before any response byte:
      // retry once on a fresh connection.
      if (reused && !parser.got_some() && ec != beast::error::timeout) continue;
      return transport_error(phase, ec);
    }
    auto& res = parser.get();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.retry_after = std::string(res[http::field::retry_after]);
    const bool keep = res.keep_alive();
    out.body = std::move(res.body());
    if (keep) {
      conn->set_idle_since(Clock::now());
      MutexLock lock(&state_->mu);
      if (state_->idle.size() < options_.max_idle_connections)
        state_->idle.push_back(std::move(conn));
    }
    return out;
  }
  return make_error(Errc::kUnavailable, "connection closed by the node");
}

}  // namespace strop::agent::detail
