// datagram_server.hpp (private to strop-node): the one UDP skeleton both datagram listeners
// use (strop-udp/1, udp_listener.cpp; Pyzor, pyzor_listener.cpp), as Postfix's
// single_server.c is for its daemons: the listener supplies a handler, the skeleton owns the
// socket, the receiving threads, batching and sending.
//
// Each of `threads` threads polls the socket (at most kPollMillis between checks of stop()),
// receives up to kBatch datagrams with one recvmmsg (one byte more than max_bytes each, so
// an oversized datagram is seen as such), calls the handler for each in order, then sends
// the replies the handlers produced with one sendmmsg. A full batch is followed by another
// recvmmsg at once (more are probably queued). A reply produced later on another thread
// (e.g. after a durable commit) is sent at once with sendto. UDP replies may be lost when
// the socket buffer is full; clients retry.
//
// Threading: bind(), start() and stop() from one thread (the serve command). The handler runs
// on the receiving threads, concurrently; reply() may be called from any thread. An
// exception escaping the handler is logged and that datagram gets no reply.
// Lifetime: stop() (or the destructor) joins the threads within ~kPollMillis; replies sent
// after that through reply() still go out while the server exists.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "node/listener.hpp"
#include "udp_socket.hpp"

namespace strop::node {

// A datagram's source, to answer it.
struct UdpPeer {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

class DatagramServer {
 public:
  static constexpr int kBatch = 32;        // datagrams per recvmmsg / sendmmsg
  static constexpr int kPollMillis = 100;  // stop() latency

  struct Datagram {
    std::string_view bytes;   // at most max_bytes + 1 (more: the rest was cut)
    bool truncated = false;   // the kernel cut it (MSG_TRUNC)
    std::string_view source;  // udp_address_key(peer.addr): the per-address budget's key
    const UdpPeer* peer = nullptr;
  };
  using Handler = std::function<void(const Datagram&, DatagramServer&)>;

  // Binds `listen` (see bind_udp_socket; `what` names the listener in logs and errors) with
  // a receive buffer of `receive_buffer` bytes. Errors: kInvalidArgument, kIo.
  static Result<std::unique_ptr<DatagramServer>> bind(const std::string& listen,
                                                      std::string_view what, int receive_buffer,
                                                      std::size_t max_bytes, Handler handler);
  ~DatagramServer();
  DatagramServer(const DatagramServer&) = delete;
  DatagramServer& operator=(const DatagramServer&) = delete;

  const std::string& host() const { return socket_.host(); }
  unsigned short port() const { return socket_.port(); }

  void start(unsigned threads);  // once
  void stop();                   // idempotent; joins the threads

  // Sends `bytes` to `peer` ("" sends nothing): with the batch's sendmmsg when called on a
  // receiving thread while it handles a batch, else at once. Thread-safe.
  void reply(const UdpPeer& peer, std::string bytes);

 private:
  struct Batch;
  // The batch the calling thread is handling, if any (reply() appends to it).
  // NOLINTNEXTLINE(readability-identifier-naming): a private static member, named as members are
  static thread_local Batch* current_batch_;
  DatagramServer(UdpSocket socket, std::string what, std::size_t max_bytes, Handler handler);
  void run();
  void receive_loop(Batch& batch);
  void flush(Batch& batch);

  UdpSocket socket_;
  const std::string what_;
  const std::size_t max_bytes_;
  const Handler handler_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

// A Listener over a DatagramServer: the address, start and stop; the protocol supplies
// on_datagram() and summary(). A subclass's destructor must call stop() first (its
// on_datagram may run until then).
class DatagramListener : public Listener {
 public:
  std::string local_host() const override { return server_->host(); }
  unsigned short local_port() const override { return server_->port(); }
  void start() override { server_->start(threads_); }
  void stop() override {
    if (server_) server_->stop();
  }
  // Binds the server (once, before start()); its datagrams go to on_datagram() on `threads`
  // threads. Errors: as DatagramServer::bind.
  Result<void> bind(const std::string& listen, std::string_view what, int receive_buffer,
                    std::size_t max_bytes, unsigned threads);

 protected:
  virtual void on_datagram(const DatagramServer::Datagram& d, DatagramServer& server) = 0;

 private:
  std::unique_ptr<DatagramServer> server_;
  unsigned threads_ = 1;
};

}  // namespace strop::node
