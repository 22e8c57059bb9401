// datagram_server.cpp: the UDP receive/answer skeleton (datagram_server.hpp).
#include "datagram_server.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include "node_common.hpp"

namespace strop::node {

// One receiving thread's buffers: the datagrams of one recvmmsg and the replies to send.
struct DatagramServer::Batch {
  std::vector<char> storage;  // kBatch receive buffers of max_bytes + 1
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<UdpPeer, kBatch> peers{};
  std::vector<std::pair<UdpPeer, std::string>> out;  // replies of this batch
  std::array<mmsghdr, kBatch> out_msgs{};
  std::array<iovec, kBatch> out_iov{};
  const DatagramServer* owner = nullptr;
};

thread_local DatagramServer::Batch* DatagramServer::current_batch_ = nullptr;

DatagramServer::DatagramServer(UdpSocket socket, std::string what, std::size_t max_bytes,
                               Handler handler)
    : socket_(std::move(socket)),
      what_(std::move(what)),
      max_bytes_(max_bytes),
      handler_(std::move(handler)) {}

Result<std::unique_ptr<DatagramServer>> DatagramServer::bind(const std::string& listen,
                                                             std::string_view what,
                                                             int receive_buffer,
                                                             std::size_t max_bytes,
                                                             Handler handler) {
  auto sock = bind_udp_socket(listen, what, receive_buffer);
  if (!sock) return sock.error();
  return std::unique_ptr<DatagramServer>(
      new DatagramServer(std::move(*sock), std::string(what), max_bytes, std::move(handler)));
}

DatagramServer::~DatagramServer() { stop(); }

void DatagramServer::start(unsigned threads) {
  if (!threads_.empty() || stopping_.load()) return;
  for (unsigned i = 0; i < std::max(1u, threads); ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          run();
          return;
        } catch (const std::exception& e) {
          logger()->error("{}: exception escaped the receive loop: {}", what_, e.what());
        }
      }
    });
  }
}

void DatagramServer::stop() {
  stopping_.store(true);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void DatagramServer::reply(const UdpPeer& peer, std::string bytes) {
  if (bytes.empty()) return;
  if (current_batch_ != nullptr && current_batch_->owner == this) {
    current_batch_->out.emplace_back(peer, std::move(bytes));
    return;
  }
  // Not on a receiving thread (e.g. a commit acknowledgement on the Store's writer thread).
  ::sendto(socket_.fd(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
           reinterpret_cast<const sockaddr*>(&peer.addr), peer.len);
}

void DatagramServer::run() {
  Batch batch;
  batch.owner = this;
  batch.storage.resize(static_cast<std::size_t>(kBatch) * (max_bytes_ + 1));
  batch.out.reserve(kBatch);
  receive_loop(batch);
}

void DatagramServer::receive_loop(Batch& b) {
  const int fd = socket_.fd();
  // One byte more than the limit per datagram, so an oversized one is seen as such.
  const std::size_t cap = max_bytes_ + 1;
  bool wait = true;
  while (!stopping_.load(std::memory_order_relaxed)) {
    if (wait) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMillis) <= 0) continue;
    }
    for (int k = 0; k < kBatch; ++k) {
      b.iov[k].iov_base = b.storage.data() + static_cast<std::size_t>(k) * cap;
      b.iov[k].iov_len = cap;
      b.msgs[k].msg_hdr = msghdr{};
      b.msgs[k].msg_hdr.msg_iov = &b.iov[k];
      b.msgs[k].msg_hdr.msg_iovlen = 1;
      b.msgs[k].msg_hdr.msg_name = &b.peers[k].addr;
      b.msgs[k].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      b.msgs[k].msg_len = 0;
    }
    int n = ::recvmmsg(fd, b.msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      wait = true;  // drained (EAGAIN) or a transient error: back to poll
      continue;
    }
    wait = n < kBatch;  // a full batch: more are probably queued, receive again at once
    current_batch_ = &b;
    for (int k = 0; k < n; ++k) {
      b.peers[k].len = b.msgs[k].msg_hdr.msg_namelen;
      Datagram d;
      d.bytes = std::string_view(static_cast<const char*>(b.iov[k].iov_base),
                                 std::min<std::size_t>(b.msgs[k].msg_len, cap));
      d.truncated = (b.msgs[k].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      d.source = udp_address_key(b.peers[k].addr);
      d.peer = &b.peers[k];
      try {
        handler_(d, *this);
      } catch (const std::exception& e) {
        logger()->error("{}: request failed: {}", what_, e.what());
      }
    }
    current_batch_ = nullptr;
    flush(b);
  }
}

// Sends the batch's replies with sendmmsg (kBatch at a time).
void DatagramServer::flush(Batch& b) {
  const int fd = socket_.fd();
  std::size_t i = 0;
  while (i < b.out.size()) {
    std::size_t n = std::min<std::size_t>(kBatch, b.out.size() - i);
    for (std::size_t k = 0; k < n; ++k) {
      auto& [peer, bytes] = b.out[i + k];
      b.out_iov[k].iov_base = bytes.data();
      b.out_iov[k].iov_len = bytes.size();
      b.out_msgs[k].msg_hdr = msghdr{};
      b.out_msgs[k].msg_hdr.msg_iov = &b.out_iov[k];
      b.out_msgs[k].msg_hdr.msg_iovlen = 1;
      b.out_msgs[k].msg_hdr.msg_name = &peer.addr;
      b.out_msgs[k].msg_hdr.msg_namelen = peer.len;
    }
    int sent =
        ::sendmmsg(fd, b.out_msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
    // Socket buffer full or an unreachable peer: skip one reply (UDP; the client retries).
    i += sent <= 0 ? 1 : static_cast<std::size_t>(sent);
  }
  b.out.clear();
}

Result<void> DatagramListener::bind(const std::string& listen, std::string_view what,
                                    int receive_buffer, std::size_t max_bytes, unsigned threads) {
  auto server = DatagramServer::bind(
      listen, what, receive_buffer, max_bytes,
      [this](const DatagramServer::Datagram& d, DatagramServer& s) { on_datagram(d, s); });
  if (!server) return server.error();
  server_ = std::move(*server);
  threads_ = std::max(1u, threads);
  return {};
}

}  // namespace strop::node
