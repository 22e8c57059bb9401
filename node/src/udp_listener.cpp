// udp_listener.cpp: strop-udp/1 checks over UDP with recvmmsg/sendmmsg (udp_listener.hpp).
#include "node/udp_listener.hpp"

#include "node_common.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "protocol/udp_wire.hpp"
#include "udp_socket.hpp"

namespace strop::node {

namespace udp = protocol::udp;
using protocol::ApiErrc;

namespace {

constexpr int kBatch = 32;               // datagrams per recvmmsg / sendmmsg
constexpr int kPollMillis = 100;         // stop() latency
constexpr int kReceiveBuffer = 4 << 20;  // SO_RCVBUF request (capped by net.core.rmem_max)
// The smallest valid request: header + one message with one razor-e8 signature. Shorter
// datagrams are never answered, not even with rate_limited.
constexpr std::size_t kMinRequestBytes = udp::kRequestHeaderBytes + 1 + 1 + 12;

// Whether a datagram has a request header we could answer (magic, version, op).
bool request_header(std::string_view d) {
  return d.size() >= kMinRequestBytes && static_cast<std::uint8_t>(d[0]) == udp::kMagic[0] &&
         static_cast<std::uint8_t>(d[1]) == udp::kMagic[1] && static_cast<std::uint8_t>(d[2]) == udp::kVersion &&
         static_cast<std::uint8_t>(d[3]) == udp::kOpCheck;
}

std::uint32_t request_id_of(std::string_view d) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<std::uint8_t>(d[i])); };
  return (b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7);
}

std::uint16_t saturate16(std::uint32_t v) { return static_cast<std::uint16_t>(std::min<std::uint32_t>(v, 0xffff)); }

// One record per matched engine: its strongest match (highest confidence, then similarity).
std::vector<udp::MatchRecord> engine_records(const storage::CheckOutcome& out) {
  std::array<const storage::Match*, 8> best{};
  for (const auto& m : out.matches) {
    auto e = static_cast<std::size_t>(m.engine);
    if (e >= best.size()) continue;
    const storage::Match* b = best[e];
    if (b == nullptr || m.confidence > b->confidence ||
        (m.confidence == b->confidence && m.similarity > b->similarity)) {
      best[e] = &m;
    }
  }
  std::vector<udp::MatchRecord> recs;
  for (const auto* m : best) {
    if (m == nullptr) continue;
    recs.push_back({m->engine, udp::similarity_percent(m->similarity), saturate16(m->reports), saturate16(m->revokes)});
  }
  return recs;
}

}  // namespace

struct UdpListener::Impl {
  SignatureService& service;
  NodeMetrics& metrics;
  udp::Limits limits;
  UdpSocket socket;
  unsigned nthreads = 1;
  ReceiveThreads threads;

  Counter datagrams;
  Counter answered;
  Counter messages;
  Counter dropped;  // malformed, truncated, oversized: no reply
  Counter rate_limited;
  Counter errors;

  explicit Impl(SignatureService& s) : service(s), metrics(s.metrics()) {}

  // Answers one datagram into *out ("" = no reply); returns the metrics result index.
  std::size_t handle(std::string_view d, bool truncated, std::string_view client, std::string* out) {
    out->clear();
    if (truncated || d.size() > limits.max_datagram_bytes) {
      dropped.add();
      return result_index(ApiErrc::kTooLarge);
    }
    if (!service.admit_client(client)) {
      rate_limited.add();
      if (request_header(d)) {
        udp::CheckReply rep;
        rep.request_id = request_id_of(d);
        rep.status = udp::Status::kRateLimited;
        if (auto bytes = udp::encode_reply(rep, d.size())) *out = std::move(*bytes);
      }
      return result_index(ApiErrc::kRateLimited);
    }
    auto req = udp::decode_request(d, limits);
    if (!req) {
      dropped.add();
      return result_index(req.error().code == Errc::kLimitExceeded ? ApiErrc::kLimitExceeded : ApiErrc::kMalformed);
    }
    udp::CheckReply rep;
    rep.request_id = req->request_id;
    rep.results.reserve(req->messages.size());
    std::uint64_t nsigs = 0;
    std::size_t result = 0;
    for (const auto& sigs : req->messages) {
      nsigs += sigs.size();
      auto r = service.check(sigs, "udp: ");  // the check core of /v1/check
      if (!r) {
        errors.add();
        rep.status = udp::Status::kServerError;
        rep.results.clear();
        result = result_index(ApiErrc::kInternal);
        break;
      }
      udp::MessageResult m;
      m.spam = r->spam;
      m.confidence = static_cast<std::uint8_t>(std::clamp(r->confidence, 0, 100));
      m.matches = engine_records(*r);
      rep.results.push_back(std::move(m));
    }
    if (result == 0) {
      messages.add(req->messages.size());
      service.count_checked(req->messages.size(), nsigs);
    }
    auto bytes = udp::encode_reply(rep, d.size());
    if (!bytes) {  // cannot happen for a decoded request; never send more than was received
      errors.add();
      return result_index(ApiErrc::kInternal);
    }
    *out = std::move(*bytes);
    return result;
  }

