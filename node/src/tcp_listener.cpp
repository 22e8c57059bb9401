// tcp_listener.cpp: the TCP listener skeleton (tcp_listener.hpp).
#include "tcp_listener.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <exception>
#include <utility>

#include "node/config.hpp"
#include "node_common.hpp"

namespace strop::node {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

// ---- registry -----------------------------------------------------------------------------

void ConnectionRegistry::add(ListenerConnection* c, std::weak_ptr<ListenerConnection> w) {
  MutexLock lock(&mu_);
  if (connections_.emplace(c, std::move(w)).second) active_.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionRegistry::remove(ListenerConnection* c) {
  MutexLock lock(&mu_);
  if (connections_.erase(c) != 0) active_.fetch_sub(1, std::memory_order_relaxed);
}

void ConnectionRegistry::shutdown_idle() {
  std::vector<std::shared_ptr<ListenerConnection>> open;
  {
    MutexLock lock(&mu_);
    open.reserve(connections_.size());
    for (auto& [p, w] : connections_) {
      if (auto s = w.lock()) open.push_back(std::move(s));
    }
  }
  // Outside the lock: a connection released here may unregister in its destructor.
  for (auto& c : open) c->shutdown_if_idle();
}

// ---- listener -----------------------------------------------------------------------------

// The I/O objects of context 0.
struct TcpListener::Io {
  explicit Io(net::io_context& ioc)
      : acceptor(ioc), signals(ioc), drain_timer(ioc), accept_retry(ioc) {}
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer drain_timer;
  net::steady_timer accept_retry;
};

TcpListener::TcpListener(Options options, Accept accept, Refuse refuse,
                         std::function<void()> on_shutdown)
    : options_(std::move(options)),
      accept_(std::move(accept)),
      refuse_(std::move(refuse)),
      on_shutdown_(std::move(on_shutdown)),
      registry_(std::make_shared<ConnectionRegistry>(options_.limits)) {
  for (unsigned i = 0; i < std::max(1u, options_.threads); ++i) {
    contexts_.push_back(std::make_unique<net::io_context>(1));
    work_.push_back(net::make_work_guard(*contexts_.back()));
  }
  io_ = std::make_unique<Io>(*contexts_[0]);
}

TcpListener::~TcpListener() {
  // I/O objects before their contexts.
  io_.reset();
  work_.clear();
  contexts_.clear();
}

Result<std::shared_ptr<TcpListener>> TcpListener::bind(Options options, Accept accept,
                                                       Refuse refuse,
                                                       std::function<void()> on_shutdown) {
  auto listen = parse_listen(options.listen);
  if (!listen)
    return make_error(Errc::kInvalidArgument, options.listen_key + ": " + listen.error().message);
  std::shared_ptr<TcpListener> l(new TcpListener(std::move(options), std::move(accept),
                                                 std::move(refuse), std::move(on_shutdown)));
  const Options& o = l->options_;
  boost::system::error_code ec;
  auto addr = net::ip::make_address(listen->host, ec);
  if (ec)
    return make_error(Errc::kInvalidArgument,
                      o.listen_key + ": bad address \"" + listen->host + "\"");
  tcp::endpoint ep(addr, listen->port);
  auto& acc = l->io_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string what = o.name.empty() ? std::string() : " (" + o.name + ")";
    return make_error(Errc::kIo, "cannot listen on " + o.listen + what + ": " + ec.message());
  }
  if (o.signals) {
    // Registered now, so a SIGTERM that arrives between "ready" and run() is queued and
    // handled gracefully instead of killing the process.
    l->io_->signals.add(SIGTERM, ec);
    if (!ec) l->io_->signals.add(SIGINT, ec);
    if (!ec) l->io_->signals.add(SIGHUP, ec);
    if (ec) return make_error(Errc::kIo, "cannot install signal handlers: " + ec.message());
  }
  auto local = acc.local_endpoint(ec);
  l->host_ = local.address().to_string();
  l->port_ = local.port();
  return l;
}

net::io_context& TcpListener::pick_context() {
  return *contexts_[next_context_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

void TcpListener::do_accept() {
  io_->acceptor.async_accept(
      net::make_strand(pick_context()),
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket s) {
        self->on_accept(ec, std::move(s));
      });
}

void TcpListener::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !io_->acceptor.is_open()) return;
  if (ec) {
    // EMFILE and friends: back off briefly instead of spinning.
    logger()->warn("{}accept failed: {}", prefix(), ec.message());
    io_->accept_retry.expires_after(std::chrono::milliseconds(100));
    io_->accept_retry.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e && self->io_->acceptor.is_open()) self->do_accept();
    });
    return;
  }
  boost::system::error_code rec;
  auto remote = socket.remote_endpoint(rec);
  auto slot = rec ? Result<ConnGuard::Slot>(make_error(Errc::kIo, rec.message()))
                  : registry_->guard().admit(address_key(remote.address()));
  if (!slot) {
    // Over max_connections, the address's share, or into the slots kept for addresses not
    // yet connected.
    logger()->debug("{}refusing a connection: {}", prefix(), slot.error().message);
    refuse_(socket, slot.error());
    boost::system::error_code ignore;
    socket.close(ignore);
    return do_accept();
  }
  boost::system::error_code nd;
  socket.set_option(tcp::no_delay(true), nd);
  accept_(std::move(socket), std::move(*slot));
  do_accept();
}

