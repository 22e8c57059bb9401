#include "http_transport.hpp"

#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstring>
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
// One connection with its private io_context

class Connection {
 public:
  Connection(const NodeUrl& url, TlsContext* tls) {
    if (url.tls) {
      tls_.emplace(ioc_, *static_cast<ssl::context*>(tls->native()));
    } else {
      tcp_.emplace(ioc_);
    }
  }

  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }
  bool connected() const { return connected_; }
  Clock::time_point idle_since() const { return idle_since_; }
  void set_idle_since(Clock::time_point t) { idle_since_ = t; }

  // Connects (and handshakes); on failure sets *phase.
  error_code connect(const NodeUrl& url, const Endpoints& eps, Deadline deadline,
                     const char** phase) {
    *phase = "connect";
    lowest().expires_at(deadline);
    error_code ec = run([&](auto h) { lowest().async_connect(eps, std::move(h)); });
    if (ec) return ec;
    lowest().socket().set_option(tcp::no_delay(true), ec);
    if (tls_) {
      *phase = "TLS handshake";
      SSL* native = tls_->native_handle();
      if (!is_ip_literal(url.host)) SSL_set_tlsext_host_name(native, url.host.c_str());
      tls_->set_verify_callback(ssl::host_name_verification(url.host));
      ec = run([&](auto h) { tls_->async_handshake(ssl::stream_base::client, std::move(h)); });
      if (ec) return ec;
    }
    connected_ = true;
    return {};
  }

  // Writes `req` and reads the response into `parser`.
  error_code write_read(const http::request<http::string_body>& req,
                        http::response_parser<http::string_body>& parser, Deadline deadline,
                        const char** phase) {
    lowest().expires_at(deadline);
    *phase = "sending the request";
    error_code ec = tls_ ? run([&](auto h) { http::async_write(*tls_, req, std::move(h)); })
                         : run([&](auto h) { http::async_write(*tcp_, req, std::move(h)); });
    if (ec) return ec;
    *phase = "reading the response";
    ec = tls_ ? run([&](auto h) { http::async_read(*tls_, buffer_, parser, std::move(h)); })
              : run([&](auto h) { http::async_read(*tcp_, buffer_, parser, std::move(h)); });
    return ec;
  }

 private:
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
  std::optional<beast::tcp_stream> tcp_;
  std::optional<ssl::stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  Clock::time_point idle_since_{};
};

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
      conn = std::make_unique<Connection>(url_, tls_.get());
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
