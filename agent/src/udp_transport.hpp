// udp_transport.hpp (private to strop_agent): strop-udp/1 check exchanges with one node
// (a `udp://host:port` node URL; docs/protocol.md "Native UDP check").
//
// exchange() opens a connected UDP socket, sends the request datagram, and waits for the
// reply carrying the same request id, resending the same datagram every `resend_every`
// until the deadline (checks are idempotent, so a duplicate answer is harmless). Datagrams
// from other addresses never reach a connected socket; replies with another id or that do
// not parse are ignored. The host is resolved with getaddrinfo on the calling thread, once
// per transport (a numeric address never blocks; a name may take as long as the resolver).
//
// Thread-safety: exchange() may be called from any number of threads at once (a socket per
// call; the resolved address is cached under mu_). Lifetime: plain value semantics.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/node_url.hpp"
#include "base/mutex.hpp"
#include "base/result.hpp"
#include "protocol/udp_wire.hpp"

namespace strop::agent::detail {

class UdpTransport {
 public:
  using Clock = std::chrono::steady_clock;

  explicit UdpTransport(NodeUrl url) : url_(std::move(url)) {}
  const NodeUrl& url() const { return url_; }

  // Sends `datagram` (an encoded request whose id is `request_id`) and returns the decoded
  // reply. Errors: kTimeout (no reply before the deadline), kUnavailable (name resolution,
  // socket or send failure, e.g. ICMP port unreachable), kInvalidArgument (empty datagram).
  Result<protocol::udp::CheckReply> exchange(std::string_view datagram, std::uint32_t request_id,
                                             Clock::time_point deadline,
                                             std::chrono::milliseconds resend_every);

 private:
  struct Address {
    sockaddr_storage addr{};
    socklen_t len = 0;
  };
  Result<Address> resolve() EXCLUDES(mu_);

  NodeUrl url_;
  Mutex mu_;
  std::optional<Address> address_ GUARDED_BY(mu_);
};

}  // namespace strop::agent::detail
