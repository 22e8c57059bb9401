#include "node/handlers.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "fake_store_test_util.hpp"
#include "node/feed_waiters.hpp"
#include "protocol/codec.hpp"
#include "protocol/feed.hpp"
#include "protocol/signing.hpp"

namespace strop::node {
namespace {

using protocol::ApiErrc;
using testing::FakeStore;

const std::string kSig1 = "body/1:0123456789abcdef0123456789abcdef";
const std::string kSig2 = "url/1:fedcba9876543210fedcba9876543210";

class ApiTest : public ::testing::Test {
 protected:
  void make_api(Config o = {}) {
    api_.reset();
    service_ = std::make_unique<SignatureService>(
        o, store_, metrics_, Clocks{[this] { return now_s_; }, [this] { return now_ns_; }});
    api_ = std::make_unique<Api>(*service_);
  }

  void SetUp() override {
    Config o;
    o.ip_limit = {0, 0};
    o.reporter_limit = {0, 0};
    o.register_limit = {0, 0};
    make_api(o);
    storage::ReporterSpec alice{"alice", "alice-secret", 0.5, true, false};
    ASSERT_TRUE(store_.add_reporter(alice).ok());
    storage::ReporterSpec root{"root", "root-secret", 1.0, true, true};
    ASSERT_TRUE(store_.add_reporter(root).ok());
  }

