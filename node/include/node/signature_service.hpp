// signature_service.hpp: the one place strop-node decides what a check, report, revoke,
// registration or state request does, whatever protocol carried it.
//
// Four adapters speak to clients: the native HTTP API (handlers.hpp), strop-udp/1
// (udp_listener.hpp), Razor2 (razor_session.hpp) and Pyzor (pyzor_service.hpp). Each one
// decodes its wire format, calls the SignatureService, and encodes the answer; none of them
// calls the Store. The service owns what they share:
//   - the rate limiters: per client address (every request), per reporter (reports and
//     revokes) and per client address for registrations ([rate_limit] in Config);
//   - the nonce replay cache, one per node: native signed requests and Pyzor signed requests
//     are remembered in the same cache, partitioned per reporter (api.nonce_cache_*; the
//     Pyzor listener's pyzor.replay_cache_entries is added to the total when it is on);
//   - reporter lookup and the native request signing check (protocol/signing.hpp);
//   - the Store calls and the mapping of every Store failure to one ServiceError, which the
//     adapters turn into their wire codes (HTTP status + ApiErrc, Razor err=, Pyzor Code/Diag);
//   - the node-wide metrics (NodeMetrics: checked messages and signatures, reported and
//     revoked signatures, rate-limit refusals, authentication failures).
// A change of check or report policy is an edit here, not in four places.
//
// Pure core, thin shell: no sockets and no files; the Store, the clocks and the executor for
// blocking work are injected, so signature_service_test.cpp runs it over a FakeStore.
//
// Threading: every method may be called from any number of threads at once. Limiters, the
// nonce cache and the metrics are internally synchronised (each takes its own mutex for a
// hash lookup; counters are atomics); the rest is constant after construction. Callbacks:
// vote()'s `done` runs exactly once, on the calling thread (refused at once) or on the
// Store's writer thread (after the durable commit); add_reporter()'s `done` runs exactly once
// on the offload executor (it waits for a commit).
// Lifetime: the Store and NodeMetrics must outlive the service, the service every adapter
// and every pending callback (destroy it after Store::flush()).
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/config.hpp"
#include "node/limiter.hpp"
#include "node/metrics.hpp"
#include "protocol/messages.hpp"
#include "protocol/signing.hpp"
#include "sigs/signature.hpp"
#include "storage/store.hpp"

namespace strop::node {

class Fleet;
class FederationPuller;
class FeedWaiters;

// The clocks the node reads; tests inject their own.
struct Clocks {
  std::function<std::int64_t()> unix_seconds;  // wall clock (signing window). Default: system
  std::function<std::int64_t()> mono_ns;       // monotonic (rate limits, latency). Default: steady
};

// Runs a blocking job (reporter registration waits for a commit) off the I/O threads.
// Default (empty): the job runs inline.
using Offload = std::function<void(std::function<void()>)>;

// Why the service refused or failed a request, independent of any wire format.
enum class ServiceErrc : std::uint8_t {
  kInvalid,             // a value is unusable (the Store's kInvalidArgument / kMalformed)
  kLimitExceeded,       // a named limit was hit (value too long, too many signatures)
  kAuthRequired,        // the operation needs a signed request
  kBadSignature,        // malformed signing fields or a signature that does not verify
  kStale,               // the signed timestamp is outside the signing window
  kUnknownReporter,     // no reporter of that name (or it was deleted)
  kReplayed,            // the signed request was already accepted once
  kForbidden,           // disabled reporter, or not allowed (not an admin)
  kRegistrationClosed,  // open registration is switched off
  kNameTaken,           // a reporter of that name exists
  kRateLimited,         // a per-address or per-reporter budget is spent (retry_after)
  kOverloaded,          // writer queue full, replay partition full (retry_after)
  kInternal,            // a bug or an unexpected storage failure
};

struct ServiceError {
  ServiceErrc code = ServiceErrc::kInternal;
  std::string message;  // for humans (HTTP error bodies, Pyzor Diag, logs)
  int retry_after = 0;  // seconds, for kRateLimited / kOverloaded; 0 = none
};

// A value or a ServiceError (boost::system::result, as the house Result; value() is not
// used: test with ok() / operator bool, read with * and ->, error() when it failed).
template <class T>
using ServiceResult = boost::system::result<T, ServiceError>;

// The ServiceError a Store failure becomes (the one mapping every adapter shares).
ServiceError store_error(const Error& e);

// A verified native signed request: who sent it and the replay key its writes consume.
struct Authenticated {
  storage::Reporter reporter;
  storage::ReplayKey replay;
};

// A report or revoke of one request.
struct VoteCall {
  storage::ReporterId reporter = 0;
  bool revoke = false;
  std::vector<sigs::Signature> sigs;
  std::vector<std::uint32_t> message_sizes;  // per message; empty = one message
  std::optional<storage::ReplayKey> replay;  // signed requests: consumed with the votes
};
using VoteDone = std::function<void(ServiceResult<storage::VoteOutcome>)>;

// One signature as the node's operator sees it (`strop-node sig show`, GET /admin/sig/ID).
struct SignatureView {
  storage::SignatureInfo info;
  bool decides = false;  // its engine may decide a verdict (storage.verdict_engines)
  bool listed = false;   // a check matching it exactly says spam (SignatureService::lists)
};
using RegisterDone = std::function<void(ServiceResult<storage::Reporter>)>;

class SignatureService {
 public:
  // Reads the [api], [rate_limit] and [storage] settings of `config` (copied). `clocks` and
  // `offload` default to the system clocks and inline execution.
  SignatureService(const Config& config, storage::Store& store, NodeMetrics& metrics,
                   Clocks clocks = {}, Offload offload = {});
  ~SignatureService();
  SignatureService(const SignatureService&) = delete;
  SignatureService& operator=(const SignatureService&) = delete;

