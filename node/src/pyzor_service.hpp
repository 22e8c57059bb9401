// pyzor_service.hpp (private to strop-node): the Pyzor protocol logic without sockets.
//
// PyzorService answers one request datagram as pyzord 1.0 would (same checks in the same
// order, same codes and Diag texts: pyzor.md §1-§2; one deliberate difference: a datagram
// without a Thread field gets no reply instead of a 400), mapped onto the node: accounts are the
// node's reporters (User = reporter name, key = RazorAccounts::pyzor_key), signed requests
// are also checked against a replay cache, `access` rules (pyzord.access syntax) decide who
// may do what, check/info/report/whitelist go to Store::check/report/revoke, and Count /
// WL-Count come from the signature's trust-weighted confidence:
//   confidence >= threshold: Count = distinct reporters, WL-Count = 0      (client: spam)
//   otherwise:               Count = 0, WL-Count = distinct revokers       (client: not spam)
// so a pyzor client's verdict ("Count > 0 and WL-Count == 0") is the node's verdict.
// pyzor_listener.cpp does the UDP I/O; tests drive the service directly.
//
// Threading: handle() may be called from any number of threads at once. `reply` runs exactly
// once: on the calling thread, or on the Store's writer thread for report/whitelist (after
// the durable commit). Lifetime: the Store and RazorAccounts must outlive the service, the
// service every pending reply.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/config.hpp"
#include "node/handlers.hpp"
#include "node/limiter.hpp"
#include "node/metrics.hpp"
#include "node/razor_accounts.hpp"
#include "protocol/pyzor_wire.hpp"
#include "storage/store.hpp"

namespace strop::node {

// The reporter anonymous reports and whitelists are recorded under, when `access` allows
// them (it does not by default).
inline constexpr std::string_view kPyzorAnonymousReporter = "pyzor-anonymous";

// pyzord.access rules.
class PyzorAcl {
 public:
  enum Op : unsigned { kCheck = 1, kReport = 2, kWhitelist = 4, kInfo = 8, kPing = 16, kPong = 32 };
  static constexpr unsigned kAllOps = 63;

  // Parses "ops : users : allow|deny" lines. Errors: kInvalidArgument naming the bad line.
  static Result<PyzorAcl> parse(const std::vector<std::string>& lines);
  // The op bit of an Op field value; 0 for unknown ops (never allowed).
  static unsigned op_bit(std::string_view op);
  // Whether `user` (anonymous: the anonymous user) may run `op_bit`.
  bool allowed(std::string_view user, bool anonymous, unsigned op_bit) const;

 private:
  struct Rule {
    unsigned ops = 0;
    bool all_users = false;  // every registered reporter (not anonymous)
    std::vector<std::string> users;
    bool allow = false;
  };
  std::vector<Rule> rules_;
};

struct PyzorServiceOptions {
  PyzorConfig pyzor;
  int threshold = 50;
  RateLimit ip_limit;        // every datagram, per source address
  RateLimit reporter_limit;  // report/whitelist, per reporter
  std::size_t rate_limit_entries = 100'000;
  std::size_t replay_cache_per_user = 100'000;  // api.nonce_cache_per_reporter
};
PyzorServiceOptions pyzor_service_options(const Config& c);

struct PyzorCounters {
  Counter requests;
  Counter checks;
  Counter check_hits;     // Count > 0
  Counter reported_sigs;
  Counter whitelisted_sigs;
  Counter auth_failed;    // 401
  Counter replays;        // refused replays (also counted in auth_failed)
  Counter denied;         // 403
  Counter bad_requests;   // 400, 505
  Counter rate_limited;   // dropped silently: over the per-address or per-user budget
  Counter suppressed;     // error replies not sent because larger than their request
  Counter errors;         // 5xx
};

class PyzorService {
 public:
  // Parses the access rules and, when they let anonymous users report or whitelist, finds or
  // creates the kPyzorAnonymousReporter reporter (a synchronous store write: call at
  // startup). Errors: kInvalidArgument (bad rule), store errors.
  static Result<std::unique_ptr<PyzorService>> create(storage::Store& store, const RazorAccounts& accounts,
                                                      PyzorServiceOptions options, Clocks clocks = {});

  // Receives the reply datagram; "" means "send nothing" (a request without a Thread field).
  using Reply = std::function<void(std::string)>;
  // Answers one datagram. `client` keys the per-address rate limit (any stable bytes, e.g.
  // the binary source address).
  void handle(std::string_view datagram, std::string_view client, Reply reply);

  PyzorCounters& counters() { return counters_; }

 private:
  PyzorService(storage::Store& store, const RazorAccounts& accounts, PyzorServiceOptions options, Clocks clocks,
               PyzorAcl acl);

  storage::Store& store_;
  const RazorAccounts& accounts_;
  PyzorServiceOptions opt_;
  Clocks clocks_;
  PyzorAcl acl_;
  std::optional<storage::ReporterId> anonymous_id_;
  RateLimiter ip_limiter_;
  RateLimiter reporter_limiter_;
  NonceCache replays_;
  PyzorCounters counters_;
};

}  // namespace strop::node
