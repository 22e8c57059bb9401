// net.hpp: blocking stream sockets with deadlines, for the milter's clients (clamd, spamd,
// node) and its metrics listener.
//
// Endpoints are written as "unix:/path", "/path", "inet:PORT@ADDR" (libmilter style),
// "tcp:ADDR:PORT", "ADDR:PORT" or "[V6ADDR]:PORT". Addresses should be numeric; a name is
// resolved with getaddrinfo at connect time. Every call that can block takes a Deadline and
// returns Errc::kTimeout when it passes. Socket is a move-only owner of one file descriptor.
// Thread-safety: distinct Sockets may be used from any thread; one Socket from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "milter/deadline.hpp"

namespace strop::milter {

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kTcp;
  std::string path;  // kUnix
  std::string host;  // kTcp (without brackets)
  std::uint16_t port = 0;

  // Canonical text: "unix:/path" or "HOST:PORT" ("[V6]:PORT").
  std::string text() const;
};

// Parses the forms listed above. kInvalidArgument on anything else. Port 0 ("any free port")
// is accepted only when `listening`.
Result<Endpoint> parse_endpoint(std::string_view text, bool listening = false);

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close();

 private:
  int fd_ = -1;
};

// Connects (non-blocking connect + poll). TCP sockets get TCP_NODELAY.
Result<Socket> connect_to(const Endpoint& ep, const Deadline& deadline);

// Writes all of `data`. kIo with the errno text on failure (EPIPE included; SIGPIPE is never
// raised), kTimeout when the deadline passes.
Result<void> send_all(Socket& s, std::string_view data, const Deadline& deadline);

// Reads at most `cap` bytes into `buf`; returns the count, 0 at end of stream.
Result<std::size_t> recv_some(Socket& s, char* buf, std::size_t cap, const Deadline& deadline);

// Reads until end of stream or until `limit` bytes (kLimitExceeded beyond).
Result<std::string> recv_all(Socket& s, std::size_t limit, const Deadline& deadline);

// Half-closes the sending side.
void shutdown_write(Socket& s);

// Opens a listening TCP socket on `ep` (kTcp only), SO_REUSEADDR, TCP_NODELAY.
Result<Socket> listen_tcp(const Endpoint& ep, int backlog);

// The local port a bound socket listens on (for "port 0" listeners).
std::uint16_t local_port(const Socket& s);

}  // namespace strop::milter
