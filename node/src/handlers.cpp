#include "node/handlers.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <utility>
#include <vector>

#include "admin_api.hpp"
#include "base/gzip.hpp"
#include "node/federation.hpp"
#include "node/feed_waiters.hpp"
#include "node_common.hpp"
#include "protocol/codec.hpp"
#include "protocol/feed.hpp"
#include "protocol/messages.hpp"
#include "verdict.hpp"

namespace strop::node {

using protocol::ApiErrc;

namespace {

struct ApiError {
  ApiErrc code;
  std::string message;
  int retry_after = 0;
};

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

// The wire code of a service refusal.
ApiErrc api_errc(ServiceErrc code) {
  switch (code) {
    case ServiceErrc::kInvalid: return ApiErrc::kInvalid;
    case ServiceErrc::kLimitExceeded: return ApiErrc::kLimitExceeded;
    case ServiceErrc::kAuthRequired: return ApiErrc::kAuthRequired;
    case ServiceErrc::kBadSignature:
    case ServiceErrc::kUnknownReporter: return ApiErrc::kBadSignature;
    case ServiceErrc::kStale: return ApiErrc::kStaleRequest;
    case ServiceErrc::kReplayed: return ApiErrc::kReplayedNonce;
    case ServiceErrc::kForbidden: return ApiErrc::kForbidden;
    case ServiceErrc::kRegistrationClosed: return ApiErrc::kRegistrationClosed;
    case ServiceErrc::kNameTaken: return ApiErrc::kNameTaken;
    case ServiceErrc::kRateLimited: return ApiErrc::kRateLimited;
    case ServiceErrc::kOverloaded: return ApiErrc::kOverloaded;
    case ServiceErrc::kInternal: break;
  }
  return ApiErrc::kInternal;
}

HttpResponse from_error(const ServiceError& e) {
  return from_error(ApiError{api_errc(e.code), e.message, e.retry_after});
}

HttpResponse decode_error(const Error& e) {
  return from_error({protocol::api_errc_for(e), e.message});
}

std::string_view path_of(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

bool has_any_auth(const protocol::AuthHeaders& a) {
  return !a.reporter.empty() || !a.signature.empty() || !a.timestamp.empty() || !a.nonce.empty();
}

// The tally of one message's vote effects.
void tally(protocol::MessageVoteResult* mr, storage::VoteEffect e) {
  switch (e) {
    case storage::VoteEffect::kRecorded: ++mr->recorded; break;
    case storage::VoteEffect::kUnchanged: ++mr->unchanged; break;
    case storage::VoteEffect::kChanged: ++mr->changed; break;
    case storage::VoteEffect::kWithdrawn: ++mr->withdrawn; break;
    case storage::VoteEffect::kUnknown: ++mr->unknown; break;
  }
}

}  // namespace

HttpResponse Api::error_response(ApiErrc code, std::string message) {
  HttpResponse r;
  r.status = protocol::http_status(code);
  r.body = protocol::encode(protocol::ErrorBody{code, std::move(message)});
  r.api_error = static_cast<int>(code);
  return r;
}

HttpResponse Api::error_response(const ServiceError& e) { return from_error(e); }

struct Api::Impl {
  SignatureService& svc;
  const std::atomic<bool>* draining;

  Impl(SignatureService& s, const std::atomic<bool>* d) : svc(s), draining(d) {}

  const protocol::Limits& limits() const { return svc.config().limits; }

  // ---- routes

  void check(const HttpRequest& req, const Done& done) {
    if (!svc.anonymous_check() || has_any_auth(req.auth)) {
      auto who = svc.authenticate(req.auth, req.method, req.target, req.body);
      if (!who) return done(from_error(who.error()));
    }
    auto decoded = protocol::decode_check_request(req.body, limits());
    if (!decoded) return done(decode_error(decoded.error()));
    protocol::CheckResponse resp;
    resp.results.reserve(decoded->messages.size());
    std::uint64_t nsigs = 0;
    std::size_t spam = 0;
    for (auto& m : decoded->messages) {
      nsigs += m.sigs.size();
      auto out = svc.check(m.sigs);
      if (!out) return done(from_error(out.error()));
      spam += out->spam ? 1 : 0;
      resp.results.push_back(message_verdict(std::move(*out), std::move(m.id)));
    }
    svc.count_checked(decoded->messages.size(), nsigs, spam);
    done(json_response(protocol::encode(resp)));
  }

