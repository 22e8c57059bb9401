// udp_transport.cpp: strop-udp/1 exchanges (udp_transport.hpp).
#include "udp_transport.hpp"

#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace strop::agent::detail {

namespace {

// Closes the socket at scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<UdpTransport::Address> UdpTransport::resolve() {
  MutexLock lock(&mu_);
  if (address_) return *address_;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error(Errc::kUnavailable,
                      std::string("cannot resolve ") + url_.host + ": " + ::gai_strerror(rc));
  }
  Address a;
  std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  ::freeaddrinfo(res);
  address_ = a;
  return a;
}

Result<protocol::udp::CheckReply> UdpTransport::exchange(std::string_view datagram,
                                                         std::uint32_t request_id,
                                                         Clock::time_point deadline,
                                                         std::chrono::milliseconds resend_every) {
  if (datagram.empty()) return make_error(Errc::kInvalidArgument, "empty datagram");
  auto addr = resolve();
  if (!addr) return addr.error();
  Fd s;
  s.fd = ::socket(addr->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0)
    return make_error(Errc::kUnavailable, std::string("socket: ") + std::strerror(errno));
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0) {
    return make_error(Errc::kUnavailable, std::string("connect: ") + std::strerror(errno));
  }
  resend_every = std::max(resend_every, std::chrono::milliseconds(1));
  std::array<char, 65536> buf{};
  for (;;) {
    auto now = Clock::now();
    if (now >= deadline) return make_error(Errc::kTimeout, "no reply");
    if (::send(s.fd, datagram.data(), datagram.size(), MSG_NOSIGNAL) < 0) {
      return make_error(Errc::kUnavailable, std::string("send: ") + std::strerror(errno));
    }
    auto resend_at = std::min(deadline, now + resend_every);
    for (;;) {
      now = Clock::now();
      if (now >= resend_at) break;
      auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(resend_at - now).count() + 1;
      pollfd p{s.fd, POLLIN, 0};
      int pr = ::poll(&p, 1, static_cast<int>(wait));
      if (pr < 0 && errno != EINTR)
        return make_error(Errc::kUnavailable, std::string("poll: ") + std::strerror(errno));
      if (pr <= 0) continue;
      ssize_t n = ::recv(s.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        // ECONNREFUSED: an ICMP port unreachable for an earlier datagram.
        return make_error(Errc::kUnavailable, std::string("recv: ") + std::strerror(errno));
      }
      auto rep =
          protocol::udp::decode_reply(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (!rep || rep->request_id != request_id) continue;  // stray or stale: keep waiting
      return rep;
    }
  }
}

}  // namespace strop::agent::detail
