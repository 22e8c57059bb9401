// razor_listener.cpp: Razor2 over TCP with Asio/Beast streams (razor_listener.hpp).
#include "node/razor_listener.hpp"

#include "node_common.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "node/conn_guard.hpp"
#include "razor_session.hpp"

namespace strop::node {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;
namespace rz = protocol::razor;

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

std::string host_of(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

class Connection;

struct Shared {
  RazorService* service = nullptr;
  RazorConfig config;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> active{0};
  // Admission and per-address accounting (max_connections and the per-address limits).
  std::unique_ptr<ConnGuard> guard;
  std::mutex mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;  // GUARDED_BY(mu)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket&& socket, std::shared_ptr<Shared> shared, ConnGuard::Slot slot, std::string client_ip,
             std::string local_host, unsigned short local_port)
      : sh_(std::move(shared)),
        slot_(std::move(slot)),
        stream_(std::move(socket)),
        session_(*sh_->service, std::move(client_ip), std::move(local_host), local_port),
        request_started_(true),
        request_deadline_(std::chrono::steady_clock::now() + sh_->config.request_timeout) {
    // The first request's deadline runs from accept: a peer that never sends a byte gives
    // its slot back after request_timeout, not idle_timeout.
    sh_->active.fetch_add(1, std::memory_order_relaxed);
  }

  ~Connection() {
    {
      std::lock_guard lock(sh_->mu);
      sh_->connections.erase(this);
    }
    sh_->active.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    {
      std::lock_guard lock(sh_->mu);
      sh_->connections.emplace(this, weak_from_this());
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->write(self->session_.greeting(), false);
    });
  }