  // Fleet mode (fleet.hpp): from now on every write (votes, registrations, signature
  // administration) goes through `fleet`'s replicated log and is answered once the log has
  // acknowledged it and this node has applied it; a log that cannot be reached makes writes
  // fail with kOverloaded (retry_after 1: HTTP 503, the legacy protocols' busy codes) while
  // checks go on from the local store. REQUIRES: before serving; `fleet` outlives the service.
  void set_fleet(Fleet* fleet) { fleet_ = fleet; }
  // Federation: the puller whose per-peer figures /metrics shows. REQUIRES: before serving;
  // it outlives the service.
  void set_federation(const FederationPuller* puller) { federation_ = puller; }
  // Federation: where pulls with wait= park (the long poll). REQUIRES: before serving; it
  // outlives the service. Unset (nullptr): pulls are answered at once.
  void set_feed_waiters(FeedWaiters* waiters) { feed_waiters_ = waiters; }
  FeedWaiters* feed_waiters() const { return feed_waiters_; }
  bool fleet_mode() const { return fleet_ != nullptr; }

  // The node configuration (protocol adapters read their own sections from it).
  const Config& config() const { return config_; }
  NodeMetrics& metrics() { return metrics_; }
  std::int64_t unix_seconds() const { return clocks_.unix_seconds(); }
  std::int64_t mono_ns() const { return clocks_.mono_ns(); }
  // The Store's verdict threshold (0..100).
  int threshold() const { return config_.store.threshold; }

  // ---- budgets (token buckets; a refusal is counted in NodeMetrics)

  // The [rate_limit] rates and bucket sizes of a reloaded configuration, for every request
  // from now on (rate_limit_entries waits for a restart). Thread-safe.
  void set_rate_limits(const Config& config);

  // One request from `client` (an address key; any stable bytes). kRateLimited when spent.
  ServiceResult<void> admit_client(std::string_view client);
  // One report/revoke request of `reporter` (its name). kRateLimited when spent.
  ServiceResult<void> admit_reporter(std::string_view reporter);
  // One registration from `client`. kRateLimited when spent (counted as rate_limited_ip).
  ServiceResult<void> admit_registration(std::string_view client);

  // ---- reporters

