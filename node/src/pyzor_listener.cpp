// pyzor_listener.cpp: Pyzor over UDP with recvmmsg/sendmmsg (pyzor_listener.hpp).
#include "node/pyzor_listener.hpp"

#include "node_common.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "pyzor_service.hpp"
#include "udp_socket.hpp"

namespace strop::node {

namespace {

constexpr int kBatch = 32;               // datagrams per recvmmsg
constexpr int kPollMillis = 100;         // stop() latency
constexpr int kReceiveBuffer = 4 << 20;  // SO_RCVBUF request (capped by net.core.rmem_max)

struct Peer {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// Replies produced synchronously while a receive batch is handled, sent with one sendmmsg.
struct SendBatch {
  const void* owner = nullptr;
  std::vector<std::pair<Peer, std::string>> out;
};
thread_local SendBatch* tl_batch = nullptr;

}  // namespace

struct PyzorListener::Impl {
  UdpSocket socket;
  int fd = -1;  // socket.fd()
  std::unique_ptr<PyzorService> service;
  ReceiveThreads threads;
  unsigned nthreads = 1;

  void send_one(const Peer& p, const std::string& bytes) const {
    ::sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&p.addr),
             p.len);
  }

  void flush(SendBatch& b) const {
    std::size_t i = 0;
    while (i < b.out.size()) {
      std::array<mmsghdr, kBatch> msgs{};
      std::array<iovec, kBatch> iov{};
      std::size_t n = std::min<std::size_t>(kBatch, b.out.size() - i);
      for (std::size_t k = 0; k < n; ++k) {
        auto& [peer, bytes] = b.out[i + k];
        iov[k].iov_base = bytes.data();
        iov[k].iov_len = bytes.size();
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &peer.addr;
        msgs[k].msg_hdr.msg_namelen = peer.len;
      }
      int sent = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent <= 0) {
        // Socket buffer full or a transient error: UDP replies may be lost; the client retries.
        i += n;
      } else {
        i += static_cast<std::size_t>(sent);
      }
    }
    b.out.clear();
  }

  void run() {
    // One receive buffer per datagram, one byte larger than the limit so an oversized
    // datagram is seen as such (and answered 400) instead of silently cut.
    const std::size_t cap = service_limits_max() + 1;
    std::vector<char> storage(static_cast<std::size_t>(kBatch) * cap);
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_storage, kBatch> addrs{};
    SendBatch batch;
    batch.owner = this;
    while (!threads.stopping()) {
      pollfd p{fd, POLLIN, 0};
      int pr = ::poll(&p, 1, kPollMillis);
      if (pr <= 0) continue;
      for (int k = 0; k < kBatch; ++k) {
        iov[k].iov_base = storage.data() + static_cast<std::size_t>(k) * cap;
        iov[k].iov_len = cap;
        msgs[k].msg_hdr = msghdr{};
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &addrs[k];
        msgs[k].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msgs[k].msg_len = 0;
      }
      int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) continue;
      tl_batch = &batch;
      for (int k = 0; k < n; ++k) {
        Peer peer;
        peer.addr = addrs[k];
        peer.len = msgs[k].msg_hdr.msg_namelen;
        std::size_t len = std::min<std::size_t>(msgs[k].msg_len, cap);
        std::string_view dgram(static_cast<const char*>(iov[k].iov_base), len);
        std::string key(udp_address_key(peer.addr));
        try {
          service->handle(dgram, key, [this, peer](std::string out) {
            if (out.empty()) return;  // nothing to answer
            if (tl_batch != nullptr && tl_batch->owner == this) {
              tl_batch->out.emplace_back(peer, std::move(out));
            } else {
              send_one(peer, out);  // a commit acknowledgement on the Store's writer thread
            }
          });
        } catch (const std::exception& e) {
          logger()->error("pyzor: request failed: {}", e.what());
        }
      }
      tl_batch = nullptr;
      flush(batch);
    }
  }

  std::size_t limit_ = protocol::pyzor::Limits{}.max_datagram_bytes;
  std::size_t service_limits_max() const { return limit_; }
};

Result<std::unique_ptr<PyzorListener>> PyzorListener::create(SignatureService& service,
                                                             const RazorAccounts& accounts) {
  const Config& config = service.config();
  auto impl = std::make_unique<Impl>();
  impl->limit_ = config.pyzor.limits.max_datagram_bytes;
  auto svc = PyzorService::create(service, accounts);
  if (!svc) return svc.error();
  impl->service = std::move(*svc);
  impl->nthreads = std::max(1u, config.pyzor.threads);

  auto sock = bind_udp_socket(config.pyzor.listen, "pyzor", kReceiveBuffer);
  if (!sock) return sock.error();
  impl->socket = std::move(*sock);
  impl->fd = impl->socket.fd();
  std::unique_ptr<PyzorListener> l(new PyzorListener());
  l->impl_ = std::move(impl);
  return l;
}

PyzorListener::~PyzorListener() {
  if (impl_) stop();
}

std::string PyzorListener::local_host() const { return impl_->socket.host(); }
unsigned short PyzorListener::local_port() const { return impl_->socket.port(); }

void PyzorListener::start() {
  Impl* impl = impl_.get();
  impl->threads.start(impl->nthreads, "pyzor", [impl] { impl->run(); });
}

void PyzorListener::stop() {
  impl_->threads.stop();
}

std::string PyzorListener::summary() const {
  auto& c = impl_->service->counters();
  return fmt::format(
      "pyzor: {} requests, {} checks ({} hits), {} signatures reported, {} whitelisted, {} auth failures "
      "({} replays), {} denied, {} bad requests, {} rate limited (dropped), {} error replies suppressed "
      "(larger than their request), {} errors",
      c.requests.value(), c.checks.value(), c.check_hits.value(), c.reported_sigs.value(), c.whitelisted_sigs.value(),
      c.auth_failed.value(), c.replays.value(), c.denied.value(), c.bad_requests.value(), c.rate_limited.value(),
      c.suppressed.value(), c.errors.value());
}

}  // namespace strop::node
