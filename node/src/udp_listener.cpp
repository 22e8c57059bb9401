// udp_listener.cpp: strop-udp/1 checks over UDP with recvmmsg/sendmmsg (udp_listener.hpp).
#include "node/udp_listener.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <vector>

#include "datagram_server.hpp"
#include "node_common.hpp"
#include "protocol/udp_wire.hpp"

namespace strop::node {

namespace udp = protocol::udp;
using protocol::ApiErrc;

namespace {

constexpr int kReceiveBuffer = 4 << 20;  // SO_RCVBUF request (capped by net.core.rmem_max)
// The smallest valid request: header + one message with one razor-e8 signature. Shorter
// datagrams are never answered, not even with rate_limited.
constexpr std::size_t kMinRequestBytes = udp::kRequestHeaderBytes + 1 + 1 + 12;

// Whether a datagram has a request header we could answer (magic, version, op).
bool request_header(std::string_view d) {
  return d.size() >= kMinRequestBytes && static_cast<std::uint8_t>(d[0]) == udp::kMagic[0] &&
         static_cast<std::uint8_t>(d[1]) == udp::kMagic[1] &&
         static_cast<std::uint8_t>(d[2]) == udp::kVersion &&
         static_cast<std::uint8_t>(d[3]) == udp::kOpCheck;
}

std::uint32_t request_id_of(std::string_view d) {
  auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(d[i]));
  };
  return (b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7);
}

std::uint16_t saturate16(std::uint32_t v) {
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(v, 0xffff));
}

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
    recs.push_back({m->engine, udp::similarity_percent(m->similarity), saturate16(m->reports),
                    saturate16(m->revokes)});
  }
  return recs;
}

class UdpCheckListener final : public DatagramListener {
 public:
  explicit UdpCheckListener(SignatureService& s) : service_(s), metrics_(s.metrics()) {}
  ~UdpCheckListener() override { stop(); }

  std::string summary() const override {
    return fmt::format(
        "udp: {} datagrams, {} answered, {} messages checked, {} dropped (malformed or oversized), "
        "{} rate limited, {} errors",
        datagrams_.value(), answered_.value(), messages_.value(), dropped_.value(),
        rate_limited_.value(), errors_.value());
  }

 private:
  SignatureService& service_;
  NodeMetrics& metrics_;
  udp::Limits limits_;

  Counter datagrams_;
  Counter answered_;
  Counter messages_;
  Counter dropped_;  // malformed, truncated, oversized: no reply
  Counter rate_limited_;
  Counter errors_;

  // Answers one datagram into *out ("" = no reply); returns the metrics result index.
  std::size_t handle(std::string_view d, bool truncated, std::string_view client,
                     std::string* out) {
    out->clear();
    if (truncated || d.size() > limits_.max_datagram_bytes) {
      dropped_.add();
      return result_index(ApiErrc::kTooLarge);
    }
    if (!service_.admit_client(client)) {
      rate_limited_.add();
      if (request_header(d)) {
        udp::CheckReply rep;
        rep.request_id = request_id_of(d);
        rep.status = udp::Status::kRateLimited;
        if (auto bytes = udp::encode_reply(rep, d.size())) *out = std::move(*bytes);
      }
      return result_index(ApiErrc::kRateLimited);
    }
    auto req = udp::decode_request(d, limits_);
    if (!req) {
      dropped_.add();
      return result_index(req.error().code == Errc::kLimitExceeded ? ApiErrc::kLimitExceeded
                                                                   : ApiErrc::kMalformed);
    }
    udp::CheckReply rep;
    rep.request_id = req->request_id;
    rep.results.reserve(req->messages.size());
    std::uint64_t nsigs = 0;
    std::size_t result = 0;
    std::size_t spam = 0;
    for (const auto& sigs : req->messages) {
      nsigs += sigs.size();
      auto r = service_.check(sigs, "udp: ");  // the check core of /v1/check
      if (!r) {
        errors_.add();
        rep.status = udp::Status::kServerError;
        rep.results.clear();
        result = result_index(ApiErrc::kInternal);
        break;
      }
      udp::MessageResult m;
      m.spam = r->spam;
      spam += r->spam ? 1 : 0;
      m.confidence = static_cast<std::uint8_t>(std::clamp(r->confidence, 0, 100));
      m.matches = engine_records(*r);
      rep.results.push_back(std::move(m));
    }
    if (result == 0) {
      messages_.add(req->messages.size());
      service_.count_checked(req->messages.size(), nsigs, spam);
    }
    auto bytes = udp::encode_reply(rep, d.size());
    if (!bytes) {  // cannot happen for a decoded request; never send more than was received
      errors_.add();
      return result_index(ApiErrc::kInternal);
    }
    *out = std::move(*bytes);
    return result;
  }

  // One datagram from the skeleton's receive loop: answer, count, time.
  void on_datagram(const DatagramServer::Datagram& d, DatagramServer& server) override {
    const std::int64_t t0 = steady_ns();
    datagrams_.add();
    std::string out;
    std::size_t result = result_index(ApiErrc::kInternal);
    try {
      result = handle(d.bytes, d.truncated, d.source, &out);
    } catch (const std::exception& e) {
      errors_.add();
      out.clear();
      logger()->error("udp: request failed: {}", e.what());
    }
    metrics_.record(Op::kUdpCheck, result, std::chrono::nanoseconds(steady_ns() - t0));
    if (out.empty()) return;
    answered_.add();
    server.reply(*d.peer, std::move(out));
  }
};

}  // namespace

Result<std::unique_ptr<Listener>> make_udp_listener(SignatureService& service) {
  auto l = std::make_unique<UdpCheckListener>(service);
  const Config& c = service.config();
  STROP_TRY(l->bind(c.udp.listen, "udp", kReceiveBuffer, udp::Limits{}.max_datagram_bytes,
                    c.udp.threads));
  return std::unique_ptr<Listener>(std::move(l));
}

}  // namespace strop::node
