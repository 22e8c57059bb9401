// udp_socket.cpp: binding and receive threads of the UDP listeners (udp_socket.hpp).
#include "udp_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "node/config.hpp"
#include "node_common.hpp"

namespace strop::node {

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

UdpSocket::UdpSocket(UdpSocket&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), host_(std::move(o.host_)), port_(o.port_) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    host_ = std::move(o.host_);
    port_ = o.port_;
  }
  return *this;
}

Result<UdpSocket> bind_udp_socket(const std::string& listen, std::string_view what,
                                  int receive_buffer) {
  const std::string name(what);
  auto addr = parse_listen(listen);
  if (!addr) return make_error(Errc::kInvalidArgument, name + ".listen: " + addr.error().message);
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, addr->host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(addr->port);
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, addr->host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(addr->port);
    len = sizeof(sockaddr_in6);
  } else {
    return make_error(Errc::kInvalidArgument, name + ".listen: bad address \"" + addr->host + "\"");
  }
  UdpSocket s;
  s.fd_ = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd_ < 0) return make_error(Errc::kIo, name + ": socket: " + std::strerror(errno));
  ::setsockopt(s.fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return make_error(Errc::kIo,
                      "cannot listen on " + listen + " (" + name + "): " + std::strerror(errno));
  }
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  ::getsockname(s.fd_, reinterpret_cast<sockaddr*>(&local), &llen);
  char buf[INET6_ADDRSTRLEN] = {};
  if (local.ss_family == AF_INET) {
    auto* l4 = reinterpret_cast<sockaddr_in*>(&local);
    ::inet_ntop(AF_INET, &l4->sin_addr, buf, sizeof buf);
    s.port_ = ntohs(l4->sin_port);
  } else {
    auto* l6 = reinterpret_cast<sockaddr_in6*>(&local);
    ::inet_ntop(AF_INET6, &l6->sin6_addr, buf, sizeof buf);
    s.port_ = ntohs(l6->sin6_port);
  }
  s.host_ = buf;
  return s;
}

std::string_view udp_address_key(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&a);
    return {reinterpret_cast<const char*>(&s->sin_addr), sizeof s->sin_addr};
  }
  if (a.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&a);
    return {reinterpret_cast<const char*>(&s->sin6_addr), sizeof s->sin6_addr};
  }
  return {};
}

}  // namespace strop::node
