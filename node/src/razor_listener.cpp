// razor_listener.cpp: Razor2 over TCP with Asio/Beast streams (razor_listener.hpp).
#include "node/razor_listener.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>

#include "node/conn_guard.hpp"
#include "node_common.hpp"
#include "razor_session.hpp"
#include "tcp_listener.hpp"

namespace strop::node {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;
namespace rz = protocol::razor;

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

std::string host_of(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

// What every connection shares: the protocol service, the settings, the registry.
struct Shared {
  RazorService* service = nullptr;
  RazorConfig config;
  std::shared_ptr<ConnectionRegistry> registry;
  bool stopping() const { return registry->stopping(); }
};

class Connection : public ListenerConnection, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket&& socket, std::shared_ptr<Shared> shared, ConnGuard::Slot slot,
             std::string client_ip, std::string local_host, unsigned short local_port)
      : sh_(std::move(shared)),
        slot_(std::move(slot)),
        stream_(std::move(socket)),
        session_(*sh_->service, std::move(client_ip), std::move(local_host), local_port),
        request_started_(true),
        request_deadline_(std::chrono::steady_clock::now() + sh_->config.request_timeout) {
    // The first request's deadline runs from accept: a peer that never sends a byte gives
    // its slot back after request_timeout, not idle_timeout.
  }

  ~Connection() override { sh_->registry->remove(this); }

  void start() {
    sh_->registry->add(this, weak_from_this());
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this()] { self->write(self->session_.greeting(), false); });
  }

  // Posted at stop: close unless a reply is in flight (then close after writing it).
  void shutdown_if_idle() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->close();
    });
  }

 private:
  void write(std::string bytes, bool close_after) {
    out_ = std::move(bytes);
    stream_.expires_after(sh_->config.request_timeout);
    // One write of the whole reply (< 1024 bytes for the real client: one segment).
    net::async_write(stream_, net::buffer(out_),
                     [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
                       self->busy_ = false;
                       if (ec || close_after || self->sh_->stopping()) return self->close();
                       self->process();
                     });
  }

  // Handles every complete request in the buffer, one at a time; reads when none is left.
  void process() {
    if (closed_) return;
    std::size_t used = 0;
    auto r = rz::next_request(buf_, sh_->config.limits, &used);
    if (!r) {
      sh_->service->counters().protocol_errors.add();
      logger()->debug("razor: closing {}: {}", client_ip(), r.error().message);
      busy_ = true;
      int code = r.error().code == Errc::kLimitExceeded ? rz::kErrLimit : rz::kErrBadRequest;
      return write("err=" + std::to_string(code) + "\r\n", true);
    }
    if (!r->has_value()) return read_more();
    buf_.erase(0, used);
    if (buf_.capacity() > 4 * kReadChunk && buf_.size() < kReadChunk) buf_.shrink_to_fit();
    (void)slot_.hold(buf_.size());
    request_started_ = false;
    busy_ = true;
    stream_.expires_never();
    // The reply may come from another thread (store writer, registration pool): keep the
    // io_context running until it is written.
    auto work = net::make_work_guard(stream_.get_executor());
    session_.handle(std::move(**r),
                    [self = shared_from_this(), work](RazorSession::Reply reply) mutable {
                      net::post(self->stream_.get_executor(),
                                [self, reply = std::move(reply), work = std::move(work)]() mutable {
                                  self->on_reply(std::move(reply));
                                });
                    });
  }

  void on_reply(RazorSession::Reply reply) {
    if (closed_) return;
    if (reply.bytes.empty()) {
      busy_ = false;
      if (reply.close || sh_->stopping()) return close();
      return process();
    }
    write(std::move(reply.bytes), reply.close);
  }

  void read_more() {
    if (sh_->stopping()) return close();
    auto now = std::chrono::steady_clock::now();
    if (buf_.empty() && !request_started_) {
      stream_.expires_after(sh_->config.idle_timeout);
    } else {
      // A partial request: the whole request must arrive within request_timeout.
      if (!request_started_) {
        request_started_ = true;
        request_deadline_ = now + sh_->config.request_timeout;
      }
      if (now >= request_deadline_) return close();
      stream_.expires_after(request_deadline_ - now);
    }
    std::size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    stream_.async_read_some(
        net::buffer(buf_.data() + old, kReadChunk),
        [self = shared_from_this(), old](beast::error_code ec, std::size_t n) {
          self->buf_.resize(old + (ec ? 0 : n));
          if (ec) return self->close();
          if (!self->request_started_) {
            self->request_started_ = true;
            self->request_deadline_ =
                std::chrono::steady_clock::now() + self->sh_->config.request_timeout;
          }
          // The unfinished request's bytes count against the address's
          // budget (max_request_bytes_per_address).
          if (!self->slot_.hold(self->buf_.size())) {
            self->sh_->service->counters().rejected_connections.add();
            logger()->debug("razor: closing {}: unfinished requests over the per-address budget",
                            self->client_ip());
            self->busy_ = true;
            return self->write("err=" + std::to_string(rz::kErrLimit) + "\r\n", true);
          }
          self->process();
        });
  }

  std::string client_ip() {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    return ec ? std::string("?") : host_of(ep);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  std::shared_ptr<Shared> sh_;
  ConnGuard::Slot slot_;  // after sh_: released before the guard can go
  beast::tcp_stream stream_;
  RazorSession session_;
  std::string buf_;
  std::string out_;
  bool busy_ = true;  // the greeting is being written
  bool closed_ = false;
  bool request_started_ = false;  // the deadline below runs (from accept for the first request)
  std::chrono::steady_clock::time_point request_deadline_{};
};