  void vote(const HttpRequest& req, const Done& done, bool revoke) {
    auto who = svc.authenticate(req.auth, req.method, req.target, req.body);
    if (!who) return done(from_error(who.error()));
    if (auto budget = svc.admit_reporter(who->reporter.name); !budget)
      return done(from_error(budget.error()));
    auto decoded = protocol::decode_vote_request(req.body, limits());
    if (!decoded) return done(decode_error(decoded.error()));

    // One service call for the whole request: one group-commit slot, one acknowledgement,
    // and the request's nonce consumed in the same commit (a replay is refused after a
    // restart).
    VoteCall call;
    call.reporter = who->reporter.id;
    call.revoke = revoke;
    call.replay = std::move(who->replay);
    auto results = std::make_shared<protocol::VoteResponse>();
    results->results.reserve(decoded->messages.size());
    std::size_t total = 0;
    for (auto& m : decoded->messages) total += m.sigs.size();
    call.sigs.reserve(total);
    call.message_sizes.reserve(decoded->messages.size());
    for (auto& m : decoded->messages) {
      call.message_sizes.push_back(static_cast<std::uint32_t>(m.sigs.size()));
      results->results.push_back({std::move(m.id), 0, 0, 0, 0, 0, svc.listable(m.sigs)});
      for (auto& s : m.sigs) call.sigs.push_back(std::move(s));
    }
    auto sizes = call.message_sizes;
    svc.vote(std::move(call),
             [done, results, sizes = std::move(sizes)](ServiceResult<storage::VoteOutcome> r) {
               if (!r) return done(from_error(r.error()));
               const auto& effects = r->effects;
               std::size_t k = 0;
               for (std::size_t i = 0; i < sizes.size(); ++i) {
                 for (std::size_t j = 0; j < sizes[i] && k < effects.size(); ++j, ++k) {
                   tally(&results->results[i], effects[k]);
                 }
               }
               done(json_response(protocol::encode(*results)));
             });
  }

  void register_reporter(const HttpRequest& req, const Done& done) {
    if (auto budget = svc.admit_registration(req.client_ip); !budget)
      return done(from_error(budget.error()));
    auto decoded = protocol::decode_register_request(req.body, limits());
    storage::ReporterSpec spec;
    if (has_any_auth(req.auth)) {
      auto admin = svc.authenticate(req.auth, req.method, req.target, req.body);
      if (!admin) return done(from_error(admin.error()));
      if (!admin->reporter.admin) {
        return done(from_error({ApiErrc::kForbidden, "only admin reporters may register others"}));
      }
      if (!decoded) return done(decode_error(decoded.error()));
      spec.trust = decoded->trust;
      spec.pinned = decoded->trust.has_value();
      spec.admin = decoded->admin;
    } else {
      if (!svc.open_registration()) {
        return done(from_error(
            {ApiErrc::kRegistrationClosed, "open registration is switched off on this node"}));
      }
      if (!decoded) return done(decode_error(decoded.error()));
      spec.open_registration = true;  // nobody vouched for it: never trusted without an admin
    }
    spec.name = decoded->name;
    spec.secret = protocol::make_secret();
    std::string secret = spec.secret;
    svc.add_reporter(std::move(spec), [done, secret](ServiceResult<storage::Reporter> r) {
      if (!r) return done(from_error(r.error()));
      logger()->info("registered reporter {} (trust {:.3f})", r->name, r->trust);
      done(json_response(protocol::encode(protocol::RegisterResponse{r->name, secret, r->trust})));
    });
  }