  void run() {
    const int fd = socket.fd();
    // One byte more than the limit per datagram, so an oversized one is seen as such.
    const std::size_t cap = limits.max_datagram_bytes + 1;
    std::vector<char> storage(static_cast<std::size_t>(kBatch) * cap);
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_storage, kBatch> addrs{};
    std::array<mmsghdr, kBatch> out_msgs{};
    std::array<iovec, kBatch> out_iov{};
    std::array<std::string, kBatch> replies;
    for (auto& r : replies) r.reserve(cap);
    bool wait = true;
    while (!threads.stopping()) {
      if (wait) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kPollMillis) <= 0) continue;
      }
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
      if (n <= 0) {
        wait = true;  // drained (EAGAIN) or a transient error: back to poll
        continue;
      }
      wait = n < kBatch;  // a full batch: more are probably queued, receive again at once
      unsigned nout = 0;
      for (int k = 0; k < n; ++k) {
        const std::int64_t t0 = steady_ns();
        datagrams.add();
        std::size_t len = std::min<std::size_t>(msgs[k].msg_len, cap);
        std::string_view dgram(static_cast<const char*>(iov[k].iov_base), len);
        bool truncated = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        std::string& out = replies[nout];
        std::size_t result = result_index(ApiErrc::kInternal);
        try {
          result = handle(dgram, truncated, udp_address_key(addrs[k]), &out);
        } catch (const std::exception& e) {
          errors.add();
          out.clear();
          logger()->error("udp: request failed: {}", e.what());
        }
        metrics.record(Op::kUdpCheck, result, std::chrono::nanoseconds(steady_ns() - t0));
        if (out.empty()) continue;
        answered.add();
        out_iov[nout].iov_base = out.data();
        out_iov[nout].iov_len = out.size();
        out_msgs[nout].msg_hdr = msghdr{};
        out_msgs[nout].msg_hdr.msg_iov = &out_iov[nout];
        out_msgs[nout].msg_hdr.msg_iovlen = 1;
        out_msgs[nout].msg_hdr.msg_name = &addrs[k];
        out_msgs[nout].msg_hdr.msg_namelen = msgs[k].msg_hdr.msg_namelen;
        ++nout;
      }
      unsigned sent = 0;
      while (sent < nout) {
        int s = ::sendmmsg(fd, out_msgs.data() + sent, nout - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (s <= 0) {
          // Socket buffer full or an unreachable peer: skip one reply (UDP; the client retries).
          ++sent;
        } else {
          sent += static_cast<unsigned>(s);
        }
      }
    }
  }
};

Result<std::unique_ptr<UdpListener>> UdpListener::create(SignatureService& service) {
  const Config& config = service.config();
  auto impl = std::make_unique<Impl>(service);
  impl->nthreads = std::max(1u, config.udp.threads);
  auto sock = bind_udp_socket(config.udp.listen, "udp", kReceiveBuffer);
  if (!sock) return sock.error();
  impl->socket = std::move(*sock);
  std::unique_ptr<UdpListener> l(new UdpListener());
  l->impl_ = std::move(impl);
  return l;
}

UdpListener::~UdpListener() {
  if (impl_) stop();
}

std::string UdpListener::local_host() const { return impl_->socket.host(); }
unsigned short UdpListener::local_port() const { return impl_->socket.port(); }

void UdpListener::start() {
  Impl* impl = impl_.get();
  impl->threads.start(impl->nthreads, "udp", [impl] { impl->run(); });
}

void UdpListener::stop() {
  impl_->threads.stop();
}

std::string UdpListener::summary() const {
  const Impl& i = *impl_;
  return fmt::format("udp: {} datagrams, {} answered, {} messages checked, {} dropped (malformed or oversized), "
                     "{} rate limited, {} errors",
                     i.datagrams.value(), i.answered.value(), i.messages.value(), i.dropped.value(),
                     i.rate_limited.value(), i.errors.value());
}

}  // namespace strop::node
