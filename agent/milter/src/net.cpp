#include "milter/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace strop::milter {
namespace {

Error sys_error(Errc code, std::string_view what) {
  return make_error(code, std::string(what) + ": " + std::strerror(errno));
}

Result<std::uint16_t> parse_port(std::string_view s, bool listening) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || (v == 0 && !listening) || v > 65535) {
    return make_error(Errc::kInvalidArgument, "bad port '" + std::string(s) + "'");
  }
  return static_cast<std::uint16_t>(v);
}

Result<Endpoint> tcp_endpoint(std::string_view host, std::string_view port, bool listening) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return make_error(Errc::kInvalidArgument, "empty host");
  auto p = parse_port(port, listening);
  if (!p) return p.error();
  Endpoint ep;
  ep.kind = Endpoint::Kind::kTcp;
  ep.host = std::string(host);
  ep.port = *p;
  return ep;
}

// Waits for `events` on fd until the deadline. kTimeout / kIo.
Result<void> wait_fd(int fd, short events, const Deadline& deadline) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int rc = ::poll(&pfd, 1, deadline.poll_ms());
    if (rc > 0) return {};
    if (rc == 0) return make_error(Errc::kTimeout, "deadline passed");
    if (errno != EINTR) return sys_error(Errc::kIo, "poll");
  }
}

Result<Socket> connect_addr(const sockaddr* sa, socklen_t len, int family, const Deadline& deadline,
                            const std::string& label) {
  Socket s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.valid()) return sys_error(Errc::kIo, "socket");
  if (family != AF_UNIX) {
    int one = 1;
    ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (::connect(s.fd(), sa, len) == 0) return s;
  if (errno != EINPROGRESS && errno != EAGAIN) {
    return sys_error(Errc::kUnavailable, "connect " + label);
  }
  auto w = wait_fd(s.fd(), POLLOUT, deadline);
  if (!w) {
    return make_error(w.error().code, "connect " + label + ": " + w.error().message);
  }
  int err = 0;
  socklen_t elen = sizeof err;
  ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) {
    return make_error(Errc::kUnavailable, "connect " + label + ": " + std::strerror(err));
  }
  return s;
}

}  // namespace

std::string Endpoint::text() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(std::string_view text, bool listening) {
  if (text.starts_with("unix:") || text.starts_with("local:")) {
    auto path = text.substr(text.find(':') + 1);
    if (path.empty() || path.front() != '/') {
      return make_error(Errc::kInvalidArgument, "unix socket path must be absolute");
    }
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return make_error(Errc::kInvalidArgument, "unix socket path too long");
    }
    Endpoint ep;
    ep.kind = Endpoint::Kind::kUnix;
    ep.path = std::string(path);
    return ep;
  }
  if (!text.empty() && text.front() == '/')
    return parse_endpoint("unix:" + std::string(text), listening);
  if (text.starts_with("inet:") || text.starts_with("inet6:")) {
    auto rest = text.substr(text.find(':') + 1);
    auto at = rest.find('@');
    if (at == std::string_view::npos) return tcp_endpoint("127.0.0.1", rest, listening);
    return tcp_endpoint(rest.substr(at + 1), rest.substr(0, at), listening);
  }
  if (text.starts_with("tcp:")) text.remove_prefix(4);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return make_error(Errc::kInvalidArgument,
                      "endpoint '" + std::string(text) + "' is not unix:PATH or ADDR:PORT");
  }
  return tcp_endpoint(text.substr(0, colon), text.substr(colon + 1), listening);
}

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Socket::~Socket() { close(); }

void Socket::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Result<Socket> connect_to(const Endpoint& ep, const Deadline& deadline) {
  if (deadline.expired()) return make_error(Errc::kTimeout, "deadline passed before connect");
  if (ep.kind == Endpoint::Kind::kUnix) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, ep.path.data(), ep.path.size());
    return connect_addr(reinterpret_cast<const sockaddr*>(&sun), sizeof sun, AF_UNIX, deadline,
                        ep.text());
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(ep.port);
  int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error(Errc::kUnavailable,
                      "resolve " + ep.host + ": " + std::string(::gai_strerror(rc)));
  }
  Result<Socket> out = make_error(Errc::kUnavailable, "no address for " + ep.host);
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    out = connect_addr(ai->ai_addr, ai->ai_addrlen, ai->ai_family, deadline, ep.text());
    if (out.ok() || out.error().code == Errc::kTimeout) break;
  }
  ::freeaddrinfo(res);
  return out;
}

Result<void> send_all(Socket& s, std::string_view data, const Deadline& deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(s.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto w = wait_fd(s.fd(), POLLOUT, deadline);
      if (!w) return w.error();
      continue;
    }
    return sys_error(Errc::kIo, "send");
  }
  return {};
}

Result<std::size_t> recv_some(Socket& s, char* buf, std::size_t cap, const Deadline& deadline) {
  for (;;) {
    ssize_t n = ::recv(s.fd(), buf, cap, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      auto w = wait_fd(s.fd(), POLLIN, deadline);
      if (!w) return w.error();
      continue;
    }
    return sys_error(Errc::kIo, "recv");
  }
}

Result<std::string> recv_all(Socket& s, std::size_t limit, const Deadline& deadline) {
  std::string out;
  char buf[8192];
  for (;;) {
    auto n = recv_some(s, buf, sizeof buf, deadline);
    if (!n) return n.error();
    if (*n == 0) return out;
    if (out.size() + *n > limit) {
      return make_error(Errc::kLimitExceeded, "reply longer than " + std::to_string(limit));
    }
    out.append(buf, *n);
  }
}

void shutdown_write(Socket& s) {
  if (s.valid()) ::shutdown(s.fd(), SHUT_WR);
}

Result<Socket> listen_tcp(const Endpoint& ep, int backlog) {
  if (ep.kind != Endpoint::Kind::kTcp) {
    return make_error(Errc::kInvalidArgument, "listen_tcp needs ADDR:PORT");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port = std::to_string(ep.port);
  int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error(Errc::kInvalidArgument, "resolve " + ep.host + ": " + ::gai_strerror(rc));
  }
  Socket s(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    ::freeaddrinfo(res);
    return sys_error(Errc::kIo, "socket");
  }
  int one = 1;
  ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int b = ::bind(s.fd(), res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (b != 0) return sys_error(Errc::kIo, "bind " + ep.text());
  if (::listen(s.fd(), backlog) != 0) return sys_error(Errc::kIo, "listen " + ep.text());
  return s;
}

std::uint16_t local_port(const Socket& s) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

}  // namespace strop::milter
