// tcp_listener.hpp (private to strop-node): the one TCP listener skeleton both stream
// protocols use (the native HTTP API, server.cpp; Razor2, razor_listener.cpp), as Postfix's
// single_server.c is for its daemons: the protocol supplies what to do with an admitted
// socket, the skeleton does the rest.
//
// It binds ADDR:PORT, runs one io_context per I/O thread (a connection lives on one thread
// for its whole life, so its handlers never hop cores), accepts into a strand of the next
// context, backs off 100 ms when accept fails (EMFILE and friends), and admits each
// connection through a ConnGuard (conn_guard.hpp: max_connections, per-address share,
// reserved slots): an admitted socket goes to the `accept` callback with its Slot, a refused
// one to `refuse` and is then closed. Connections register in the ConnectionRegistry so a
// shutdown can reach them.
//
// Signals (Options::signals, registered at bind()): SIGHUP runs `on_reload` on context 0's
// thread and never stops the listener; SIGTERM/SIGINT begin the shutdown.
//
// Shutdown (stop(), or SIGTERM/SIGINT when Options::signals): stop accepting, run
// `on_shutdown`, ask every connection to close once idle (ListenerConnection::
// shutdown_if_idle, again every 20 ms for those that became idle since), and when none is
// left let run() return; after drain_timeout the remaining connections are cut.
//
// Threading: bind() and run()/start() from one thread; stop() from any thread. The
// callbacks run on the I/O threads. ConnectionRegistry is safe for concurrent use.
// Lifetime: connections hold the registry (shared_ptr), not the listener; destroy the
// listener after run() returned or join().
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "base/thread_annotations.hpp"
#include "node/conn_guard.hpp"

namespace strop::node {

// What a listener needs of a connection at shutdown.
class ListenerConnection {
 public:
  virtual ~ListenerConnection() = default;
  // Called at shutdown (from an I/O thread): close at once unless a request is in flight,
  // in which case close after its reply. Must post to the connection's own strand.
  virtual void shutdown_if_idle() = 0;
};

// The open connections of one listener and its admission guard, shared with the
// connections themselves (a connection outlives the accept that made it).
class ConnectionRegistry {
 public:
  explicit ConnectionRegistry(const ConnLimits& limits) : guard_(limits) {}
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;

  ConnGuard& guard() { return guard_; }
  // A connection registers once started and unregisters in its destructor.
  void add(ListenerConnection* c, std::weak_ptr<ListenerConnection> w) EXCLUDES(mu_);
  void remove(ListenerConnection* c) EXCLUDES(mu_);
  std::size_t active() const { return active_.load(std::memory_order_relaxed); }
  // Set once shutdown began: connections stop reading new requests.
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  // Returns false when it was already set.
  bool set_stopping() { return !stopping_.exchange(true); }
  // Asks every open connection to close once idle.
  void shutdown_idle() EXCLUDES(mu_);

 private:
  ConnGuard guard_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> active_{0};
  Mutex mu_;
  std::unordered_map<ListenerConnection*, std::weak_ptr<ListenerConnection>> connections_
      GUARDED_BY(mu_);
};

class TcpListener : public std::enable_shared_from_this<TcpListener> {
 public:
  using tcp = boost::asio::ip::tcp;

  struct Options {
    std::string name;        // log prefix ("razor"); "" for the native API
    std::string listen;      // ADDR:PORT
    std::string listen_key;  // the config key, for errors ("listen", "razor.listen")
    unsigned threads = 1;    // I/O threads (one io_context each)
    ConnLimits limits;
    std::chrono::milliseconds drain_timeout{10'000};  // after stop(): connections cut
    bool signals = false;  // SIGTERM/SIGINT begin the shutdown, SIGHUP reloads (at bind())
  };
  // An admitted connection: its socket (bound to a strand of its io_context) and slot.
  using Accept = std::function<void(tcp::socket&& socket, ConnGuard::Slot slot)>;
  // A refused one (over a ConnGuard limit), before the skeleton closes it.
  using Refuse = std::function<void(tcp::socket& socket, const Error& why)>;

  // Binds and listens. Errors: kInvalidArgument (bad address), kIo (bind/listen, signals).
  static Result<std::shared_ptr<TcpListener>> bind(Options options, Accept accept, Refuse refuse,
                                                   std::function<void()> on_shutdown = {});

  // What SIGHUP runs (Options::signals), on context 0's thread; set before run(). Without
  // it SIGHUP is logged and ignored.
  void set_on_reload(std::function<void()> on_reload) { on_reload_ = std::move(on_reload); }
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  const std::shared_ptr<ConnectionRegistry>& registry() const { return registry_; }
  const std::string& host() const { return host_; }
  unsigned short port() const { return port_; }

  // Accepts and serves until the shutdown completes; the calling thread runs context 0.
  void run();
  // As run(), on background threads (returns at once); join() waits for them.
  void start();
  void join();
  // Begins the shutdown. Thread-safe; idempotent.
  void stop();

 private:
  TcpListener(Options options, Accept accept, Refuse refuse, std::function<void()> on_shutdown);
  boost::asio::io_context& pick_context();
  void do_accept();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  void wait_signal();
  void begin_shutdown();
  void poll_drained();
  void run_context(std::size_t i);
  std::string prefix() const {
    return options_.name.empty() ? std::string() : options_.name + ": ";
  }

  // Constant after bind().
  const Options options_;
  const Accept accept_;
  const Refuse refuse_;
  const std::function<void()> on_shutdown_;
  std::function<void()> on_reload_;  // set before run()
  std::shared_ptr<ConnectionRegistry> registry_;
  std::string host_;
  unsigned short port_ = 0;

  // The I/O objects; those of context 0 (acceptor, signals, timers) run on its thread only.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<WorkGuard> work_;  // keep idle contexts running until shutdown
  std::atomic<std::size_t> next_context_{0};
  struct Io;
  std::unique_ptr<Io> io_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::vector<std::thread> threads_;  // start(): every context; run(): contexts 1..n-1
  std::atomic<bool> started_{false};
};

}  // namespace strop::node
