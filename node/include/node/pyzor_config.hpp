// pyzor_config.hpp: the [pyzor] section of strop-node's configuration (the Pyzor UDP
// listener, docs/protocol.md "## Pyzor listener"). Plain values; every default is declared
// here once. Loaded and printed by config.cpp like every other section.
// Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/pyzor_wire.hpp"

namespace strop::node {

struct PyzorConfig {
  // "ADDR:PORT" to serve Pyzor clients on (UDP; 24441 is the clients' default); "" or
  // "off" switches the listener off. Default: off. Flag: --pyzor-listen.
  std::string listen;
  // Receiving threads. Default: 1.
  unsigned threads = 1;
  // Access rules in pyzord.access syntax, "ops : users : allow|deny": ops is a
  // space-separated list of check report whitelist info ping pong, or "all"; users a
  // space-separated list of reporter names, "anonymous", or "all" (every registered
  // reporter, not anonymous). The last matching rule wins; no match denies.
  // Default: anonymous may check, info, ping and pong; every reporter may do everything.
  std::vector<std::string> access = {"check info ping pong : anonymous : allow",
                                     "all : all : allow"};
  // Accepted clock skew of a signed request's Time. Default: 300 s (pyzord's).
  std::int64_t time_window_seconds = protocol::pyzor::kDefaultTimeWindowSeconds;
  // Signed requests remembered in memory to refuse replays early (each for
  // time_window_seconds past its Time; partitioned per user like api.nonce_cache_entries,
  // with api.nonce_cache_per_reporter per user). Reports and whitelists are also refused
  // durably by the store. Default: 100000.
  std::size_t replay_cache_entries = 100'000;
  // Datagram and field limits (protocol/pyzor_wire.hpp).
  protocol::pyzor::Limits limits;
};

}  // namespace strop::node
