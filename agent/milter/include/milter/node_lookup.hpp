// node_lookup.hpp: the SignatureLookup adapter over libstrop-agent's Client (keep-alive
// pools, failover between node URLs, verdict cache, signed reports).
//
// Thread-safe (agent::Client is); every call returns by its deadline. A never-expiring
// Deadline is capped at NodeLookupOptions::max_wait.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "milter/lookup.hpp"

namespace strop::milter {

struct NodeLookupOptions {
  std::vector<std::string> urls;               // node base URLs, tried in order
  std::string identity_file;                   // reporter identity (auto-report); "" = none
  std::chrono::milliseconds cache_ttl{60000};  // Default: 60 s verdict cache
  std::chrono::milliseconds max_wait{30000};   // Default: 30 s when the caller has no deadline
  std::string ca_file;                         // Default: "" (system CA store)
};

// Errors: kInvalidArgument (bad URL), kIo/kMalformed (identity file).
Result<std::unique_ptr<SignatureLookup>> make_node_lookup(const NodeLookupOptions& options);

}  // namespace strop::milter
