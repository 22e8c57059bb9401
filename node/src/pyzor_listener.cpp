// pyzor_listener.cpp: Pyzor over UDP with recvmmsg/sendmmsg (pyzor_listener.hpp).
#include "node/pyzor_listener.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>

#include "datagram_server.hpp"
#include "node_common.hpp"
#include "pyzor_service.hpp"

namespace strop::node {

namespace {

constexpr int kReceiveBuffer = 4 << 20;  // SO_RCVBUF request (capped by net.core.rmem_max)

class PyzorUdpListener final : public DatagramListener {
 public:
  explicit PyzorUdpListener(std::unique_ptr<PyzorService> service) : service_(std::move(service)) {}
  ~PyzorUdpListener() override { stop(); }

  std::string summary() const override {
    auto& c = service_->counters();
    return fmt::format(
        "pyzor: {} requests, {} checks ({} hits), {} signatures reported, {} whitelisted, {} auth "
        "failures "
        "({} replays), {} denied, {} bad requests, {} rate limited (dropped), {} error replies "
        "suppressed "
        "(larger than their request), {} errors",
        c.requests.value(), c.checks.value(), c.check_hits.value(), c.reported_sigs.value(),
        c.whitelisted_sigs.value(), c.auth_failed.value(), c.replays.value(), c.denied.value(),
        c.bad_requests.value(), c.rate_limited.value(), c.suppressed.value(), c.errors.value());
  }

 private:
  // One datagram: the reply goes out with the receive batch, or at once when it comes from
  // the Store's writer thread after a commit.
  void on_datagram(const DatagramServer::Datagram& d, DatagramServer& s) override {
    service_->handle(d.bytes, d.source,
                     [&s, peer = *d.peer](std::string out) { s.reply(peer, std::move(out)); });
  }

  std::unique_ptr<PyzorService> service_;
};

}  // namespace

Result<std::unique_ptr<Listener>> make_pyzor_listener(SignatureService& service,
                                                      const RazorAccounts& accounts) {
  auto svc = PyzorService::create(service, accounts);
  if (!svc) return svc.error();
  auto l = std::make_unique<PyzorUdpListener>(std::move(*svc));
  const PyzorConfig& c = service.config().pyzor;
  // Receive buffers one byte larger than the limit, so an oversized datagram is seen as such
  // (and answered 400) instead of silently cut.
  STROP_TRY(l->bind(c.listen, "pyzor", kReceiveBuffer, c.limits.max_datagram_bytes, c.threads));
  return std::unique_ptr<Listener>(std::move(l));
}

}  // namespace strop::node
