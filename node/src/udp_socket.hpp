// udp_socket.hpp: what strop-node's two UDP listeners (Pyzor, pyzor_listener.cpp; strop-udp/1,
// udp_listener.cpp) share: a datagram socket bound to a configured ADDR:PORT, the per-source
// key of the IP rate limiter, and the receive threads that run a listener's loop.
//
// Threading: bind_udp_socket() and udp_address_key() are plain functions. ReceiveThreads is
// driven from one thread (the serve command): start() once, stop() joins.
// Lifetime: UdpSocket owns its descriptor (closed on destruction; move-only).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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
  unsigned short port() const { return port_; }       // bound port (the kernel's for port 0)

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

// Runs `loop` on `n` threads until it returns; an exception escaping it is logged as
// "<what>: exception escaped the receive loop" and the loop is entered again. The loop polls
// stopping() (at least every 100 ms) and returns once it is true.
class ReceiveThreads {
 public:
  void start(unsigned n, std::string what, std::function<void()> loop);  // once; not after stop()
  void stop();  // sets stopping() and joins; idempotent
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace strop::node