void TcpListener::begin_shutdown() {
  if (!registry_->set_stopping()) return;
  logger()->info("{}shutting down: no new connections, finishing {} open connection(s)", prefix(),
                 registry_->active());
  if (on_shutdown_) on_shutdown_();
  boost::system::error_code ec;
  io_->acceptor.close(ec);
  io_->accept_retry.cancel();
  // A second SIGTERM/SIGINT now takes its default action; SIGHUP stays handled (ignored)
  // until the connections are drained.
  io_->signals.remove(SIGTERM, ec);
  io_->signals.remove(SIGINT, ec);
  registry_->shutdown_idle();
  drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
  poll_drained();
}

void TcpListener::poll_drained() {
  if (registry_->active() == 0) {
    logger()->info("{}all connections closed", prefix());
    io_->signals.cancel();            // the pending wait would keep context 0 running
    for (auto& w : work_) w.reset();  // no more work: every run() returns
    return;
  }
  if (std::chrono::steady_clock::now() >= drain_deadline_) {
    logger()->warn("{}shutdown timeout: cutting {} connection(s)", prefix(), registry_->active());
    for (auto& c : contexts_) c->stop();
    return;
  }
  // Connections that became idle after the first pass are closed on their next read.
  registry_->shutdown_idle();
  io_->drain_timer.expires_after(std::chrono::milliseconds(20));
  io_->drain_timer.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e) self->poll_drained();
  });
}

void TcpListener::run_context(std::size_t i) {
  for (;;) {
    try {
      contexts_[i]->run();
      return;
    } catch (const std::exception& e) {
      // Handlers catch their own exceptions; this is a last line of defence.
      logger()->error("{}exception escaped an I/O handler: {}", prefix(), e.what());
    }
  }
}

void TcpListener::wait_signal() {
  io_->signals.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          if (self->registry_->stopping()) {
            logger()->info("{}received SIGHUP while shutting down: ignored", self->prefix());
          } else if (!self->on_reload_) {
            logger()->info("{}received SIGHUP: nothing to reload", self->prefix());
          } else {
            logger()->info("{}received SIGHUP: reloading", self->prefix());
            try {
              self->on_reload_();
            } catch (const std::exception& e) {
              logger()->error("{}reload failed: {}", self->prefix(), e.what());
            }
          }
          self->wait_signal();
          return;
        }
        logger()->info("{}received signal {}", self->prefix(), sig);
        self->begin_shutdown();
      });
}

void TcpListener::run() {
  if (started_.exchange(true)) return;
  if (options_.signals) wait_signal();
  do_accept();
  for (std::size_t i = 1; i < contexts_.size(); ++i)
    threads_.emplace_back([this, i] { run_context(i); });
  run_context(0);
  join();
}

void TcpListener::start() {
  if (started_.exchange(true)) return;
  do_accept();
  for (std::size_t i = 0; i < contexts_.size(); ++i)
    threads_.emplace_back([this, i] { run_context(i); });
}

void TcpListener::join() {
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void TcpListener::stop() {
  if (!started_.load()) {
    // Never served: nothing runs the contexts, so close here.
    registry_->set_stopping();
    boost::system::error_code ec;
    io_->acceptor.close(ec);
    return;
  }
  net::post(*contexts_[0], [self = shared_from_this()] { self->begin_shutdown(); });
}

}  // namespace strop::node
