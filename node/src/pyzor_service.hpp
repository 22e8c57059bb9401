// pyzor_service.hpp (private to strop-node): the Pyzor protocol logic without sockets.
//
// PyzorService answers one request datagram as pyzord 1.0 would (same checks in the same
// order, same codes and Diag texts: pyzor.md §1-§2; one deliberate difference: a datagram
// without a Thread field gets no reply instead of a 400), mapped onto the node: accounts are the
// node's reporters (User = reporter name, key = RazorAccounts::pyzor_key), signed requests
// are also checked against the node's replay cache, `access` rules (pyzord.access syntax)
// decide who may do what, check/info/report/whitelist go to the SignatureService
// (signature_service.hpp: budgets, reporters, check and vote policy), and Count /
// WL-Count come from the signature's trust-weighted confidence:
//   confidence >= threshold: Count = distinct reporters, WL-Count = 0      (client: spam)
//   otherwise:               Count = 0, WL-Count = distinct revokers       (client: not spam)
// so a pyzor client's verdict ("Count > 0 and WL-Count == 0") is the node's verdict (an
// allowed signature has confidence 0: not spam). `info` answers the stored facts as pyzord's
// record does: Count / WL-Count = active reports / revokes, Entered = the first report,
// Updated = the latest report, WL-Entered / WL-Updated = the earliest / latest revoke (Unix
// seconds; 0 = never or not stored).
// pyzor_listener.cpp does the UDP I/O; tests drive the service directly.
//
// Threading: handle() may be called from any number of threads at once. `reply` runs exactly
// once: on the calling thread, or on the Store's writer thread for report/whitelist (after
// the durable commit). Lifetime: the SignatureService and RazorAccounts must outlive the
// PyzorService, the PyzorService every pending reply.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/metrics.hpp"
#include "node/razor_accounts.hpp"
#include "node/signature_service.hpp"
#include "protocol/pyzor_wire.hpp"

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

struct PyzorCounters {
  Counter requests;
  Counter checks;
  Counter check_hits;  // Count > 0
  Counter reported_sigs;
  Counter whitelisted_sigs;
  Counter auth_failed;   // 401
  Counter replays;       // refused replays (also counted in auth_failed)
  Counter denied;        // 403
  Counter bad_requests;  // 400, 505
  Counter rate_limited;  // dropped silently: over the per-address or per-user budget
  Counter suppressed;    // error replies not sent because larger than their request
  Counter errors;        // 5xx
};

class PyzorService {
 public:
  // Parses the access rules and, when they let anonymous users report or whitelist, finds or
  // creates the kPyzorAnonymousReporter reporter (a synchronous store write: call at
  // startup). Errors: kInvalidArgument (bad rule), store errors.
  // The [pyzor] settings are read from service.config().
  static Result<std::unique_ptr<PyzorService>> create(SignatureService& service,
                                                      const RazorAccounts& accounts);

  // Receives the reply datagram; "" means "send nothing" (a request without a Thread field).
  using Reply = std::function<void(std::string)>;
  // Answers one datagram. `client` keys the per-address rate limit (any stable bytes, e.g.
  // the binary source address).
  void handle(std::string_view datagram, std::string_view client, Reply reply);

  PyzorCounters& counters() { return counters_; }

 private:
  struct Call;
  // Who sent a request: a verified user (reporter + replay key) or anonymous.
  struct Sender {
    std::string user;
    bool anonymous = true;
    std::optional<storage::ReporterId> reporter;
    std::optional<storage::ReplayKey> replay;  // signed requests: consumed durably by writes
  };

  PyzorService(SignatureService& service, const RazorAccounts& accounts, PyzorAcl acl);

  // The steps of handle(), in pyzord's order; each returns false once it has answered.
  void answer_unparsable(std::string_view datagram, const Error& why, Call& call);
  bool authenticate(const protocol::pyzor::Message& m, Call& call, Sender* sender);
  bool check_version(const protocol::pyzor::Message& m, Call& call);
  void answer_check(std::string_view digest, bool info, Call& call);
  void record_vote(const std::vector<std::string_view>& digests, bool whitelist, Sender sender,
                   Call call);
  // Sends `call`'s response (an error only when no larger than its request).
  void send(Call& call);

  SignatureService& service_;
  const RazorAccounts& accounts_;
  const PyzorConfig& config_;  // service_.config().pyzor
  PyzorAcl acl_;
  std::optional<storage::ReporterId> anonymous_id_;
  PyzorCounters counters_;
};

}  // namespace strop::node
