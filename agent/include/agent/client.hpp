// client.hpp: libstrop-agent, the client every Strop tool embeds (the `strop` CLI, the milter).
//
// A Client computes signatures with sigs and talks to one or more nodes over the native API
// (docs/protocol.md): HTTP/1.1 keep-alive connection pools (one per node), TLS 1.2+ with
// certificate and host name verification (system CA store or a CA file), a deadline on every
// call, failover to the next node, a short-lived cache of check verdicts, and report/revoke/
// register requests signed with the reporter identity (protocol/signing.hpp).
//
// Failover: nodes are tried in configured order, except that a node that failed (unreachable,
// timed out, 5xx) is tried last for `node_retry_after`. Each attempt gets an equal share of
// the time left before the call's deadline, so a hung first node still leaves time for the
// next one. Answers that are the caller's problem (401, 403, 429, 400) are not retried
// elsewhere. A batch the node refuses as too large (413) is split and sent again.
//
// Deadlines: every call takes an absolute steady-clock deadline (the overloads without one
// use now + ClientOptions::timeout); a call returns at the latest shortly after it, with
// Errc::kTimeout. No call spawns work that outlives it, except a DNS lookup that is
// abandoned at the deadline.
//
// Errors are one-line messages naming the node, e.g. "node http://127.0.0.1:7420
// unreachable: connection refused (connect)"; codes: kUnavailable, kTimeout, kUnauthorized
// (authentication failed), kForbidden, kRateLimited, kInvalidArgument (no identity, bad
// options), kLimitExceeded, kMalformed (the node's answer does not parse), kNotMail.
//
// Thread-safety: a Client is safe for concurrent use by any number of threads (the milter
// calls check() from every libmilter worker); calls proceed in parallel on separate pooled
// connections. Lifetime: the Client must outlive its calls; destroying it closes the pools.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/identity.hpp"
#include "base/result.hpp"
#include "protocol/messages.hpp"
#include "sigs/compute.hpp"
#include "sigs/signature.hpp"

namespace strop::agent {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

struct ClientOptions {
  // Node URLs ("http://host:port", "https://host"), tried in this order. REQUIRES: >= 1.
  // "udp://host:port" nodes (strop-udp/1, docs/protocol.md) answer checks only: checks try
  // them first, then the http(s) nodes for what they could not answer; their verdicts carry
  // one match per engine with no stored id and no per-signature confidence.
  std::vector<std::string> nodes;
  // Budget of one call, failover included, when the caller gives no deadline. Default: 5 s.
  std::chrono::milliseconds timeout{5000};
  // PEM file of CA certificates that sign the nodes' certificates. Default: "" (system store).
  std::string ca_file;
  // Verify the node's certificate and host name. Default: true. (false only for testing.)
  bool tls_verify = true;
  // Reporter identity used to sign report, revoke and admin register requests. Default: none.
  std::optional<protocol::Identity> identity;
  // How long a check verdict is reused for an identical signature set. 0 disables.
  // Default: 60 s.
  std::chrono::milliseconds cache_ttl{60000};
  // Verdicts kept in the cache (least recently used dropped first). Default: 10000.
  std::size_t cache_capacity = 10000;
  // A node that failed is tried after the healthy ones for this long. Default: 10 s.
  std::chrono::milliseconds node_retry_after{10000};
  // Messages per check/report/revoke request; also bounded by the estimated request size
  // (max_request_bytes). Default: 500 (the node's default limit is 1000).
  std::size_t max_batch = 500;
  // Estimated JSON size above which a batch is split. Default: 768 KiB (node limit 1 MiB).
  std::size_t max_request_bytes = 768u << 10;
  // Signatures sent per message; a message with more (e.g. hundreds of URLs) sends its first
  // ones, in engine order. Default: the protocol's limit (256).
  std::size_t max_sigs_per_message = protocol::Limits{}.max_sigs_per_message;
  // Idle keep-alive connections kept per node. Default: 4.
  std::size_t max_idle_connections = 4;
  // Idle connections older than this are not reused. Default: 30 s.
  std::chrono::milliseconds idle_timeout{30000};
  // Largest accepted response body. Default: 16 MiB.
  std::size_t max_response_bytes = 16u << 20;
  // Signature computation (engines, MIME limits). Default: every engine, native and legacy,
  // so that Razor/Pyzor signatures reach the node too.
  sigs::Options sig_options = [] {
    sigs::Options o;
    o.engines = sigs::EngineMask::all();
    return o;
  }();
  // Unix time in seconds used to sign requests. Default: the system clock. (Tests inject.)
  std::function<std::int64_t()> unix_time;
  // User-Agent header. Default: "strop-agent/<version>".
  std::string user_agent;
};

// Outcome of one report or revoke call, summed over its messages.
struct VoteSummary {
  std::vector<protocol::MessageVoteResult> results;  // one per input set, same order
  std::size_t skipped_empty = 0;                     // input sets without signatures (not sent)
};

struct ClientStats {
  std::size_t cache_hits = 0;
  std::size_t cache_misses = 0;
  std::size_t requests = 0;   // HTTP requests sent (attempts, including failed ones)
  std::size_t failovers = 0;  // attempts that failed over to another node
};

class Client {
 public:
  // Validates the options (node URLs, CA file). Errors: kInvalidArgument.
  static Result<std::unique_ptr<Client>> create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Signatures of one raw message with the configured engines. Errors: kNotMail, kMalformed.
  Result<sigs::SignatureSet> signatures(std::string_view raw) const;

  // Checks many messages' signature sets; one verdict per set, same order. Sets found in the
  // cache are not sent; the rest go in as few requests as the batch limits allow.
  Result<std::vector<protocol::MessageVerdict>> check(std::span<const sigs::SignatureSet> sets,
                                                      Deadline deadline);
  Result<std::vector<protocol::MessageVerdict>> check(std::span<const sigs::SignatureSet> sets);
  Result<protocol::MessageVerdict> check(const sigs::SignatureSet& set, Deadline deadline);
  // Computes the signatures of `raw` and checks them.
  Result<protocol::MessageVerdict> check_message(std::string_view raw, Deadline deadline);

  // Reports (revokes) the sets as spam, signed with the identity. Idempotent at the node.
  // Clears the verdict cache. Errors: kInvalidArgument when there is no identity.
  Result<VoteSummary> report(std::span<const sigs::SignatureSet> sets, Deadline deadline);
  Result<VoteSummary> report(std::span<const sigs::SignatureSet> sets);
  Result<VoteSummary> revoke(std::span<const sigs::SignatureSet> sets, Deadline deadline);
  Result<VoteSummary> revoke(std::span<const sigs::SignatureSet> sets);

  // Registers reporter `name` at the first node that answers (open registration, or signed
  // by the configured identity when it is an admin). Returns the new identity, whose `node`
  // is the URL of the node that registered it. Errors: kExists (name taken), kForbidden
  // (registration closed), kInvalidArgument (bad name).
  Result<protocol::Identity> register_reporter(const std::string& name, std::optional<double> trust,
                                               Deadline deadline);

  // GET /v1/state of the first node that answers.
  Result<protocol::StateResponse> state(Deadline deadline);

  // now + options().timeout
  Deadline default_deadline() const;
  const ClientOptions& options() const;
  ClientStats stats() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strop::agent
