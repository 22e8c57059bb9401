// listener.hpp: what the serve command sees of each protocol listener besides the HTTP
// Server (strop-udp/1, udp_listener.hpp; Razor2, razor_listener.hpp; Pyzor,
// pyzor_listener.hpp): an address, start, stop and a summary line.
//
// Threading: create, start() and stop() from one thread (the serve command).
// Lifetime: stop() (or the destructor) ends the listener's threads; each listener's header
// says what must outlive it.
#pragma once

#include <string>

namespace strop::node {

class Listener {
 public:
  virtual ~Listener() = default;

  // The bound address, e.g. "127.0.0.1", and the actual port (useful with port 0).
  virtual std::string local_host() const = 0;
  virtual unsigned short local_port() const = 0;

  // Starts the listener's threads (returns at once).
  virtual void start() = 0;
  // Stops and joins them. Idempotent.
  virtual void stop() = 0;
  // One log line of counters.
  virtual std::string summary() const = 0;
};

}  // namespace strop::node