  // Sends one request; returns the response if it completed synchronously.
  std::optional<HttpResponse> call(std::string method, std::string target, std::string body = "",
                                   protocol::AuthHeaders auth = {}, std::string ip = "10.0.0.1") {
    method_ = std::move(method);
    target_ = std::move(target);
    body_ = std::move(body);
    ip_ = std::move(ip);
    HttpRequest req{method_, target_, body_, std::move(auth), ip_, {}};
    std::optional<HttpResponse> out;
    int calls = 0;
    api_->handle(req, [&out, &calls](HttpResponse r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_LE(calls, 1);
    return out;
  }

  protocol::AuthHeaders sign(const std::string& reporter, const std::string& secret,
                             const std::string& method, const std::string& target,
                             const std::string& body, std::int64_t ts = -1,
                             std::string nonce = "") {
    if (nonce.empty()) nonce = protocol::make_nonce();
    return protocol::sign_request(reporter, secret, method, target, body, ts < 0 ? now_s_ : ts,
                                  nonce);
  }

  std::optional<HttpResponse> signed_post(const std::string& target, const std::string& body,
                                          const std::string& who = "alice",
                                          const std::string& secret = "alice-secret") {
    return call("POST", target, body, sign(who, secret, "POST", target, body));
  }

  static ApiErrc code_of(const HttpResponse& r) {
    auto e = protocol::decode_error_body(r.body);
    EXPECT_TRUE(e.ok()) << r.body;
    return e.ok() ? e->code : ApiErrc::kInternal;
  }

  static std::string vote_body(std::vector<std::string> sigs) {
    protocol::VoteRequest v;
    protocol::MessageSigs m;
    m.id = "m";
    for (auto& s : sigs) m.sigs.push_back(*sigs::parse_signature(s));
    v.messages.push_back(m);
    return protocol::encode(v);
  }

  FakeStore store_;
  NodeMetrics metrics_;
  std::unique_ptr<SignatureService> service_;
  std::unique_ptr<Api> api_;
  std::int64_t now_s_ = 1'700'000'000;
  std::int64_t now_ns_ = 1'000'000'000;
  std::string method_, target_, body_, ip_;
};

TEST_F(ApiTest, UnknownPathIs404) {
  auto r = call("GET", "/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(code_of(*r), ApiErrc::kNotFound);
  EXPECT_EQ(metrics_.requests(Op::kOther, result_index(ApiErrc::kNotFound)), 1u);
}

TEST_F(ApiTest, WrongMethodIs405WithAllow) {
  auto r = call("GET", "/v1/check");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->allow, "POST");
  EXPECT_EQ(code_of(*r), ApiErrc::kMethodNotAllowed);
  auto s = call("POST", "/v1/state");
  EXPECT_EQ(s->status, 405);
  EXPECT_EQ(s->allow, "GET");
}

TEST_F(ApiTest, HealthAndState) {
  auto h = call("GET", "/healthz");
  EXPECT_EQ(h->status, 200);
  auto s = call("GET", "/v1/state?x=1");
  ASSERT_EQ(s->status, 200);
  auto st = protocol::decode_state_response(s->body);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->api_version, 1);
  EXPECT_EQ(st->reporters, 2u);
  EXPECT_EQ(st->engines.size(), sigs::kAllEngines.size());
  EXPECT_TRUE(st->anonymous_check);
}

TEST_F(ApiTest, AnonymousCheck) {
  auto r =
      call("POST", "/v1/check", R"({"v":1,"messages":[{"id":"a","sigs":[")" + kSig1 + R"("]}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto c = protocol::decode_check_response(r->body);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->results.size(), 1u);
  EXPECT_EQ(c->results[0].id, "a");
  EXPECT_EQ(c->results[0].verdict, protocol::Verdict::kNotSpam);
  EXPECT_EQ(metrics_.messages_checked.value(), 1u);
  EXPECT_EQ(metrics_.signatures_checked.value(), 1u);
}

TEST_F(ApiTest, CheckErrors) {
  EXPECT_EQ(code_of(*call("POST", "/v1/check", "garbage")), ApiErrc::kMalformed);
  EXPECT_EQ(call("POST", "/v1/check", "garbage")->status, 400);
  EXPECT_EQ(code_of(*call("POST", "/v1/check", R"({"messages":[{"sigs":["body/1:zz"]}]})")),
            ApiErrc::kInvalid);
  EXPECT_EQ(code_of(*call("POST", "/v1/check", R"({"v":9,"messages":[{"sigs":[]}]})")),
            ApiErrc::kUnsupportedVersion);
  Config o;
  o.limits.max_messages = 1;
  make_api(o);
  auto r = call("POST", "/v1/check", R"({"messages":[{"sigs":[]},{"sigs":[]}]})");
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(code_of(*r), ApiErrc::kLimitExceeded);
}

TEST_F(ApiTest, ReportThenCheckIsSpam) {
  auto body = vote_body({kSig1, kSig2});
  auto r = signed_post("/v1/report", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = protocol::decode_vote_response(r->body);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->results[0].id, "m");
  EXPECT_EQ(v->results[0].recorded, 2u);
  // Idempotent repeat (new nonce).
  auto again = signed_post("/v1/report", body);
  EXPECT_EQ(protocol::decode_vote_response(again->body)->results[0].unchanged, 2u);

  auto c = call("POST", "/v1/check", R"({"messages":[{"sigs":[")" + kSig1 + R"("]}]})");
  auto cr = protocol::decode_check_response(c->body);
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr->results[0].verdict, protocol::Verdict::kSpam);
  ASSERT_EQ(cr->results[0].matches.size(), 1u);
  EXPECT_EQ(cr->results[0].matches[0].id, kSig1);
  EXPECT_EQ(cr->results[0].matches[0].reports, 1u);

  auto rv = signed_post("/v1/revoke", vote_body({kSig1}));
  ASSERT_EQ(rv->status, 200);
  EXPECT_EQ(protocol::decode_vote_response(rv->body)->results[0].withdrawn, 1u);
  EXPECT_EQ(metrics_.signatures_reported.value(), 4u);
  EXPECT_EQ(metrics_.signatures_revoked.value(), 1u);
}

TEST_F(ApiTest, ReportNeedsSignature) {
  auto r = call("POST", "/v1/report", vote_body({kSig1}));
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(code_of(*r), ApiErrc::kAuthRequired);
}

TEST_F(ApiTest, ReportWithWrongSecretOrUnknownReporter) {
  auto body = vote_body({kSig1});
  EXPECT_EQ(code_of(*signed_post("/v1/report", body, "alice", "wrong")), ApiErrc::kBadSignature);
  EXPECT_EQ(code_of(*signed_post("/v1/report", body, "mallory", "x")), ApiErrc::kBadSignature);
  EXPECT_EQ(metrics_.auth_failures.value(), 2u);
}

TEST_F(ApiTest, ReportWithTamperedBodyOrPath) {
  auto body = vote_body({kSig1});
  auto auth = sign("alice", "alice-secret", "POST", "/v1/report", body);
  EXPECT_EQ(code_of(*call("POST", "/v1/report", vote_body({kSig2}), auth)), ApiErrc::kBadSignature);
  auto auth2 = sign("alice", "alice-secret", "POST", "/v1/report", body);
  EXPECT_EQ(code_of(*call("POST", "/v1/revoke", body, auth2)), ApiErrc::kBadSignature);
}

TEST_F(ApiTest, StaleAndReplayedRequests) {
  auto body = vote_body({kSig1});
  auto stale = call("POST", "/v1/report", body,
                    sign("alice", "alice-secret", "POST", "/v1/report", body, now_s_ - 301));
  EXPECT_EQ(stale->status, 401);
  EXPECT_EQ(code_of(*stale), ApiErrc::kStaleRequest);
  auto future = call("POST", "/v1/report", body,
                     sign("alice", "alice-secret", "POST", "/v1/report", body, now_s_ + 301));
  EXPECT_EQ(code_of(*future), ApiErrc::kStaleRequest);

  auto auth = sign("alice", "alice-secret", "POST", "/v1/report", body);
  EXPECT_EQ(call("POST", "/v1/report", body, auth)->status, 200);
  auto replay = call("POST", "/v1/report", body, auth);
  EXPECT_EQ(replay->status, 401);
  EXPECT_EQ(code_of(*replay), ApiErrc::kReplayedNonce);
}

TEST_F(ApiTest, ReportSaysWhenAMessageCanNeverList) {
  // razor-e8 and pyzor digests never decide a verdict: a message with nothing else is
  // recorded, and the answer says it will not list; razor-e4 decides.
  const std::string e8 = "razor-e8:V6Mto59WfMkA";
  const std::string pyzor = "pyzor:0123456789abcdef0123456789abcdef01234567";
  const std::string e4 = "razor-e4:maD-J2LHO2hbHzZrbOXcsZ6ndsoA";
  protocol::VoteRequest v;
  for (auto sigs : std::vector<std::vector<std::string>>{{e8, pyzor}, {e4, pyzor}, {kSig1}}) {
    protocol::MessageSigs m;
    for (auto& s : sigs) m.sigs.push_back(*sigs::parse_signature(s));
    v.messages.push_back(m);
  }
  auto r = signed_post("/v1/report", protocol::encode(v));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto out = protocol::decode_vote_response(r->body);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->results.size(), 3u);
  EXPECT_EQ(out->results[0].recorded, 2u);
  EXPECT_FALSE(out->results[0].listable);
  EXPECT_TRUE(out->results[1].listable);
  EXPECT_TRUE(out->results[2].listable);
}

TEST_F(ApiTest, ReplayRefusedAfterRestart) {
  // The observed replay: the nonce cache lived only in memory, so a new Api (a restarted
  // node) accepted a captured revoke again. The nonce now reaches the store with the votes.
  auto body = vote_body({kSig1});
  auto auth = sign("alice", "alice-secret", "POST", "/v1/revoke", body);
  EXPECT_EQ(call("POST", "/v1/revoke", body, auth)->status, 200);
  Config o;
  o.ip_limit = {0, 0};
  o.reporter_limit = {0, 0};
  make_api(o);  // empty in-memory cache
  auto replay = call("POST", "/v1/revoke", body, auth);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 401);
  EXPECT_EQ(code_of(*replay), ApiErrc::kReplayedNonce);
}

TEST_F(ApiTest, FullReplayCacheOfOneReporterDoesNotRefuseAnother) {
  // The observed exhaustion: one shared cache, filled by a few identities, made every
  // reporter's signed request answer 503.
  Config o;
  o.ip_limit = {0, 0};
  o.reporter_limit = {0, 0};
  o.nonce_cache_per_reporter = 100;
  make_api(o);
  int refused = 0;
  for (int i = 0; i < 150; ++i) {
    auto body = vote_body({kSig1});
    auto r = signed_post("/v1/report", body);
    if (r->status == 503) ++refused;
  }
  EXPECT_EQ(refused, 50);  // alice's partition holds 100 unexpired nonces
  auto root = signed_post("/v1/report", vote_body({kSig2}), "root", "root-secret");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  // Once alice's nonces expire she is served again.
  now_s_ += 601;
  EXPECT_EQ(signed_post("/v1/report", vote_body({kSig1}))->status, 200);
}

TEST_F(ApiTest, MalformedAuthHeaders) {
  auto body = vote_body({kSig1});
  auto auth = sign("alice", "alice-secret", "POST", "/v1/report", body);
  auth.timestamp = "soon";
  EXPECT_EQ(code_of(*call("POST", "/v1/report", body, auth)), ApiErrc::kBadSignature);
  auto partial = sign("alice", "alice-secret", "POST", "/v1/report", body);
  partial.nonce.clear();
  EXPECT_EQ(code_of(*call("POST", "/v1/report", body, partial)), ApiErrc::kAuthRequired);
}

TEST_F(ApiTest, DisabledReporterIsForbidden) {
  ASSERT_TRUE(store_.set_disabled("alice", true).ok());
  auto r = signed_post("/v1/report", vote_body({kSig1}));
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(code_of(*r), ApiErrc::kForbidden);
}

TEST_F(ApiTest, ReportBodyErrors) {
  EXPECT_EQ(code_of(*signed_post("/v1/report", R"({"messages":[{"sigs":[]}]})")),
            ApiErrc::kInvalid);
  EXPECT_EQ(code_of(*signed_post("/v1/report", "{")), ApiErrc::kMalformed);
}

TEST_F(ApiTest, WriterQueueFullIs503) {
  store_.unavailable = true;
  auto r = signed_post("/v1/report", vote_body({kSig1}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(code_of(*r), ApiErrc::kOverloaded);
  EXPECT_GT(r->retry_after, 0);
}

TEST_F(ApiTest, ReportIsAcknowledgedOnlyAfterCommit) {
  store_.defer = true;
  std::optional<HttpResponse> late;
  body_ = vote_body({kSig2});
  target_ = "/v1/report";
  method_ = "POST";
  HttpRequest req{
      method_, target_, body_, sign("alice", "alice-secret", "POST", "/v1/report", body_), ip_, {}};
  api_->handle(req, [&late](HttpResponse x) { late = std::move(x); });
  EXPECT_FALSE(late.has_value());  // no answer before the "commit"
  EXPECT_EQ(store_.stats().writer_queue_depth, 1u);
  store_.release();
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->status, 200);
}

TEST_F(ApiTest, IpRateLimit) {
  Config o;
  o.ip_limit = {1, 2};
  make_api(o);
  EXPECT_EQ(call("GET", "/v1/state")->status, 200);
  EXPECT_EQ(call("GET", "/v1/state")->status, 200);
  auto r = call("GET", "/v1/state");
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(code_of(*r), ApiErrc::kRateLimited);
  EXPECT_GE(r->retry_after, 1);
  // Another client is not affected; health checks are never limited.
  EXPECT_EQ(call("GET", "/v1/state", "", {}, "10.0.0.2")->status, 200);
  EXPECT_EQ(call("GET", "/healthz")->status, 200);
  // Tokens come back with time.
  now_ns_ += 1'000'000'000;
  EXPECT_EQ(call("GET", "/v1/state")->status, 200);
  EXPECT_EQ(metrics_.rate_limited_ip.value(), 1u);
}

TEST_F(ApiTest, ReporterRateLimit) {
  Config o;
  o.ip_limit = {0, 0};
  o.reporter_limit = {1, 1};
  make_api(o);
  EXPECT_EQ(signed_post("/v1/report", vote_body({kSig1}))->status, 200);
  auto r = signed_post("/v1/report", vote_body({kSig1}));
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(code_of(*r), ApiErrc::kRateLimited);
  EXPECT_EQ(signed_post("/v1/report", vote_body({kSig1}), "root", "root-secret")->status, 200);
}

TEST_F(ApiTest, SignedChecksWhenAnonymousIsOff) {
  Config o;
  o.anonymous_check = false;
  make_api(o);
  std::string body = R"({"messages":[{"sigs":[]}]})";
  auto r = call("POST", "/v1/check", body);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(code_of(*r), ApiErrc::kAuthRequired);
  EXPECT_EQ(signed_post("/v1/check", body)->status, 200);
}

TEST_F(ApiTest, OpenRegistration) {
  auto r = call("POST", "/v1/register", R"({"v":1,"name":"carol","trust":1.0,"admin":true})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto reg = protocol::decode_register_response(r->body);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->reporter, "carol");
  EXPECT_EQ(reg->secret.size(), 43u);
  auto carol = store_.find_reporter("carol");
  ASSERT_TRUE(carol.ok());
  EXPECT_FALSE(carol->admin);           // ignored when unsigned
  EXPECT_DOUBLE_EQ(carol->trust, 0.1);  // ignored when unsigned
  EXPECT_EQ(carol->secret, reg->secret);
  // The new identity can report right away.
  EXPECT_EQ(signed_post("/v1/report", vote_body({kSig1}), "carol", reg->secret)->status, 200);
  auto dup = call("POST", "/v1/register", R"({"name":"carol"})");
  EXPECT_EQ(dup->status, 409);
  EXPECT_EQ(code_of(*dup), ApiErrc::kNameTaken);
  EXPECT_EQ(code_of(*call("POST", "/v1/register", R"({"name":"bad name"})")), ApiErrc::kInvalid);
}

TEST_F(ApiTest, ClosedRegistrationAndAdminRegistration) {
  Config o;
  o.open_registration = false;
  make_api(o);
  auto closed = call("POST", "/v1/register", R"({"name":"dave"})");
  EXPECT_EQ(closed->status, 403);
  EXPECT_EQ(code_of(*closed), ApiErrc::kRegistrationClosed);
  // A non-admin may not register others.
  auto nonadmin = signed_post("/v1/register", R"({"name":"dave"})");
  EXPECT_EQ(nonadmin->status, 403);
  EXPECT_EQ(code_of(*nonadmin), ApiErrc::kForbidden);
  // An admin may, with trust.
  auto ok = signed_post("/v1/register", R"({"name":"dave","trust":0.9})", "root", "root-secret");
  ASSERT_EQ(ok->status, 200) << ok->body;
  auto dave = store_.find_reporter("dave");
  ASSERT_TRUE(dave.ok());
  EXPECT_DOUBLE_EQ(dave->trust, 0.9);
  EXPECT_TRUE(dave->pinned);
}

TEST_F(ApiTest, RegisterRateLimit) {
  Config o;
  o.register_limit = {0.01, 1};
  make_api(o);
  EXPECT_EQ(call("POST", "/v1/register", R"({"name":"e1"})")->status, 200);
  auto r = call("POST", "/v1/register", R"({"name":"e2"})");
  EXPECT_EQ(r->status, 429);
}

TEST_F(ApiTest, DrainingClosesAndFailsHealth) {
  api_->set_draining(true);
  auto h = call("GET", "/healthz");
  EXPECT_EQ(h->status, 503);
  EXPECT_TRUE(h->close);
  auto s = call("GET", "/v1/state");
  EXPECT_EQ(s->status, 200);
  EXPECT_TRUE(s->close);
}

TEST_F(ApiTest, MetricsEndpoint) {
  call("GET", "/nope");
  call("POST", "/v1/check", R"({"messages":[{"sigs":[]}]})");
  auto m = call("GET", "/metrics");
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(m->body.find(R"(strop_requests_total{op="check",result="ok"} 1)"), std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find(R"(strop_requests_total{op="other",result="not_found"} 1)"),
            std::string::npos);
  EXPECT_NE(m->body.find(R"(strop_request_duration_seconds_bucket{op="check",le="+Inf"} 1)"),
            std::string::npos);
  EXPECT_NE(m->body.find("strop_writer_queue_depth 0"), std::string::npos);
  EXPECT_NE(m->body.find("strop_reporters 2"), std::string::npos);
}

}  // namespace
}  // namespace strop::node

namespace strop::node {
namespace {

using testing::FakeStore;

// GET /v1/peer/feed (docs/federation.md): only a signed peer pulls, and its response is signed.
class PeerFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config o;
    o.ip_limit = {0, 0};
    o.store.federation_site = "b.test";
    service_ = std::make_unique<SignatureService>(
        o, store_, metrics_, Clocks{[this] { return now_s_; }, [] { return std::int64_t{1}; }});
    api_ = std::make_unique<Api>(*service_);
    ASSERT_TRUE(store_.add_peer({"a.test", "http://127.0.0.1:1", "peering-secret-0123", 1.0}));
    ASSERT_TRUE(store_.add_reporter({"alice", "alice-secret", 0.5}));
    storage::FeedEntry e;
    e.seq = 4;
    e.listed = true;
    e.sig = *sigs::parse_signature("body/1:0123456789abcdef0123456789abcdef");
    e.version = 4;
    e.origin = "b.test";
    store_.feed.push_back(e);
  }
  HttpResponse pull(const std::string& peer, const std::string& secret, std::string target,
                    std::string_view scheme = protocol::kPeerSigningScheme, bool gzip = false) {
    target_ = std::move(target);
    auto auth = protocol::sign_request(peer, secret, "GET", target_, "", now_s_,
                                       protocol::make_nonce(), scheme);
    nonce_ = auth.nonce;
    HttpRequest req{"GET", target_, "", auth, "10.0.0.2", peer};
    req.auth.reporter.clear();  // a peer names itself in X-Strop-Peer only
    req.accept_gzip = gzip;
    std::optional<HttpResponse> out;
    api_->handle(req, [&out](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out);
    return out ? *out : HttpResponse{};
  }

  FakeStore store_;
  NodeMetrics metrics_;
  std::unique_ptr<SignatureService> service_;
  std::unique_ptr<Api> api_;
  std::int64_t now_s_ = 1'700'000'000;
  std::string target_, nonce_;
};

TEST_F(PeerFeedTest, ASignedPeerGetsTheFeedWithASignedResponse) {
  auto r = pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0&limit=10");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, protocol::kFeedContentType);
  EXPECT_TRUE(
      protocol::verify_feed_response("peering-secret-0123", 200, nonce_, r.body, r.signature));
  auto batch = protocol::decode_feed(r.body);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->entries.size(), 1u);
  EXPECT_EQ(batch->entries[0].origin, "b.test");
  EXPECT_EQ(batch->head, 4u);
  // After the cursor: nothing.
  r = pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=4");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(protocol::decode_feed(r.body)->entries.empty());
}

TEST_F(PeerFeedTest, StrangersReportersAndDisabledPeersAreRefused) {
  EXPECT_EQ(pull("a.test", "wrong-secret", "/v1/peer/feed?after=0").status, 401);
  EXPECT_EQ(pull("c.test", "peering-secret-0123", "/v1/peer/feed?after=0").status, 401);
  // A reporter's identity cannot pull, even with its own secret under the peer scheme.
  EXPECT_EQ(pull("alice", "alice-secret", "/v1/peer/feed?after=0").status, 401);
  // The peer's secret under the reporter scheme is not a peer's pull either.
  EXPECT_EQ(pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0", protocol::kSigningScheme)
                .status,
            401);
  EXPECT_EQ(pull("a.test", "peering-secret-0123", "/v1/peer/feed?limit=3").status, 400);
  ASSERT_TRUE(store_.set_disabled("a.test", true));
  EXPECT_EQ(pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0").status, 403);
}

TEST_F(PeerFeedTest, LargeBodiesAreGzippedWhenAcceptedAndSignedAsSent) {
  // One entry is below kFeedGzipMinBody: sent as is even when gzip is accepted.
  auto r = pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0",
                protocol::kPeerSigningScheme, true);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_encoding, "");
  for (std::uint64_t seq = 5; seq < 60; ++seq) {
    storage::FeedEntry e = store_.feed.front();
    e.seq = seq;
    e.version = seq;
    store_.feed.push_back(e);
  }
  r = pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_encoding, "");
  const std::size_t plain = r.body.size();
  ASSERT_GE(plain, protocol::kFeedGzipMinBody);
  r = pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0", protocol::kPeerSigningScheme,
           true);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_encoding, "gzip");
  EXPECT_LT(r.body.size(), plain / 2);
  // The signature is over the compressed bytes; they decode to the same 56 entries.
  EXPECT_TRUE(
      protocol::verify_feed_response("peering-secret-0123", 200, nonce_, r.body, r.signature));
  auto batch = protocol::decode_feed_body(r.body, r.content_encoding);
  ASSERT_TRUE(batch) << batch.error().to_string();
  EXPECT_EQ(batch->entries.size(), 56u);
}