  // Posted at stop: close unless a reply is in flight (then close after writing it).
  void stop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->close();
    });
  }

 private:
  void write(std::string bytes, bool close_after) {
    out_ = std::move(bytes);
    stream_.expires_after(sh_->config.request_timeout);
    // One write of the whole reply (< 1024 bytes for the real client: one segment).
    net::async_write(stream_, net::buffer(out_), [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
      self->busy_ = false;
      if (ec || close_after || self->sh_->stopping.load(std::memory_order_relaxed)) return self->close();
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
    session_.handle(std::move(**r), [self = shared_from_this(), work](RazorSession::Reply reply) mutable {
      net::post(self->stream_.get_executor(), [self, reply = std::move(reply), work = std::move(work)]() mutable {
        self->on_reply(std::move(reply));
      });
    });
  }

  void on_reply(RazorSession::Reply reply) {
    if (closed_) return;
    if (reply.bytes.empty()) {
      busy_ = false;
      if (reply.close || sh_->stopping.load(std::memory_order_relaxed)) return close();
      return process();
    }
    write(std::move(reply.bytes), reply.close);
  }

  void read_more() {
    if (sh_->stopping.load(std::memory_order_relaxed)) return close();
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
    stream_.async_read_some(net::buffer(buf_.data() + old, kReadChunk),
                            [self = shared_from_this(), old](beast::error_code ec, std::size_t n) {
                              self->buf_.resize(old + (ec ? 0 : n));
                              if (ec) return self->close();
                              if (!self->request_started_) {
                                self->request_started_ = true;
                                self->request_deadline_ = std::chrono::steady_clock::now() + self->sh_->config.request_timeout;
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

}  // namespace

struct RazorListener::Impl : std::enable_shared_from_this<RazorListener::Impl> {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::unique_ptr<RazorService> service;
  std::vector<std::thread> threads;
  std::string host;
  unsigned short port = 0;
  bool stopped = false;

  unsigned nthreads = 1;

  explicit Impl(unsigned n) : ioc(static_cast<int>(n)), nthreads(n) {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      self->on_accept(ec, std::move(s));
    });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      logger()->warn("razor: accept failed: {}", ec.message());
      // EMFILE and friends: back off instead of spinning.
      auto t = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(100));
      t->async_wait([self = shared_from_this(), t](beast::error_code) {
        if (self->acceptor.is_open()) self->do_accept();
      });
      return;
    }
    auto& counters = service->counters();
    counters.connections.add();
    beast::error_code e1, e2;
    auto remote = socket.remote_endpoint(e1);
    auto local = socket.local_endpoint(e2);
    if (e1 || e2) {
      socket.close(e1);
      return do_accept();
    }
    auto slot = shared->guard->admit(address_key(remote.address()));
    if (!slot) {
      // Over max_connections, the address's share, or into the slots kept for addresses
      // not yet connected: closed at once.
      counters.rejected_connections.add();
      logger()->debug("razor: refusing a connection: {}", slot.error().message);
      beast::error_code ignore;
      socket.close(ignore);
      return do_accept();
    }
    socket.set_option(tcp::no_delay(true), e1);
    std::make_shared<Connection>(std::move(socket), shared, std::move(*slot), host_of(remote), host_of(local),
                                 local.port())
        ->start();
    do_accept();
  }
};

Result<std::unique_ptr<RazorListener>> RazorListener::create(SignatureService& service,
                                                             const RazorAccounts& accounts) {
  const Config& config = service.config();
  auto listen = parse_listen(config.razor.listen);
  if (!listen) return make_error(Errc::kInvalidArgument, "razor.listen: " + listen.error().message);
  unsigned threads = std::max(1u, config.razor.threads);
  auto impl = std::make_shared<Impl>(threads);
  beast::error_code ec;
  auto addr = net::ip::make_address(listen->host, ec);
  if (ec) return make_error(Errc::kInvalidArgument, "razor.listen: bad address \"" + listen->host + "\"");
  tcp::endpoint ep(addr, listen->port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::kIo, "cannot listen on " + config.razor.listen + " (razor): " + ec.message());
  auto local = impl->acceptor.local_endpoint(ec);
  impl->host = local.address().to_string();
  impl->port = local.port();

  impl->service = std::make_unique<RazorService>(service, accounts);
  impl->shared->service = impl->service.get();
  impl->shared->config = config.razor;
  ConnLimits limits;
  limits.max_connections = config.razor.max_connections;
  limits.max_per_address = config.razor.max_connections_per_address;
  limits.reserved = config.razor.reserved_connections;
  limits.max_held_bytes_per_address = config.razor.max_request_bytes_per_address;
  impl->shared->guard = std::make_unique<ConnGuard>(limits);

  std::unique_ptr<RazorListener> l(new RazorListener());
  l->impl_ = std::move(impl);
  return l;
}

RazorListener::~RazorListener() {
  if (impl_) stop();
}

std::string RazorListener::local_host() const { return impl_->host; }
unsigned short RazorListener::local_port() const { return impl_->port; }

void RazorListener::start() {
  auto impl = impl_;
  if (!impl->threads.empty() || impl->stopped) return;
  impl->do_accept();
  for (unsigned i = 0; i < impl->nthreads; ++i) {
    impl->threads.emplace_back([impl] {
      for (;;) {
        try {
          impl->ioc.run();
          return;
        } catch (const std::exception& e) {
          // Handlers catch their own exceptions; this is a last line of defence.
          logger()->error("razor: exception escaped an I/O handler: {}", e.what());
        }
      }
    });
  }
}

void RazorListener::stop() {
  auto impl = impl_;
  if (impl->stopped) return;
  impl->stopped = true;
  impl->shared->stopping.store(true);
  if (impl->threads.empty()) {  // never started
    beast::error_code ec;
    impl->acceptor.close(ec);
    return;
  }
  net::post(impl->ioc, [impl] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    std::vector<std::shared_ptr<Connection>> open;
    {
      std::lock_guard lock(impl->shared->mu);
      for (auto& [p, w] : impl->shared->connections) {
        if (auto c = w.lock()) open.push_back(std::move(c));
      }
    }
    for (auto& c : open) c->stop();
  });
  // run() returns once every connection is closed and every pending reply (a registration
  // on the service's executor, a report awaiting its commit) was posted: each holds work.
  impl->guard.reset();
  for (auto& t : impl->threads) t.join();
  impl->threads.clear();
}

std::string RazorListener::summary() const {
  auto& c = impl_->service->counters();
  return fmt::format(
      "razor: {} connections ({} rejected), {} requests, {} checks ({} hits), {} uploads ({} signatures), "
      "{} signatures revoked, {} registrations, {} auth ok, {} auth failed, {} errors, {} protocol errors",
      c.connections.value(), c.rejected_connections.value(), c.requests.value(), c.checks.value(),
      c.check_hits.value(), c.uploads.value(), c.reported_sigs.value(), c.revoked_sigs.value(),
      c.registrations.value(), c.auth_ok.value(), c.auth_failed.value(), c.errors.value(),
      c.protocol_errors.value());
}

}  // namespace strop::node