  // The reporter called `name`. Errors: kUnknownReporter (no such reporter, or a name no
  // reporter can have), kInternal (lookup failed; logged).
  ServiceResult<storage::Reporter> find_reporter(std::string_view name);
  // Verifies a native signed request (X-Strop-* headers over method, target and body) and
  // remembers its nonce. Errors: kAuthRequired, kBadSignature, kUnknownReporter, kStale,
  // kForbidden (disabled), kReplayed, kOverloaded (the reporter's replay partition is full),
  // kInternal. Failures other than kOverloaded/kInternal count as auth_failures.
  ServiceResult<Authenticated> authenticate(const protocol::AuthHeaders& auth,
                                            std::string_view method, std::string_view target,
                                            std::string_view body);
  // As authenticate, for a federation peer pulling the feed: the X-Strop-Peer name (in
  // auth.reporter) must be a peer identity, signed under protocol::kPeerSigningScheme; the
  // nonce goes into the same replay cache. Same errors (kForbidden: the peer is disabled).
  ServiceResult<Authenticated> authenticate_peer(const protocol::AuthHeaders& auth,
                                                 std::string_view method, std::string_view target,
                                                 std::string_view body);
  // Remembers (reporter, nonce) in the node's replay cache until `expires_at` (Unix seconds).
  // Errors: kReplayed (seen within its window), kOverloaded (reporter's partition full).
  ServiceResult<void> remember_nonce(std::string_view reporter, std::string_view nonce,
                                     std::int64_t now, std::int64_t expires_at);
  // Adds a reporter on the offload executor (waits for the commit). Errors: kNameTaken,
  // kInvalid, kOverloaded, kInternal.
  void add_reporter(storage::ReporterSpec spec, RegisterDone done);
  // As add_reporter, synchronously on the calling thread (startup only).
  ServiceResult<storage::Reporter> add_reporter_now(const storage::ReporterSpec& spec);
  bool open_registration() const { return config_.open_registration; }

  // ---- reporter administration (the admin API and the operator's console; synchronous: a
  // write waits for its commit, in fleet mode for the log's acknowledgement and the local
  // apply, so call it from an admin thread or through offload())

  // Sets `name`'s trust to `trust` (0.0..1.0) and vouches for it (an open registration's cap
  // no longer applies). pinned: fixed by the operator, the reputation model never moves it;
  // not pinned: the model's new starting point. In fleet mode it goes through the replicated
  // log (kSetTrust) like every write. Returns the reporter as changed. Errors: kInvalid (trust
  // out of range or not a number), kUnknownReporter (no such reporter, or a name no reporter
  // can have), kOverloaded (the fleet log is unreachable or did not acknowledge in time:
  // retryable, retry_after), kInternal.
  ServiceResult<storage::Reporter> set_reporter_trust(std::string_view name, double trust,
                                                      bool pinned = true);
  // Disables (`disabled` true) or enables `name`: a disabled reporter cannot authenticate and
  // its votes weigh 0 until it is enabled again. Through the log in fleet mode (kSetDisabled).
  // Returns the reporter as changed. Errors: kUnknownReporter, kOverloaded, kInternal.
  ServiceResult<storage::Reporter> set_reporter_disabled(std::string_view name, bool disabled);
  // Up to `limit` reporters (peers included) whose names sort after `after` ("": from the
  // first), by name: a page of this node's store. Errors: kInternal.
  ServiceResult<std::vector<storage::Reporter>> list_reporters(std::string_view after,
                                                               std::size_t limit);

  // ---- federation peers (docs/federation.md "Peers"; the admin API). Same rules as the
  // reporter writes: synchronous, and in fleet mode through the replicated log (kAddPeer,
  // kRemovePeer), answered once the log acknowledged and this node applied the change. A
  // peer's trust, disable and enable are set_reporter_trust / set_reporter_disabled.
  // Errors: kUnknownReporter (no such peer, or a reporter's name), kInvalid (name, url, secret
  // or trust out of limits), kNameTaken (add: the name is taken), kOverloaded, kInternal.
  ServiceResult<std::vector<storage::Peer>> list_peers();
  ServiceResult<storage::Peer> find_peer(std::string_view name);
  ServiceResult<storage::Peer> add_peer(const storage::PeerSpec& spec);
  ServiceResult<void> remove_peer(std::string_view name);
  bool anonymous_check() const { return config_.anonymous_check; }

  // ---- signatures