class RazorTcpListener final : public Listener {
 public:
  RazorTcpListener(SignatureService& service, const RazorAccounts& accounts)
      : service_(std::make_unique<RazorService>(service, accounts)),
        shared_(std::make_shared<Shared>()) {
    shared_->service = service_.get();
    shared_->config = service.config().razor;
  }
  ~RazorTcpListener() override { stop(); }

  Result<void> bind(const Config& config) {
    TcpListener::Options o;
    o.name = "razor";
    o.listen = config.razor.listen;
    o.listen_key = "razor.listen";
    o.threads = std::max(1u, config.razor.threads);
    o.limits.max_connections = config.razor.max_connections;
    o.limits.max_per_address = config.razor.max_connections_per_address;
    o.limits.reserved = config.razor.reserved_connections;
    o.limits.max_held_bytes_per_address = config.razor.max_request_bytes_per_address;
    o.drain_timeout = config.shutdown_timeout;
    std::shared_ptr<Shared> sh = shared_;
    RazorCounters* counters = &service_->counters();
    auto accept = [sh, counters](tcp::socket&& socket, ConnGuard::Slot slot) {
      counters->connections.add();
      beast::error_code e1, e2;
      auto remote = socket.remote_endpoint(e1);
      auto local = socket.local_endpoint(e2);
      if (e1 || e2) return;  // gone already: the socket closes with this scope
      std::make_shared<Connection>(std::move(socket), sh, std::move(slot), host_of(remote),
                                   host_of(local), local.port())
          ->start();
    };
    // Over max_connections, the address's share, or into the slots kept for addresses not
    // yet connected: closed at once.
    auto refuse = [counters](tcp::socket&, const Error&) {
      counters->connections.add();
      counters->rejected_connections.add();
    };
    auto l = TcpListener::bind(std::move(o), std::move(accept), std::move(refuse));
    if (!l) return l.error();
    tcp_ = std::move(*l);
    shared_->registry = tcp_->registry();
    return {};
  }

  std::string local_host() const override { return tcp_->host(); }
  unsigned short local_port() const override { return tcp_->port(); }
  void start() override { tcp_->start(); }

  // Stops accepting, closes every connection once idle, waits for in-flight registrations
  // and replies (each holds work on its context), then joins the threads.
  void stop() override {
    if (!tcp_ || stopped_) return;
    stopped_ = true;
    tcp_->stop();
    tcp_->join();
  }

  std::string summary() const override {
    auto& c = service_->counters();
    return fmt::format(
        "razor: {} connections ({} rejected), {} requests, {} checks ({} hits), {} uploads ({} "
        "signatures), "
        "{} signatures revoked, {} registrations, {} auth ok, {} auth failed, {} errors, {} "
        "protocol errors",
        c.connections.value(), c.rejected_connections.value(), c.requests.value(), c.checks.value(),
        c.check_hits.value(), c.uploads.value(), c.reported_sigs.value(), c.revoked_sigs.value(),
        c.registrations.value(), c.auth_ok.value(), c.auth_failed.value(), c.errors.value(),
        c.protocol_errors.value());
  }

 private:
  std::unique_ptr<RazorService> service_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<TcpListener> tcp_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Listener>> make_razor_listener(SignatureService& service,
                                                      const RazorAccounts& accounts) {
  auto l = std::make_unique<RazorTcpListener>(service, accounts);
  STROP_TRY(l->bind(service.config()));
  return std::unique_ptr<Listener>(std::move(l));
}

}  // namespace strop::node