  // GET /v1/peer/feed: a peer pulls this site's feed (docs/federation.md "The feed").
  void peer_feed(const HttpRequest& req, const Done& done) {
    protocol::AuthHeaders auth = req.auth;
    auth.reporter = req.peer;  // peers name themselves in X-Strop-Peer
    auto who = svc.authenticate_peer(auth, req.method, req.target, req.body);
    if (!who) return done(from_error(who.error()));
    auto query = protocol::parse_feed_query(req.target);
    if (!query) return done(from_error({ApiErrc::kMalformed, query.error().message}));
    auto page = svc.read_feed(query->after, query->limit);
    if (!page) return done(from_error(page.error()));
    const std::string& secret = who->reporter.secret;
    FeedWaiters* waiters = svc.feed_waiters();
    if (!page->entries.empty() || query->wait == 0 || waiters == nullptr) {
      return done(feed_response(std::move(*page), secret, req.auth.nonce, req.accept_gzip));
    }
    // Long poll: nothing after the cursor yet. Parked without a thread until a commit brings
    // an entry, the wait ends or the node drains; over the bounds, answered now (empty).
    auto attempt = [this, q = *query, secret, nonce = req.auth.nonce, gzip = req.accept_gzip,
                    done](FeedWaiters::Why why) {
      const bool now = why == FeedWaiters::Why::kExpired || draining->load();
      if (why == FeedWaiters::Why::kTick && !now) return false;
      auto again = svc.read_feed(q.after, q.limit);
      if (!again) {
        done(from_error(again.error()));
        return true;
      }
      if (again->entries.empty() && !now) return false;
      done(feed_response(std::move(*again), secret, nonce, gzip));
      return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(query->wait);
    if (!waiters->add(who->reporter.name, deadline, attempt)) {
      done(feed_response(std::move(*page), secret, req.auth.nonce, req.accept_gzip));
    }
  }

  // A 200 with `page` as strop-feed/1, gzip when accepted and large enough, signed as sent.
  static HttpResponse feed_response(storage::FeedPage page, const std::string& secret,
                                    const std::string& nonce, bool accept_gzip) {
    protocol::FeedBatch batch;
    batch.head = page.head;
    batch.oldest = page.oldest;
    batch.entries.reserve(page.entries.size());
    for (auto& e : page.entries) batch.entries.push_back(to_wire(std::move(e)));
    auto body = protocol::encode_feed(batch);
    if (!body) {
      logger()->error("feed encoding failed: {}", body.error().to_string());
      return from_error({ApiErrc::kInternal, "feed encoding failed"});
    }
    HttpResponse r;
    r.content_type = std::string(protocol::kFeedContentType);
    if (accept_gzip && body->size() >= protocol::kFeedGzipMinBody) {
      *body = gzip_compress(*body);
      r.content_encoding = "gzip";
    }
    // Over the bytes as sent: the puller verifies before decompressing.
    r.signature = protocol::sign_feed_response(secret, 200, nonce, *body);
    r.body = std::move(*body);
    return r;
  }

  void state(const Done& done) { done(json_response(protocol::encode(svc.state()))); }

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
    r.body = svc.render_metrics();
    done(std::move(r));
  }
};

Api::Api(SignatureService& service) : impl_(std::make_unique<Impl>(service, &draining_)) {}

Api::~Api() = default;

void Api::handle(const HttpRequest& req, Done done) {
  Impl& im = *impl_;
  SignatureService& svc = im.svc;
  const std::int64_t start = svc.mono_ns();
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
  } else if (path == protocol::kPathPeerFeed) {
    op = Op::kPeerFeed;
    want_method = allow = "GET";
  }
  // The admin API (admin_api.hpp), mounted here until the admin listener serves it; it
  // authenticates every request as an admin reporter itself.
  const bool admin = path.starts_with(kAdminPathPrefix);

  // Wraps `done`: metrics, and Connection: close while draining.
  SignatureService* service = &svc;
  const std::atomic<bool>* draining = &draining_;
  Done finish = [done = std::move(done), service, start, op, draining](HttpResponse r) {
    std::size_t result = r.status >= 400 ? static_cast<std::size_t>(r.api_error) : 0;
    if (r.status >= 400 && result == 0) result = result_index(ApiErrc::kInternal);
    service->metrics().record(op, result, std::chrono::nanoseconds(service->mono_ns() - start));
    if (draining->load(std::memory_order_relaxed)) r.close = true;
    done(std::move(r));
  };

  try {
    if (admin) return handle_admin(svc, req, std::move(finish));
    if (op == Op::kOther) {
      return finish(from_error(
          {ApiErrc::kNotFound, "no such endpoint: " + std::string(path.substr(0, 200))}));
    }
    if (req.method != want_method) {
      auto r = from_error({ApiErrc::kMethodNotAllowed,
                           "use " + std::string(want_method) + " for " + std::string(path)});
      r.allow = std::string(allow);
      return finish(std::move(r));
    }
    if (op != Op::kHealth && op != Op::kMetrics) {
      if (auto budget = svc.admit_client(req.client_ip); !budget)
        return finish(from_error(budget.error()));
    }
    switch (op) {
      case Op::kCheck: return im.check(req, finish);
      case Op::kReport: return im.vote(req, finish, false);
      case Op::kRevoke: return im.vote(req, finish, true);
      case Op::kRegister: return im.register_reporter(req, finish);
      case Op::kState: return im.state(finish);
      case Op::kHealth: return im.health(finish);
      case Op::kMetrics: return im.metrics_text(finish);
      case Op::kPeerFeed: return im.peer_feed(req, finish);
      case Op::kOther:
      case Op::kUdpCheck: break;
    }
  } catch (const std::exception& e) {
    // A bug or resource exhaustion; the request fails, the node keeps serving.
    logger()->error("internal error handling {}: {}", op_name(op), e.what());
    return finish(from_error({ApiErrc::kInternal, "internal error"}));
  }
}

}  // namespace strop::node
