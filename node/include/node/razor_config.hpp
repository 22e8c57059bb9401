// razor_config.hpp: the [razor] section of strop-node's configuration (the Razor2 TCP
// listener, docs/protocol.md "## Razor2 listener"). Plain values; every default is declared
// here once. Loaded and printed by config.cpp like every other section.
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "protocol/razor_wire.hpp"

namespace strop::node {

struct RazorConfig {
  // "ADDR:PORT" to serve Razor2 clients on (port 2703 is the clients' default); "" or "off"
  // switches the listener off. Default: off. Flag: --razor-listen.
  std::string listen;
  // Entries handed out for a=g&pm=csl / pm=nsl ("host" or "host:port"; the client ignores
  // IPv6 literals and names without a dot). Default: empty = the node address the client
  // connected to, with the listener's port.
  std::vector<std::string> advertise;
  // The node key that seals Razor passwords at rest (AES-256-GCM), a 32-byte file kept
  // outside LMDB, created 0600 on first use. Default: "" = <data_dir>/razor.key.
  std::string key_file;
  // I/O threads of the listener. Default: 1.
  unsigned threads = 1;
  // Concurrent connections; more are closed at once. Default: 512.
  std::size_t max_connections = 512;
  // Connection fairness (node/conn_guard.hpp), per client IPv4 address or IPv6 /64:
  // concurrent connections. Default: 64.
  std::size_t max_connections_per_address = 64;
  // Slots of max_connections only an address with no open connection may take (at most a
  // quarter of max_connections is kept). Default: 64.
  std::size_t reserved_connections = 64;
  // Bytes of unfinished requests buffered, summed over the address's connections (an
  // address buffering nothing else may always send one of max_request_bytes). Default: 2 MiB.
  std::size_t max_request_bytes_per_address = 2u << 20;
  // Wait for the first byte of the next request. Default: 30 s.
  std::chrono::milliseconds idle_timeout{30'000};
  // One request, first byte to last (the client's own limit is 15 s); a new connection's
  // first request from accept, however long the peer stays silent. Default: 15 s.
  std::chrono::milliseconds request_timeout{15'000};
  // Request size, line and batch limits (protocol/razor_wire.hpp).
  protocol::razor::Limits limits;
  // The "srl" the greeting announces: keep it stable, a change makes every client re-fetch
  // state and rediscover (razor2.md §9 pitfall 4). Default: 1.
  int srl = 1;
};

}  // namespace strop::node
