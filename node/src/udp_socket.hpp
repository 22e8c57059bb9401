// udp_socket.hpp: a datagram socket bound to a configured ADDR:PORT and the per-source key of
// the address rate limit, for the UDP skeleton (datagram_server.hpp) both UDP listeners use.
//
// Threading: bind_udp_socket() and udp_address_key() are plain functions.
// Lifetime: UdpSocket owns its descriptor (closed on destruction; move-only).
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strop::node {

class UdpSocket {
 public:
  UdpSocket() = default;
  ~UdpSocket();
  UdpSocket(UdpSocket&& o) noexcept;
  UdpSocket& operator=(UdpSocket&& o) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }
  const std::string& host() const { return host_; }  // bound address, numeric
  unsigned short port() const { return port_; }      // bound port (the kernel's for port 0)

 private:
  friend Result<UdpSocket> bind_udp_socket(const std::string& listen, std::string_view what,
                                           int receive_buffer);
  int fd_ = -1;
  std::string host_;
  unsigned short port_ = 0;
};

// Binds a UDP socket to `listen` ("ADDR:PORT", IPv4 or IPv6 literal) and asks for
// `receive_buffer` bytes of socket buffer (capped by net.core.rmem_max). `what` names the
// listener and its config key in errors ("pyzor" -> "pyzor.listen: ..."). Errors:
// kInvalidArgument (bad address), kIo (socket or bind failed).
Result<UdpSocket> bind_udp_socket(const std::string& listen, std::string_view what,
                                  int receive_buffer);

// The source address as bytes, without the port: the per-IP rate limiter's key. The view
// points into `a`.
std::string_view udp_address_key(const sockaddr_storage& a);

}  // namespace strop::node
