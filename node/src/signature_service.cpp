// signature_service.cpp: check/report/revoke/register/state policy over the Store
// (signature_service.hpp).
#include "node/signature_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <utility>

#include "node/federation.hpp"
#include "node/fleet.hpp"
#include "node_common.hpp"
#include "verdict.hpp"

namespace strop::node {

namespace {

std::int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int retry_seconds(double s) { return std::max(1, static_cast<int>(std::ceil(s))); }

// The replay cache holds the native API's nonces and, when the Pyzor listener is on, its
// signed requests too: both budgets, one cache.
std::size_t nonce_entries(const Config& c) {
  std::size_t n = c.nonce_cache_entries;
  if (listener_enabled(c.pyzor.listen)) n += c.pyzor.replay_cache_entries;
  return n;
}

ServiceError unauthorized(ServiceErrc code, std::string message) {
  return ServiceError{code, std::move(message), 0};
}

}  // namespace

ServiceError store_error(const Error& e) {
  switch (e.code) {
    case Errc::kUnavailable: return {ServiceErrc::kOverloaded, e.message, 1};
    case Errc::kRateLimited: return {ServiceErrc::kRateLimited, e.message, 1};
    case Errc::kForbidden: return {ServiceErrc::kForbidden, e.message, 0};
    case Errc::kNotFound: return {ServiceErrc::kUnknownReporter, "unknown reporter", 0};
    case Errc::kInvalidArgument:
    case Errc::kMalformed: return {ServiceErrc::kInvalid, e.message, 0};
    case Errc::kLimitExceeded: return {ServiceErrc::kLimitExceeded, e.message, 0};
    case Errc::kExists: return {ServiceErrc::kNameTaken, e.message, 0};
    case Errc::kReplayed: return {ServiceErrc::kReplayed, "nonce already used", 0};
    default: return {ServiceErrc::kInternal, "storage error", 0};
  }
}

SignatureService::SignatureService(const Config& config, storage::Store& store,
                                   NodeMetrics& metrics, Clocks clocks, Offload offload)
    : config_(config),
      store_(store),
      metrics_(metrics),
      clocks_(std::move(clocks)),
      offload_(std::move(offload)),
      ip_limiter_(config_.ip_limit.per_second, config_.ip_limit.burst, config_.rate_limit_entries),
      reporter_limiter_(config_.reporter_limit.per_second, config_.reporter_limit.burst,
                        config_.rate_limit_entries),
      register_limiter_(config_.register_limit.per_second, config_.register_limit.burst,
                        config_.rate_limit_entries),
      nonces_(nonce_entries(config_), config_.nonce_cache_per_reporter) {
  if (!clocks_.unix_seconds) clocks_.unix_seconds = system_seconds;
  if (!clocks_.mono_ns) clocks_.mono_ns = steady_ns;
  if (!offload_) offload_ = [](const std::function<void()>& job) { job(); };
}

SignatureService::~SignatureService() = default;

// ---- budgets ------------------------------------------------------------------------------

ServiceResult<void> SignatureService::admit(RateLimiter& limiter, std::string_view key,
                                            Counter& refused, const char* what) {
  if (!limiter.enabled()) return {};  // per_second <= 0: no clock read either
  auto d = limiter.take(key, clocks_.mono_ns());
  if (d.allowed) return {};
  refused.add();
  return ServiceError{ServiceErrc::kRateLimited, what, retry_seconds(d.retry_after_seconds)};
}

void SignatureService::set_rate_limits(const Config& c) {
  ip_limiter_.set_rate(c.ip_limit.per_second, c.ip_limit.burst);
  reporter_limiter_.set_rate(c.reporter_limit.per_second, c.reporter_limit.burst);
  register_limiter_.set_rate(c.register_limit.per_second, c.register_limit.burst);
}

ServiceResult<void> SignatureService::admit_client(std::string_view client) {
  return admit(ip_limiter_, client, metrics_.rate_limited_ip, "client request rate exceeded");
}

ServiceResult<void> SignatureService::admit_reporter(std::string_view reporter) {
  return admit(reporter_limiter_, reporter, metrics_.rate_limited_reporter,
               "reporter request rate exceeded");
}

ServiceResult<void> SignatureService::admit_registration(std::string_view client) {
  return admit(register_limiter_, client, metrics_.rate_limited_ip, "registration rate exceeded");
}

// ---- reporters ----------------------------------------------------------------------------

ServiceResult<storage::Reporter> SignatureService::find_reporter(std::string_view name) {
  if (!protocol::valid_reporter_name(name)) {
    return ServiceError{ServiceErrc::kUnknownReporter, "unknown reporter", 0};
  }
  auto rep = store_.find_reporter(name);
  if (rep) return std::move(*rep);
  if (rep.error().code == Errc::kNotFound) {
    return ServiceError{ServiceErrc::kUnknownReporter, "unknown reporter", 0};
  }
  logger()->error("reporter lookup failed: {}", rep.error().to_string());
  return ServiceError{ServiceErrc::kInternal, "reporter lookup failed", 0};
}

ServiceResult<void> SignatureService::remember_nonce(std::string_view reporter,
                                                     std::string_view nonce, std::int64_t now,
                                                     std::int64_t expires_at) {
  switch (nonces_.insert(reporter, nonce, now, expires_at)) {
    case NonceCache::Outcome::kFresh:
    case NonceCache::Outcome::kUntracked:  // writes are still checked durably by the store
      return {};
    case NonceCache::Outcome::kReplay:
      return ServiceError{ServiceErrc::kReplayed, "nonce already used", 0};
    case NonceCache::Outcome::kFull: break;
  }
  return ServiceError{ServiceErrc::kOverloaded,
                      "too many signed requests from this reporter within the signing window", 1};
}

ServiceResult<Authenticated> SignatureService::authenticate(const protocol::AuthHeaders& a,
                                                            std::string_view method,
                                                            std::string_view target,
                                                            std::string_view body) {
  return authenticate_as(a, method, target, body, false);
}

ServiceResult<Authenticated> SignatureService::authenticate_peer(const protocol::AuthHeaders& a,
                                                                 std::string_view method,
                                                                 std::string_view target,
                                                                 std::string_view body) {
  return authenticate_as(a, method, target, body, true);
}

ServiceResult<Authenticated> SignatureService::authenticate_as(const protocol::AuthHeaders& a,
                                                               std::string_view method,
                                                               std::string_view target,
                                                               std::string_view body, bool peer) {
  auto verified = [&]() -> ServiceResult<Authenticated> {
    if (a.reporter.empty() || a.timestamp.empty() || a.nonce.empty() || a.signature.empty()) {
      return unauthorized(ServiceErrc::kAuthRequired,
                          peer ? "a peer's pull must be signed (X-Strop-Peer, X-Strop-Timestamp, "
                                 "X-Strop-Nonce, X-Strop-Signature)"
                               : "this request must be signed (X-Strop-Reporter, "
                                 "X-Strop-Timestamp, X-Strop-Nonce, X-Strop-Signature)");
    }
    auto rep = store_.find_reporter(std::string_view(a.reporter));
    // A peer's identity never signs as a reporter, and a reporter's never pulls a feed: to
    // each it looks like an unknown name (docs/federation.md "Peers").
    if (rep && rep->peer != peer) rep = make_error(Errc::kNotFound, "wrong kind of identity");
    if (!rep) {
      if (rep.error().code != Errc::kNotFound) {
        return ServiceError{ServiceErrc::kInternal, "reporter lookup failed", 0};
      }
      return unauthorized(ServiceErrc::kBadSignature, peer ? "unknown peer or bad signature"
                                                           : "unknown reporter or bad signature");
    }
    const std::int64_t now = clocks_.unix_seconds();
    const std::int64_t window = config_.signing_window_seconds;
    const std::string_view scheme = peer ? protocol::kPeerSigningScheme : protocol::kSigningScheme;
    switch (protocol::verify_request(a, rep->secret, method, target, body, now, window, scheme)) {
      case protocol::AuthStatus::kOk: break;
      case protocol::AuthStatus::kMalformed:
        return unauthorized(ServiceErrc::kBadSignature,
                            "malformed X-Strop-Timestamp, X-Strop-Nonce or X-Strop-Signature");
      case protocol::AuthStatus::kStale:
        return unauthorized(ServiceErrc::kStale, "timestamp outside the node's window of " +
                                                     std::to_string(window) +
                                                     " s (check the clock)");
      case protocol::AuthStatus::kBadSignature:
        return unauthorized(ServiceErrc::kBadSignature, peer ? "unknown peer or bad signature"
                                                             : "unknown reporter or bad signature");
    }
    if (rep->disabled) {
      return unauthorized(ServiceErrc::kForbidden,
                          peer ? "peer is disabled" : "reporter is disabled");
    }
    const std::int64_t expires = std::stoll(a.timestamp) + window;  // verified digits
    if (auto fresh = remember_nonce(a.reporter, a.nonce, now, expires); !fresh)
      return fresh.error();
    return Authenticated{
        std::move(*rep),
        storage::ReplayKey{a.nonce, storage::TimePoint{std::chrono::seconds{expires}}}};
  }();
  if (!verified) {
    auto code = verified.error().code;
    if (code != ServiceErrc::kOverloaded && code != ServiceErrc::kInternal)
      metrics_.auth_failures.add();
  }
  return verified;
}

namespace {

// A fleet write's outcome as the service reports it: the refusal, or the part asked for.
template <class T, class F>
ServiceResult<T> from_logged(Result<storage::LoggedOutcome> r, F pick) {
  if (!r) return store_error(r.error());
  if (r->refused) return store_error(*r->refused);
  return pick(*r);
}

}  // namespace

ServiceResult<storage::Reporter> SignatureService::add_reporter_now(
    const storage::ReporterSpec& spec) {
  if (fleet_ != nullptr) {
    protocol::FleetAddReporter a;
    a.name = spec.name;
    a.secret = spec.secret;
    a.trust = spec.trust;
    a.pinned = spec.pinned;
    a.admin = spec.admin;
    a.open_registration = spec.open_registration;
    return from_logged<storage::Reporter>(
        fleet_->submit_and_wait(std::move(a), clocks_.unix_seconds()),
        [](storage::LoggedOutcome& o) -> ServiceResult<storage::Reporter> {
          if (!o.reporter)
            return ServiceError{ServiceErrc::kInternal, "registration not applied", 0};
          return std::move(*o.reporter);
        });
  }
  try {
    auto r = store_.add_reporter(spec);
    if (!r) return store_error(r.error());
    return std::move(*r);
  } catch (const std::exception& e) {
    logger()->error("registration failed: {}", e.what());
    return ServiceError{ServiceErrc::kInternal, "internal error", 0};
  }
}

void SignatureService::add_reporter(storage::ReporterSpec spec, RegisterDone done) {
  offload_(
      [this, spec = std::move(spec), done = std::move(done)]() { done(add_reporter_now(spec)); });
}

// ---- reporter administration --------------------------------------------------------------

namespace {

ServiceResult<storage::Reporter> reporter_of(storage::LoggedOutcome& o) {
  if (!o.reporter) return ServiceError{ServiceErrc::kInternal, "reporter change not applied", 0};
  return std::move(*o.reporter);
}

ServiceError unknown_reporter() {
  return ServiceError{ServiceErrc::kUnknownReporter, "unknown reporter", 0};
}

// A name no stored reporter can have (the store checks the characters).
bool impossible_name(std::string_view name) {
  return name.empty() || name.size() > storage::kMaxReporterName;
}

}  // namespace

ServiceResult<storage::Reporter> SignatureService::set_reporter_trust(std::string_view name,
                                                                      double trust, bool pinned) {
  if (!(trust >= 0.0 && trust <= 1.0))
    return ServiceError{ServiceErrc::kInvalid, "trust must be a number between 0 and 1", 0};
  if (impossible_name(name)) return unknown_reporter();
  if (fleet_ != nullptr) {
    return from_logged<storage::Reporter>(
        fleet_->submit_and_wait(protocol::FleetSetTrust{std::string(name), trust, pinned},
                                clocks_.unix_seconds()),
        reporter_of);
  }
  auto r = store_.set_trust(name, trust, pinned);
  if (!r) return store_error(r.error());
  return std::move(*r);
}

ServiceResult<storage::Reporter> SignatureService::set_reporter_disabled(std::string_view name,
                                                                         bool disabled) {
  if (impossible_name(name)) return unknown_reporter();
  if (fleet_ != nullptr) {
    return from_logged<storage::Reporter>(
        fleet_->submit_and_wait(protocol::FleetSetDisabled{std::string(name), disabled},
                                clocks_.unix_seconds()),
        reporter_of);
  }
  auto r = store_.set_disabled(name, disabled);
  if (!r) return store_error(r.error());
  return std::move(*r);
}

// ---- federation peers ---------------------------------------------------------------------

namespace {

ServiceError unknown_peer() {
  return ServiceError{ServiceErrc::kUnknownReporter, "no such peer", 0};
}

}  // namespace

ServiceResult<std::vector<storage::Peer>> SignatureService::list_peers() {
  auto r = store_.list_peers();
  if (!r) {
    logger()->error("listing peers failed: {}", r.error().to_string());
    return ServiceError{ServiceErrc::kInternal, "storage error", 0};
  }
  return std::move(*r);
}

ServiceResult<storage::Peer> SignatureService::find_peer(std::string_view name) {
  if (impossible_name(name)) return unknown_peer();
  auto r = store_.find_peer(name);
  if (r) return std::move(*r);
  if (r.error().code == Errc::kNotFound) return unknown_peer();
  logger()->error("peer lookup failed: {}", r.error().to_string());
  return ServiceError{ServiceErrc::kInternal, "storage error", 0};
}

ServiceResult<storage::Peer> SignatureService::add_peer(const storage::PeerSpec& spec) {
  if (!(spec.trust >= 0.0 && spec.trust <= 1.0))
    return ServiceError{ServiceErrc::kInvalid, "trust must be a number between 0 and 1", 0};
  if (fleet_ != nullptr) {
    // Through the log, so every member adds the same peer (docs/federation.md "In a fleet").
    return from_logged<storage::Peer>(
        fleet_->submit_and_wait(
            protocol::FleetAddPeer{spec.name, spec.url, spec.secret, spec.trust},
            clocks_.unix_seconds()),
        [](storage::LoggedOutcome& o) -> ServiceResult<storage::Peer> {
          if (!o.peer) return ServiceError{ServiceErrc::kInternal, "peer not added", 0};
          return std::move(*o.peer);
        });
  }
  auto r = store_.add_peer(spec);
  if (!r) return store_error(r.error());
  return std::move(*r);
}

ServiceResult<void> SignatureService::remove_peer(std::string_view name) {
  if (impossible_name(name)) return unknown_peer();
  if (fleet_ != nullptr) {
    auto r = fleet_->submit_and_wait(protocol::FleetRemovePeer{std::string(name)},
                                     clocks_.unix_seconds());
    if (!r) return store_error(r.error());
    if (r->refused) {
      if (r->refused->code == Errc::kNotFound) return unknown_peer();
      return store_error(*r->refused);
    }
    return {};
  }
  auto r = store_.remove_peer(name);
  if (!r) {
    if (r.error().code == Errc::kNotFound) return unknown_peer();
    return store_error(r.error());
  }
  return {};
}

ServiceResult<std::vector<storage::Reporter>> SignatureService::list_reporters(
    std::string_view after, std::size_t limit) {
  auto all = store_.list_reporters();
  if (!all) {
    logger()->error("listing reporters failed: {}", all.error().to_string());
    return ServiceError{ServiceErrc::kInternal, "storage read failed", 0};
  }
  std::vector<storage::Reporter> page;
  for (auto& r : *all) {
    if (r.name > after) page.push_back(std::move(r));
  }
  std::sort(page.begin(), page.end(),
            [](const storage::Reporter& a, const storage::Reporter& b) { return a.name < b.name; });
  if (page.size() > limit) page.resize(limit);
  return page;
}

// ---- signatures ---------------------------------------------------------------------------

bool SignatureService::lists(const storage::Match& m) const {
  return !m.allowed && config_.store.verdict_engines.has(m.engine) &&
         m.confidence >= config_.store.threshold;
}

ServiceResult<storage::CheckOutcome> SignatureService::check(std::span<const sigs::Signature> sigs,
                                                             std::string_view what) {
  auto out = store_.check(sigs);
  if (!out) {
    logger()->error("{}check failed: {}", what, out.error().to_string());
    return ServiceError{ServiceErrc::kInternal, "storage read failed", 0};
  }
  // The allowlist: an allowed match counts for nothing, in every protocol's answer.
  for (auto& m : out->matches) {
    if (m.allowed) m.confidence = 0;
  }
  // The verdict from the matches that decide (verdict.hpp: a url/1 match alone only without
  // fuzzy/1 in the message or with kUrlAttestedReporters reporters).
  decide_verdict(sigs, {config_.store.verdict_engines, config_.store.threshold}, &*out);
  if (on_listed_match_) {
    for (const auto& m : out->matches) {
      if (lists(m)) on_listed_match_(m.id);
    }
  }
  return std::move(*out);
}

void SignatureService::count_checked(std::size_t messages, std::uint64_t signatures,
                                     std::size_t spam) {
  metrics_.messages_checked.add(messages);
  metrics_.messages_spam.add(spam);
  metrics_.signatures_checked.add(signatures);
}

bool SignatureService::listable(std::span<const sigs::Signature> sigs) const {
  return storage::can_list(config_.store.verdict_engines, sigs);
}

void SignatureService::vote(VoteCall call, VoteDone done) {
  if (fleet_ != nullptr) return vote_through_fleet(std::move(call), std::move(done));
  storage::VoteRequest vr;
  vr.reporter = call.reporter;
  vr.revoke = call.revoke;
  vr.sigs = std::move(call.sigs);
  vr.message_sizes = std::move(call.message_sizes);
  vr.replay = std::move(call.replay);
  vr.now = storage::TimePoint{std::chrono::seconds{clocks_.unix_seconds()}};
  const std::size_t count = vr.sigs.size();
  Counter* counted = call.revoke ? &metrics_.signatures_revoked : &metrics_.signatures_reported;
  store_.vote(std::move(vr),
              [done = std::move(done), count, counted](Result<storage::VoteOutcome> r) {
                if (!r) return done(store_error(r.error()));
                counted->add(count);
                done(std::move(*r));
              });
}

void SignatureService::vote_through_fleet(VoteCall call, VoteDone done) {
  // Events name the reporter (ids are local to a store).
  auto rep = store_.find_reporter(call.reporter);
  if (!rep) return done(store_error(rep.error()));
  protocol::FleetVote v;
  v.reporter = rep->name;
  v.revoke = call.revoke;
  v.sigs = std::move(call.sigs);
  v.message_sizes = std::move(call.message_sizes);
  if (call.replay) {
    v.replay = protocol::FleetVote::Replay{
        std::move(call.replay->nonce), static_cast<std::uint64_t>(std::max<std::int64_t>(
                                           0, call.replay->expires.time_since_epoch().count()))};
  }
  const std::size_t count = v.sigs.size();
  Counter* counted = call.revoke ? &metrics_.signatures_revoked : &metrics_.signatures_reported;
  fleet_->submit(std::move(v), clocks_.unix_seconds(),
                 [done = std::move(done), count, counted](Result<storage::LoggedOutcome> r) {
                   auto out = from_logged<storage::VoteOutcome>(
                       std::move(r),
                       [](storage::LoggedOutcome& o) -> ServiceResult<storage::VoteOutcome> {
                         return std::move(o.votes);
                       });
                   if (out) counted->add(count);
                   done(std::move(out));
                 });
}

// ---- signature administration -------------------------------------------------------------

ServiceResult<std::vector<SignatureView>> SignatureService::describe(
    std::span<const sigs::Signature> sigs) {
  auto infos = store_.signature_info(sigs);
  if (!infos) {
    logger()->error("signature lookup failed: {}", infos.error().to_string());
    return ServiceError{ServiceErrc::kInternal, "storage read failed", 0};
  }
  std::vector<SignatureView> out;
  out.reserve(infos->size());
  for (auto& info : *infos) {
    SignatureView v;
    v.decides = config_.store.verdict_engines.has(info.sig.engine);
    storage::Match m;  // the match an exact check of this signature would see
    m.engine = info.sig.engine;
    m.confidence = info.confidence;
    m.allowed = info.allowed;
    v.listed = info.stored && lists(m);
    v.info = std::move(info);
    out.push_back(std::move(v));
  }
  return out;
}

ServiceResult<std::vector<bool>> SignatureService::delete_signatures(
    std::span<const sigs::Signature> sigs) {
  if (fleet_ != nullptr) {
    return from_logged<std::vector<bool>>(
        fleet_->submit_and_wait(
            protocol::FleetDeleteSignatures{std::vector<sigs::Signature>(sigs.begin(), sigs.end())},
            clocks_.unix_seconds()),
        [](storage::LoggedOutcome& o) -> ServiceResult<std::vector<bool>> {
          return std::move(o.changed);
        });
  }
  auto r = store_.delete_signatures(sigs);
  if (!r) return store_error(r.error());
  return std::move(*r);
}

ServiceResult<std::vector<bool>> SignatureService::set_allowed(
    std::span<const sigs::Signature> sigs, bool allowed) {
  if (fleet_ != nullptr) {
    return from_logged<std::vector<bool>>(
        fleet_->submit_and_wait(
            protocol::FleetSetAllowed{std::vector<sigs::Signature>(sigs.begin(), sigs.end()),
                                      allowed},
            clocks_.unix_seconds()),
        [](storage::LoggedOutcome& o) -> ServiceResult<std::vector<bool>> {
          return std::move(o.changed);
        });
  }
  auto r = store_.set_allowed(sigs, allowed);
  if (!r) return store_error(r.error());
  return std::move(*r);
}

// ---- state --------------------------------------------------------------------------------

protocol::StateResponse SignatureService::state() {
  protocol::StateResponse s;
  s.node_version = std::string(kNodeVersion);
  for (auto e : sigs::kAllEngines) s.engines.emplace_back(sigs::engine_name(e));
  s.threshold = config_.store.threshold;
  s.limits = config_.limits;
  s.anonymous_check = config_.anonymous_check;
  s.open_registration = config_.open_registration;
  auto st = store_.stats();
  s.signatures = st.signatures;
  s.reporters = st.reporters;
  return s;
}

ServiceResult<storage::FeedPage> SignatureService::read_feed(std::uint64_t after,
                                                             std::size_t limit) {
  if (!federation_enabled()) {
    return ServiceError{ServiceErrc::kForbidden, "this node does not federate (no federation.site)",
                        0};
  }
  auto page = store_.read_feed(after, limit);
  if (!page) {
    logger()->error("feed read failed: {}", page.error().to_string());
    return ServiceError{ServiceErrc::kInternal, "feed read failed", 0};
  }
  return std::move(*page);
}

std::string SignatureService::render_metrics() {
  auto stats = store_.stats();
  std::string out = metrics_.render(stats);
  if (fleet_ != nullptr) {
    out += render_fleet_metrics(fleet_->metrics(), stats.applied_sequence);
    out += fleet_->render_member_metrics();
  }
  if (federation_ != nullptr) out += federation_->render_metrics();
  return out;
}

}  // namespace strop::node
