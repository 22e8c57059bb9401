// udp_listener.hpp: strop-node's native binary UDP check listener (strop-udp/1,
// protocol/udp_wire.hpp, docs/protocol.md "## Native UDP check (strop-udp/1)"). Anonymous
// checks only; reports and revokes stay on the authenticated HTTP API.
//
// One UDP socket; Config::udp.threads threads each receive batches of datagrams (recvmmsg),
// answer every valid check with SignatureService::check, the same call the HTTP API's
// /v1/check makes (so verdict and confidence are the HTTP API's), and send the batch's
// replies with one sendmmsg. Every datagram takes a token from the service's per-address
// budget ([rate_limit] ip_per_second/ip_burst); a refused one is answered with status
// rate_limited. Malformed, truncated or oversized
// datagrams get no reply. Each datagram is counted in NodeMetrics under op="udp_check"
// (result ok, malformed, too_large, limit_exceeded, rate_limited, internal) with its latency.
//
// Threading: create(), start() and stop() from one thread (the serve command); the receive
// threads only call the service (safe from any thread).
// Lifetime: the SignatureService must outlive the listener; stop() (or the destructor)
// joins the threads within ~100 ms.
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "node/signature_service.hpp"

namespace strop::node {

class UdpListener {
 public:
  // Binds the service's config().udp.listen. Errors: kInvalidArgument (bad address), kIo
  // (socket/bind).
  static Result<std::unique_ptr<UdpListener>> create(SignatureService& service);
  ~UdpListener();
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  std::string local_host() const;
  unsigned short local_port() const;

  void start();
  void stop();  // idempotent
  // One log line of counters (datagrams, answered, messages, dropped, rate limited, errors).
  std::string summary() const;

 private:
  UdpListener() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strop::node