  // The listing policy, in one place: a stored signature that a check matched lists the
  // message when its engine decides verdicts (storage.verdict_engines), the operator has not
  // allowed it (nor, for fuzzy/1, the checked signature), and its confidence reaches the
  // threshold. An allowed signature never lists, whatever was reported.
  bool lists(const storage::Match& m) const;
  // Looks the signatures up and applies the policy: an allowed match's confidence is 0, and
  // the outcome's confidence and verdict count listing matches only. Errors: kInternal
  // ("storage read failed"; logged with `what`).
  ServiceResult<storage::CheckOutcome> check(std::span<const sigs::Signature> sigs,
                                             std::string_view what = "");
  // Counts answered native checks (messages, signatures, messages found spam) in NodeMetrics.
  void count_checked(std::size_t messages, std::uint64_t signatures, std::size_t spam);
  // Called by check() with the id of every match that lists the message (the console's
  // most-matched listed signatures). REQUIRES: before serving; must be thread-safe.
  void set_on_listed_match(std::function<void(std::string_view)> f) {
    on_listed_match_ = std::move(f);
  }
  // Whether a report of these signatures can list the message (a deciding engine is there).
  bool listable(std::span<const sigs::Signature> sigs) const;
  // Records a report or revoke (durable before `done`); counts the signatures in NodeMetrics
  // on success. Errors: store_error() of the Store's failure.
  void vote(VoteCall call, VoteDone done);

  // ---- signature administration (the admin commands and the admin API; synchronous, a
  // write waits for its commit: call it from an admin thread or through offload())

  // What the node knows of each signature, with the policy's verdict. Errors: kInternal.
  ServiceResult<std::vector<SignatureView>> describe(std::span<const sigs::Signature> sigs);
  // Deletes each signature entirely (record, votes, allowlist entry); true per signature
  // when there was something to delete. Errors: kInvalid, kOverloaded, kInternal.
  ServiceResult<std::vector<bool>> delete_signatures(std::span<const sigs::Signature> sigs);
  // Puts each signature on the operator's allowlist or takes it off; true per signature when
  // that changed something. Errors: kInvalid, kOverloaded, kInternal.
  ServiceResult<std::vector<bool>> set_allowed(std::span<const sigs::Signature> sigs, bool allowed);
  // Runs a blocking job on the offload executor (the admin API's writes).
  void offload(std::function<void()> job) { offload_(std::move(job)); }

  // ---- federation (docs/federation.md)

  // This site federates: [federation] site is set, and the Store keeps its feed.
  bool federation_enabled() const { return !config_.store.federation_site.empty(); }
  // Up to `limit` entries of this site's feed after `after`. Errors: kForbidden (federation
  // off), kInternal.
  ServiceResult<storage::FeedPage> read_feed(std::uint64_t after, std::size_t limit);

  // ---- state

  // What GET /v1/state answers: version, engines, threshold, limits, policy, store counts.
  protocol::StateResponse state();
  // The Prometheus exposition of NodeMetrics and the store's gauges.
  std::string render_metrics();

 private:
  ServiceResult<Authenticated> authenticate_as(const protocol::AuthHeaders& auth,
                                               std::string_view method, std::string_view target,
                                               std::string_view body, bool peer);
  // vote() in fleet mode: the request as a log event.
  void vote_through_fleet(VoteCall call, VoteDone done);
  // One token of `key` from `limiter`; a refusal is counted in `refused`.
  ServiceResult<void> admit(RateLimiter& limiter, std::string_view key, Counter& refused,
                            const char* what);

  const Config config_;
  storage::Store& store_;
  NodeMetrics& metrics_;
  Clocks clocks_;
  Offload offload_;
  Fleet* fleet_ = nullptr;  // fleet mode when set (set before serving, then constant)
  const FederationPuller* federation_ = nullptr;           // set before serving, then constant
  FeedWaiters* feed_waiters_ = nullptr;                    // set before serving, then constant
  std::function<void(std::string_view)> on_listed_match_;  // set before serving, then constant
  RateLimiter ip_limiter_;
  RateLimiter reporter_limiter_;
  RateLimiter register_limiter_;
  NonceCache nonces_;
};

}  // namespace strop::node
