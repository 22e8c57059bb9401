#include "node/handlers.hpp"

#include "node_common.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <utility>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

namespace strop::node {

using protocol::ApiErrc;

namespace {

struct ApiError {
  ApiErrc code;
  std::string message;
  int retry_after = 0;
};

std::int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse json_response(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse from_error(const ApiError& e) {
  auto r = Api::error_response(e.code, e.message);
  r.retry_after = e.retry_after;
  return r;
}

int retry_seconds(double s) { return std::max(1, static_cast<int>(std::ceil(s))); }

// Maps a Store error to the API.
ApiError store_error(const Error& e) {
  switch (e.code) {
    case Errc::kUnavailable: return {ApiErrc::kOverloaded, e.message, 1};
    case Errc::kForbidden: return {ApiErrc::kForbidden, e.message};
    case Errc::kNotFound: return {ApiErrc::kBadSignature, "unknown reporter"};
    case Errc::kInvalidArgument:
    case Errc::kMalformed: return {ApiErrc::kInvalid, e.message};
    case Errc::kLimitExceeded: return {ApiErrc::kLimitExceeded, e.message};
    case Errc::kExists: return {ApiErrc::kNameTaken, e.message};
    case Errc::kReplayed: return {ApiErrc::kReplayedNonce, "nonce already used"};
    default: return {ApiErrc::kInternal, "storage error"};
  }
}

std::string_view path_of(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

bool has_any_auth(const protocol::AuthHeaders& a) {
  return !a.reporter.empty() || !a.signature.empty() || !a.timestamp.empty() || !a.nonce.empty();
}

}  // namespace

ApiOptions api_options(const Config& c) {
  ApiOptions o;
  o.anonymous_check = c.anonymous_check;
  o.open_registration = c.open_registration;
  o.signing_window_seconds = c.signing_window_seconds;
  o.nonce_cache_entries = c.nonce_cache_entries;
  o.nonce_cache_per_reporter = c.nonce_cache_per_reporter;
  o.limits = c.limits;
  o.ip_limit = c.ip_limit;
  o.reporter_limit = c.reporter_limit;
  o.register_limit = c.register_limit;
  o.rate_limit_entries = c.rate_limit_entries;
  o.threshold = c.store.threshold;
  o.verdict_engines = c.store.verdict_engines;
  return o;
}

HttpResponse Api::error_response(ApiErrc code, std::string message) {
  HttpResponse r;
  r.status = protocol::http_status(code);
  r.body = protocol::encode(protocol::ErrorBody{code, std::move(message)});
  r.api_error = static_cast<int>(code);
  return r;
}

struct Api::Impl {
  storage::Store& store;
  ApiOptions opt;
  NodeMetrics& metrics;
  Clocks clocks;
  Offload offload;
  const std::atomic<bool>* draining;
  RateLimiter ip_limiter;
  RateLimiter reporter_limiter;
  RateLimiter register_limiter;
  NonceCache nonces;

  Impl(storage::Store& s, ApiOptions o, NodeMetrics& m, Clocks c, Offload off, const std::atomic<bool>* d)
      : store(s),
        opt(std::move(o)),
        metrics(m),
        clocks(std::move(c)),
        offload(std::move(off)),
        draining(d),
        ip_limiter(opt.ip_limit.per_second, opt.ip_limit.burst, opt.rate_limit_entries),
        reporter_limiter(opt.reporter_limit.per_second, opt.reporter_limit.burst, opt.rate_limit_entries),
        register_limiter(opt.register_limit.per_second, opt.register_limit.burst, opt.rate_limit_entries),
        nonces(opt.nonce_cache_entries, opt.nonce_cache_per_reporter) {
    if (!clocks.unix_seconds) clocks.unix_seconds = system_seconds;
    if (!clocks.mono_ns) clocks.mono_ns = steady_ns;
    if (!offload) offload = [](std::function<void()> job) { job(); };
  }

  // Verifies a signed request; on success returns the reporter. *replay (when given) receives
  // the request's replay key, for writes to consume durably with their votes.
  Result<storage::Reporter> authenticate_raw(const HttpRequest& req, ApiError* err,
                                             storage::ReplayKey* replay) {
    const auto& a = req.auth;
    if (a.reporter.empty() || a.timestamp.empty() || a.nonce.empty() || a.signature.empty()) {
      *err = {ApiErrc::kAuthRequired,
              "this request must be signed (X-Strop-Reporter, X-Strop-Timestamp, X-Strop-Nonce, X-Strop-Signature)"};
      return make_error(Errc::kUnauthorized, "");
    }
    auto rep = store.find_reporter(std::string_view(a.reporter));
    if (!rep) {
      if (rep.error().code != Errc::kNotFound) {
        *err = {ApiErrc::kInternal, "reporter lookup failed"};
      } else {
        *err = {ApiErrc::kBadSignature, "unknown reporter or bad signature"};
      }
      return make_error(Errc::kUnauthorized, "");
    }
    std::int64_t now = clocks.unix_seconds();
    auto st = protocol::verify_request(a, rep->secret, req.method, req.target, req.body, now,
                                       opt.signing_window_seconds);
    switch (st) {
      case protocol::AuthStatus::kOk: break;
      case protocol::AuthStatus::kMalformed:
        *err = {ApiErrc::kBadSignature, "malformed X-Strop-Timestamp, X-Strop-Nonce or X-Strop-Signature"};
        return make_error(Errc::kUnauthorized, "");
      case protocol::AuthStatus::kStale:
        *err = {ApiErrc::kStaleRequest, "timestamp outside the node's window of " +
                                            std::to_string(opt.signing_window_seconds) + " s (check the clock)"};
        return make_error(Errc::kUnauthorized, "");
      case protocol::AuthStatus::kBadSignature:
        *err = {ApiErrc::kBadSignature, "unknown reporter or bad signature"};
        return make_error(Errc::kUnauthorized, "");
    }
    if (rep->disabled) {
      *err = {ApiErrc::kForbidden, "reporter is disabled"};
      return make_error(Errc::kForbidden, "");
    }
    std::int64_t ts = std::stoll(a.timestamp);  // verified digits
    const std::int64_t expires = ts + opt.signing_window_seconds;
    switch (nonces.insert(a.reporter, a.nonce, now, expires)) {
      case NonceCache::Outcome::kFresh:
      case NonceCache::Outcome::kUntracked:  // writes are still checked durably by the store
        break;
      case NonceCache::Outcome::kReplay:
        *err = {ApiErrc::kReplayedNonce, "nonce already used"};
        return make_error(Errc::kUnauthorized, "");
      case NonceCache::Outcome::kFull:
        *err = {ApiErrc::kOverloaded, "too many signed requests from this reporter within the signing window", 1};
        return make_error(Errc::kUnavailable, "");
    }
    if (replay != nullptr) *replay = {a.nonce, storage::TimePoint{std::chrono::seconds{expires}}};
    return rep;
  }

  Result<storage::Reporter> authenticate(const HttpRequest& req, ApiError* err,
                                         storage::ReplayKey* replay = nullptr) {
    auto r = authenticate_raw(req, err, replay);
    if (!r && err->code != ApiErrc::kOverloaded && err->code != ApiErrc::kInternal) metrics.auth_failures.add();
    return r;
  }

  // ---- routes

  void check(const HttpRequest& req, const Done& done) {
    if (!opt.anonymous_check || has_any_auth(req.auth)) {
      ApiError err;
      if (!authenticate(req, &err)) return done(from_error(err));
    }
    auto decoded = protocol::decode_check_request(req.body, opt.limits);
    if (!decoded) return done(from_error({protocol::api_errc_for(decoded.error()), decoded.error().message}));
    protocol::CheckResponse resp;
    resp.results.reserve(decoded->messages.size());
    std::uint64_t nsigs = 0;
    for (auto& m : decoded->messages) {
      nsigs += m.sigs.size();
      auto out = store.check(m.sigs);
      if (!out) {
        if (auto log = spdlog::get("node")) log->error("check failed: {}", out.error().to_string());
        return done(from_error({ApiErrc::kInternal, "storage read failed"}));
      }
      protocol::MessageVerdict v;
      v.id = std::move(m.id);
      v.verdict = out->spam ? protocol::Verdict::kSpam : protocol::Verdict::kNotSpam;
      v.confidence = out->confidence;
      v.matches.reserve(out->matches.size());
      for (auto& x : out->matches) {
        v.matches.push_back({x.engine, std::move(x.id), x.similarity, x.reports, x.revokes, x.confidence});
      }
      resp.results.push_back(std::move(v));
    }
    metrics.messages_checked.add(decoded->messages.size());
    metrics.signatures_checked.add(nsigs);
    done(json_response(protocol::encode(resp)));
  }

  void vote(const HttpRequest& req, const Done& done, bool revoke) {
    ApiError err;
    storage::ReplayKey replay;
    auto rep = authenticate(req, &err, &replay);
    if (!rep) return done(from_error(err));
    auto d = reporter_limiter.take(rep->name, clocks.mono_ns());
    if (!d.allowed) {
      metrics.rate_limited_reporter.add();
      return done(from_error({ApiErrc::kRateLimited, "reporter request rate exceeded", retry_seconds(d.retry_after_seconds)}));
    }
    auto decoded = protocol::decode_vote_request(req.body, opt.limits);
    if (!decoded) return done(from_error({protocol::api_errc_for(decoded.error()), decoded.error().message}));

    // One Store call for the whole request: one group-commit slot, one acknowledgement, and
    // the request's nonce consumed in the same commit (a replay is refused after a restart).
    storage::VoteRequest vr;
    vr.reporter = rep->id;
    vr.revoke = revoke;
    vr.replay = std::move(replay);
    std::vector<sigs::Signature>& all = vr.sigs;
    auto results = std::make_shared<protocol::VoteResponse>();
    auto counts = std::make_shared<std::vector<std::size_t>>();
    results->results.reserve(decoded->messages.size());
    counts->reserve(decoded->messages.size());
    std::size_t total = 0;
    for (auto& m : decoded->messages) total += m.sigs.size();
    all.reserve(total);
    vr.message_sizes.reserve(decoded->messages.size());
    for (auto& m : decoded->messages) {
      counts->push_back(m.sigs.size());
      vr.message_sizes.push_back(static_cast<std::uint32_t>(m.sigs.size()));
      results->results.push_back({std::move(m.id), 0, 0, 0, 0, 0, storage::can_list(opt.verdict_engines, m.sigs)});
      for (auto& s : m.sigs) all.push_back(std::move(s));
    }
    vr.now = storage::TimePoint{std::chrono::seconds{clocks.unix_seconds()}};
    NodeMetrics* m = &metrics;
    auto cb = [done, results, counts, total, revoke, m](Result<storage::VoteOutcome> r) {
      if (!r) return done(from_error(store_error(r.error())));
      const auto& effects = r->effects;
      std::size_t k = 0;
      for (std::size_t i = 0; i < counts->size(); ++i) {
        auto& mr = results->results[i];
        for (std::size_t j = 0; j < (*counts)[i] && k < effects.size(); ++j, ++k) {
          switch (effects[k]) {
            case storage::VoteEffect::kRecorded: ++mr.recorded; break;
            case storage::VoteEffect::kUnchanged: ++mr.unchanged; break;
            case storage::VoteEffect::kChanged: ++mr.changed; break;
            case storage::VoteEffect::kWithdrawn: ++mr.withdrawn; break;
            case storage::VoteEffect::kUnknown: ++mr.unknown; break;
          }
        }
      }
      (revoke ? m->signatures_revoked : m->signatures_reported).add(total);
      done(json_response(protocol::encode(*results)));
    };
    store.vote(std::move(vr), std::move(cb));
  }

  void register_reporter(const HttpRequest& req, const Done& done) {
    auto d = register_limiter.take(req.client_ip, clocks.mono_ns());
    if (!d.allowed) {
      metrics.rate_limited_ip.add();
      return done(from_error({ApiErrc::kRateLimited, "registration rate exceeded", retry_seconds(d.retry_after_seconds)}));
    }
    auto decoded = protocol::decode_register_request(req.body, opt.limits);
    storage::ReporterSpec spec;
    if (has_any_auth(req.auth)) {
      ApiError err;
      auto admin = authenticate(req, &err);
      if (!admin) return done(from_error(err));
      if (!admin->admin) return done(from_error({ApiErrc::kForbidden, "only admin reporters may register others"}));
      if (!decoded) return done(from_error({protocol::api_errc_for(decoded.error()), decoded.error().message}));
      spec.trust = decoded->trust;
      spec.pinned = decoded->trust.has_value();
      spec.admin = decoded->admin;
    } else {
      if (!opt.open_registration) {
        return done(from_error({ApiErrc::kRegistrationClosed, "open registration is switched off on this node"}));
      }
      if (!decoded) return done(from_error({protocol::api_errc_for(decoded.error()), decoded.error().message}));
      spec.open_registration = true;  // nobody vouched for it: never trusted without an admin
    }
    spec.name = decoded->name;
    spec.secret = protocol::make_secret();
    storage::Store* s = &store;
    offload([s, spec = std::move(spec), done]() mutable {
      std::string secret = spec.secret;
      auto r = s->add_reporter(spec);
      if (!r) return done(from_error(store_error(r.error())));
      if (auto log = spdlog::get("node")) log->info("registered reporter {} (trust {:.3f})", r->name, r->trust);
      done(json_response(protocol::encode(protocol::RegisterResponse{r->name, secret, r->trust})));
    });
  }

  void state(const Done& done) {
    protocol::StateResponse s;
    s.node_version = std::string(kNodeVersion);
    for (auto e : sigs::kAllEngines) s.engines.emplace_back(sigs::engine_name(e));
    s.threshold = opt.threshold;
    s.limits = opt.limits;
    s.anonymous_check = opt.anonymous_check;
    s.open_registration = opt.open_registration;
    auto st = store.stats();
    s.signatures = st.signatures;
    s.reporters = st.reporters;
    done(json_response(protocol::encode(s)));
  }

  void health(const Done& done) {
    if (draining->load(std::memory_order_relaxed)) {
      auto r = from_error({ApiErrc::kOverloaded, "shutting down"});
      r.close = true;
      return done(std::move(r));
    }
    done(json_response(R"({"v":1,"status":"ok"})"));
  }

  void metrics_text(const Done& done) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.render(store.stats());
    done(std::move(r));
  }
};

Api::Api(storage::Store& store, ApiOptions options, NodeMetrics& metrics, Clocks clocks, Offload offload)
    : impl_(std::make_unique<Impl>(store, std::move(options), metrics, std::move(clocks), std::move(offload),
                                   &draining_)) {}

Api::~Api() = default;

void Api::handle(const HttpRequest& req, Done done) {
  Impl& im = *impl_;
  const std::int64_t start = im.clocks.mono_ns();
  std::string_view path = path_of(req.target);

  Op op = Op::kOther;
  std::string_view want_method;
  std::string_view allow;
  if (path == protocol::kPathCheck) {
    op = Op::kCheck;
    want_method = allow = "POST";
  } else if (path == protocol::kPathReport) {
    op = Op::kReport;
    want_method = allow = "POST";
  } else if (path == protocol::kPathRevoke) {
    op = Op::kRevoke;
    want_method = allow = "POST";
  } else if (path == protocol::kPathRegister) {
    op = Op::kRegister;
    want_method = allow = "POST";
  } else if (path == protocol::kPathState) {
    op = Op::kState;
    want_method = allow = "GET";
  } else if (path == protocol::kPathHealth) {
    op = Op::kHealth;
    want_method = allow = "GET";
  } else if (path == protocol::kPathMetrics) {
    op = Op::kMetrics;
    want_method = allow = "GET";
  }

  // Wraps `done`: metrics, and Connection: close while draining.
  NodeMetrics* metrics = &im.metrics;
  std::function<std::int64_t()> mono = im.clocks.mono_ns;
  const std::atomic<bool>* draining = &draining_;
  Done finish = [done = std::move(done), metrics, mono, start, op, draining](HttpResponse r) {
    std::size_t result = r.status >= 400 ? static_cast<std::size_t>(r.api_error) : 0;
    if (r.status >= 400 && result == 0) result = result_index(ApiErrc::kInternal);
    metrics->record(op, result, std::chrono::nanoseconds(mono() - start));
    if (draining->load(std::memory_order_relaxed)) r.close = true;
    done(std::move(r));
  };

  try {
    if (op == Op::kOther) {
      return finish(from_error({ApiErrc::kNotFound, "no such endpoint: " + std::string(path.substr(0, 200))}));
    }
    if (req.method != want_method) {
      auto r = from_error({ApiErrc::kMethodNotAllowed, "use " + std::string(want_method) + " for " + std::string(path)});
      r.allow = std::string(allow);
      return finish(std::move(r));
    }
    if (op != Op::kHealth && op != Op::kMetrics) {
      auto d = im.ip_limiter.take(req.client_ip, start);
      if (!d.allowed) {
        im.metrics.rate_limited_ip.add();
        return finish(from_error({ApiErrc::kRateLimited, "client request rate exceeded", retry_seconds(d.retry_after_seconds)}));
      }
    }
    switch (op) {
      case Op::kCheck: return im.check(req, finish);
      case Op::kReport: return im.vote(req, finish, false);
      case Op::kRevoke: return im.vote(req, finish, true);
      case Op::kRegister: return im.register_reporter(req, finish);
      case Op::kState: return im.state(finish);
      case Op::kHealth: return im.health(finish);
      case Op::kMetrics: return im.metrics_text(finish);
      case Op::kOther:
      case Op::kUdpCheck: break;
    }
  } catch (const std::exception& e) {
    // A bug or resource exhaustion; the request fails, the node keeps serving.
    if (auto log = spdlog::get("node")) log->error("internal error handling {}: {}", op_name(op), e.what());
    return finish(from_error({ApiErrc::kInternal, "internal error"}));
  }
}

}  // namespace strop::node