TEST_F(PeerFeedTest, LongPollParksUntilACommitBringsAnEntry) {
  FeedWaiters waiters;
  service_->set_feed_waiters(&waiters);
  auto start_pull = [&](std::optional<HttpResponse>* out, std::string* nonce,
                        const char* target = "/v1/peer/feed?after=4&wait=30") {
    target_ = target;
    auto auth = protocol::sign_request("a.test", "peering-secret-0123", "GET", target_, "", now_s_,
                                       protocol::make_nonce(), protocol::kPeerSigningScheme);
    *nonce = auth.nonce;
    HttpRequest req{"GET", target_, "", auth, "10.0.0.2", "a.test"};
    req.auth.reporter.clear();
    api_->handle(req, [out](HttpResponse r) { *out = std::move(r); });
  };
  std::optional<HttpResponse> first, second;
  std::string nonce1, nonce2;
  start_pull(&first, &nonce1);
  EXPECT_FALSE(first);  // nothing after 4: parked
  EXPECT_EQ(waiters.waiting(), 1u);
  // A second pull by the same peer takes the place of the first (stale: one per peer), which
  // is answered at once, empty.
  start_pull(&second, &nonce2);
  EXPECT_FALSE(second);
  ASSERT_TRUE(first);
  EXPECT_TRUE(protocol::decode_feed(first->body)->entries.empty());
  EXPECT_EQ(waiters.waiting(), 1u);
  // A commit that brings nothing keeps it parked; one that brings seq 5 answers it.
  waiters.service(std::chrono::steady_clock::now(), true);
  EXPECT_FALSE(second);
  storage::FeedEntry e = store_.feed.front();
  e.seq = 5;
  e.version = 5;
  store_.feed.push_back(e);
  waiters.service(std::chrono::steady_clock::now(), true);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200);
  EXPECT_TRUE(protocol::verify_feed_response("peering-secret-0123", 200, nonce2, second->body,
                                             second->signature));
  auto batch = protocol::decode_feed(second->body);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->entries.size(), 1u);
  EXPECT_EQ(batch->entries[0].seq, 5u);
  // Entries already there: no waiting at all.
  EXPECT_EQ(pull("a.test", "peering-secret-0123", "/v1/peer/feed?after=0&wait=30").status, 200);
  EXPECT_EQ(waiters.waiting(), 0u);
  // Parked again, then the waiters stop (the node drains): answered, empty.
  std::optional<HttpResponse> third;
  std::string nonce3;
  start_pull(&third, &nonce3, "/v1/peer/feed?after=5&wait=30");
  EXPECT_FALSE(third);
  waiters.stop();
  ASSERT_TRUE(third);
  EXPECT_TRUE(protocol::decode_feed(third->body)->entries.empty());
}

}  // namespace
}  // namespace strop::node
