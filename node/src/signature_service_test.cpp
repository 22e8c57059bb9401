// The SignatureService without sockets or disk, over the fake store.
#include "node/signature_service.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "fake_store_test_util.hpp"
#include "protocol/signing.hpp"

namespace strop::node {
namespace {

using testing::FakeStore;

const std::string kSig = "body/1:0123456789abcdef0123456789abcdef";

class SignatureServiceTest : public ::testing::Test {
 protected:
  SignatureServiceTest() {
    storage::ReporterSpec alice{"alice", "alice-secret", 0.5, true, false};
    alice_ = *store_.add_reporter(alice);
  }

  SignatureService& make(Config c = {}) {
    service_.reset();
    service_ = std::make_unique<SignatureService>(
        c, store_, metrics_, Clocks{[this] { return now_s_; }, [this] { return now_ns_; }});
    return *service_;
  }

  protocol::AuthHeaders sign(std::string nonce, std::int64_t ts = 0) {
    // Nonces are 16..64 characters: pad the readable names.
    return protocol::sign_request("alice", "alice-secret", "POST", "/v1/report", "{}",
                                  ts ? ts : now_s_, nonce + std::string(16, 'x'));
  }

  static std::vector<sigs::Signature> sigs_of(const std::string& text) {
    return {*sigs::parse_signature(text)};
  }

  FakeStore store_;
  NodeMetrics metrics_;
  std::unique_ptr<SignatureService> service_;
  storage::Reporter alice_;
  std::int64_t now_s_ = 1'700'000'000;
  std::int64_t now_ns_ = 1'000'000'000;
};

TEST(ServiceStoreError, EveryStoreFailureHasOneServiceError) {
  EXPECT_EQ(store_error(make_error(Errc::kUnavailable, "queue full")).code,
            ServiceErrc::kOverloaded);
  EXPECT_EQ(store_error(make_error(Errc::kUnavailable, "queue full")).message, "queue full");
  EXPECT_EQ(store_error(make_error(Errc::kUnavailable, "")).retry_after, 1);
  EXPECT_EQ(store_error(make_error(Errc::kForbidden, "")).code, ServiceErrc::kForbidden);
  EXPECT_EQ(store_error(make_error(Errc::kNotFound, "")).code, ServiceErrc::kUnknownReporter);
  EXPECT_EQ(store_error(make_error(Errc::kInvalidArgument, "")).code, ServiceErrc::kInvalid);
  EXPECT_EQ(store_error(make_error(Errc::kMalformed, "")).code, ServiceErrc::kInvalid);
  EXPECT_EQ(store_error(make_error(Errc::kLimitExceeded, "")).code, ServiceErrc::kLimitExceeded);
  EXPECT_EQ(store_error(make_error(Errc::kExists, "")).code, ServiceErrc::kNameTaken);
  EXPECT_EQ(store_error(make_error(Errc::kReplayed, "")).code, ServiceErrc::kReplayed);
  EXPECT_EQ(store_error(make_error(Errc::kIo, "disk")).code, ServiceErrc::kInternal);
  EXPECT_EQ(store_error(make_error(Errc::kIo, "disk")).message, "storage error");
}

TEST_F(SignatureServiceTest, ReporterTrustDisableAndList) {
  auto& s = make();
  auto t = s.set_reporter_trust("alice", 0.8, false);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_DOUBLE_EQ(t->base_trust, 0.8);
  EXPECT_FALSE(t->pinned);
  EXPECT_DOUBLE_EQ(store_.find_reporter("alice")->base_trust, 0.8);
  EXPECT_EQ(s.set_reporter_trust("alice", -0.1).error().code, ServiceErrc::kInvalid);
  EXPECT_EQ(s.set_reporter_trust("alice", std::nan("")).error().code, ServiceErrc::kInvalid);
  EXPECT_EQ(s.set_reporter_trust("nobody", 0.5).error().code, ServiceErrc::kUnknownReporter);
  EXPECT_EQ(s.set_reporter_disabled("nobody", true).error().code, ServiceErrc::kUnknownReporter);
  EXPECT_EQ(s.set_reporter_disabled(std::string(65, 'a'), true).error().code,
            ServiceErrc::kUnknownReporter);

  auto d = s.set_reporter_disabled("alice", true);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->disabled);
  auto refused = s.authenticate(sign("disabled"), "POST", "/v1/report", "{}");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ServiceErrc::kForbidden);
  EXPECT_FALSE(s.set_reporter_disabled("alice", false)->disabled);
  EXPECT_TRUE(s.authenticate(sign("enabled"), "POST", "/v1/report", "{}"));

  ASSERT_TRUE(store_.add_reporter({"carol", "c", 0.5, true, false}));
  ASSERT_TRUE(store_.add_reporter({"bob", "b", 0.5, true, false}));
  auto page = s.list_reporters("", 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ(page->at(0).name, "alice");
  EXPECT_EQ(page->at(1).name, "bob");
  auto next = s.list_reporters("bob", 2);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(next->at(0).name, "carol");
}

TEST_F(SignatureServiceTest, ClientBudgetIsCountedAndRefills) {
  Config c;
  c.ip_limit = {1, 2};
  auto& s = make(c);
  EXPECT_TRUE(s.admit_client("10.0.0.1").has_value());
  EXPECT_TRUE(s.admit_client("10.0.0.1").has_value());
  auto refused = s.admit_client("10.0.0.1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ServiceErrc::kRateLimited);
  EXPECT_EQ(refused.error().retry_after, 1);
  EXPECT_EQ(metrics_.rate_limited_ip.value(), 1u);
  EXPECT_TRUE(s.admit_client("10.0.0.2").has_value());  // per address
  now_ns_ += 1'000'000'000;
  EXPECT_TRUE(s.admit_client("10.0.0.1").has_value());
}

TEST_F(SignatureServiceTest, ReporterAndRegistrationBudgets) {
  Config c;
  c.reporter_limit = {1, 1};
  c.register_limit = {1, 1};
  auto& s = make(c);
  EXPECT_TRUE(s.admit_reporter("alice").has_value());
  EXPECT_EQ(s.admit_reporter("alice").error().code, ServiceErrc::kRateLimited);
  EXPECT_EQ(metrics_.rate_limited_reporter.value(), 1u);
  EXPECT_TRUE(s.admit_registration("10.0.0.1").has_value());
  EXPECT_EQ(s.admit_registration("10.0.0.1").error().message, "registration rate exceeded");
}

TEST_F(SignatureServiceTest, FindReporter) {
  auto& s = make();
  auto r = s.find_reporter("alice");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, alice_.id);
  EXPECT_EQ(s.find_reporter("bob").error().code, ServiceErrc::kUnknownReporter);
  EXPECT_EQ(s.find_reporter("no spaces allowed").error().code, ServiceErrc::kUnknownReporter);
}

TEST_F(SignatureServiceTest, AuthenticateSignedRequests) {
  auto& s = make();
  auto ok = s.authenticate(sign("nonce-1"), "POST", "/v1/report", "{}");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->reporter.name, "alice");
  EXPECT_EQ(ok->replay.nonce, "nonce-1" + std::string(16, 'x'));

  EXPECT_EQ(s.authenticate({}, "POST", "/v1/report", "{}").error().code,
            ServiceErrc::kAuthRequired);
  EXPECT_EQ(s.authenticate(sign("nonce-1"), "POST", "/v1/report", "{}").error().code,
            ServiceErrc::kReplayed);
  EXPECT_EQ(s.authenticate(sign("nonce-2"), "POST", "/v1/report", "{x}").error().code,
            ServiceErrc::kBadSignature);
  EXPECT_EQ(s.authenticate(sign("nonce-3", now_s_ - 1000), "POST", "/v1/report", "{}").error().code,
            ServiceErrc::kStale);
  auto stranger = protocol::sign_request("bob", "x", "POST", "/v1/report", "{}", now_s_,
                                         "nonce-4" + std::string(16, 'x'));
  EXPECT_EQ(s.authenticate(stranger, "POST", "/v1/report", "{}").error().code,
            ServiceErrc::kBadSignature);
  ASSERT_TRUE(store_.set_disabled("alice", true).ok());
  EXPECT_EQ(s.authenticate(sign("nonce-5"), "POST", "/v1/report", "{}").error().code,
            ServiceErrc::kForbidden);
  EXPECT_EQ(metrics_.auth_failures.value(), 6u);
}

TEST_F(SignatureServiceTest, OneReplayCacheForEveryProtocol) {
  Config c;
  c.nonce_cache_per_reporter = 2;
  auto& s = make(c);
  // A native signed request and a Pyzor one fill the same partition of the reporter.
  ASSERT_TRUE(s.authenticate(sign("n1"), "POST", "/v1/report", "{}").has_value());
  ASSERT_TRUE(s.remember_nonce("alice", "pyzor:abc", now_s_, now_s_ + 300).has_value());
  EXPECT_EQ(s.remember_nonce("alice", "pyzor:abc", now_s_, now_s_ + 300).error().code,
            ServiceErrc::kReplayed);
  auto full = s.remember_nonce("alice", "pyzor:def", now_s_, now_s_ + 300);
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ServiceErrc::kOverloaded);
  EXPECT_TRUE(s.remember_nonce("root", "pyzor:def", now_s_, now_s_ + 300)
                  .has_value());  // others unaffected
}

TEST_F(SignatureServiceTest, VotesAreDurableCountedAndMapped) {
  auto& s = make();
  std::optional<ServiceResult<storage::VoteOutcome>> got;
  s.vote({alice_.id, false, sigs_of(kSig), {}, std::nullopt},
         [&](ServiceResult<storage::VoteOutcome> r) { got = r; });
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->effects.size(), 1u);
  EXPECT_EQ(metrics_.signatures_reported.value(), 1u);

  got.reset();
  store_.defer = true;
  s.vote({alice_.id, true, sigs_of(kSig), {}, std::nullopt},
         [&](ServiceResult<storage::VoteOutcome> r) { got = r; });
  EXPECT_FALSE(got);  // acknowledged only after the commit
  store_.release();
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(metrics_.signatures_revoked.value(), 1u);
  store_.defer = false;

  got.reset();
  store_.unavailable = true;
  s.vote({alice_.id, false, sigs_of(kSig), {}, std::nullopt},
         [&](ServiceResult<storage::VoteOutcome> r) { got = r; });
  ASSERT_TRUE(got && !got->has_value());
  EXPECT_EQ(got->error().code, ServiceErrc::kOverloaded);
  EXPECT_EQ(metrics_.signatures_reported.value(), 1u);
  store_.unavailable = false;

  // A replay key is consumed once.
  storage::ReplayKey key{"n", storage::TimePoint{std::chrono::seconds{now_s_ + 300}}};
  got.reset();
  s.vote({alice_.id, false, sigs_of(kSig), {}, key},
         [&](ServiceResult<storage::VoteOutcome> r) { got = r; });
  ASSERT_TRUE(got && got->has_value());
  s.vote({alice_.id, false, sigs_of(kSig), {}, key},
         [&](ServiceResult<storage::VoteOutcome> r) { got = r; });
  EXPECT_EQ(got->error().code, ServiceErrc::kReplayed);
}

TEST_F(SignatureServiceTest, CheckAndState) {
  auto& s = make();
  std::optional<ServiceResult<storage::VoteOutcome>> got;
  s.vote({alice_.id, false, sigs_of(kSig), {}, std::nullopt},
         [&](ServiceResult<storage::VoteOutcome> r) { got = r; });
  auto sigs = sigs_of(kSig);
  auto out = s.check(sigs);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->spam);
  s.count_checked(1, sigs.size(), 0);
  EXPECT_EQ(metrics_.messages_checked.value(), 1u);
  EXPECT_EQ(metrics_.signatures_checked.value(), 1u);
  auto st = s.state();
  EXPECT_EQ(st.threshold, Config{}.store.threshold);
  EXPECT_EQ(st.signatures, 1u);
  EXPECT_EQ(st.reporters, 1u);
  EXPECT_NE(s.render_metrics().find("strop_requests_total"), std::string::npos);
}

// The allowlist policy lives in the service: an allowed match never lists, whatever the
// store's confidence; show, delete and unallow go through the same service.
TEST_F(SignatureServiceTest, AllowedSignaturesNeverListAndDeleteRemoves) {
  auto& s = make();
  auto sigs = sigs_of(kSig);
  auto other = sigs_of("body/1:ffffffffffffffffffffffffffffffff");
  s.vote({alice_.id, false, {sigs[0], other[0]}, {}, std::nullopt},
         [](ServiceResult<storage::VoteOutcome>) {});
  auto allowed = s.set_allowed(sigs, true);
  ASSERT_TRUE(allowed.has_value());
  EXPECT_EQ(*allowed, std::vector<bool>{true});

  auto out = s.check(sigs);
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->spam);
  EXPECT_EQ(out->confidence, 0);
  ASSERT_EQ(out->matches.size(), 1u);
  EXPECT_TRUE(out->matches[0].allowed);
  EXPECT_EQ(out->matches[0].confidence, 0);
  EXPECT_FALSE(s.lists(out->matches[0]));
  // A message with an allowed and a listed signature is still spam.
  std::vector<sigs::Signature> both{sigs[0], other[0]};
  out = s.check(both);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->spam);
  EXPECT_EQ(out->confidence, 60);

  auto views = s.describe(both);
  ASSERT_TRUE(views.has_value());
  ASSERT_EQ(views->size(), 2u);
  EXPECT_TRUE((*views)[0].info.stored);
  EXPECT_TRUE((*views)[0].info.allowed);
  EXPECT_TRUE((*views)[0].decides);
  EXPECT_FALSE((*views)[0].listed);
  EXPECT_TRUE((*views)[1].listed);

  ASSERT_TRUE(s.set_allowed(sigs, false).has_value());
  out = s.check(sigs);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->spam);

  auto deleted = s.delete_signatures(sigs);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(*deleted, std::vector<bool>{true});
  out = s.check(sigs);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->matches.empty());
  views = s.describe(sigs);
  ASSERT_TRUE(views.has_value());
  EXPECT_FALSE((*views)[0].info.stored);
  EXPECT_FALSE((*views)[0].listed);
}

TEST_F(SignatureServiceTest, AddReporterRunsOnTheOffloadExecutor) {
  std::vector<std::function<void()>> jobs;
  service_ = std::make_unique<SignatureService>(
      Config{}, store_, metrics_, Clocks{},
      [&jobs](std::function<void()> j) { jobs.push_back(std::move(j)); });
  std::optional<ServiceResult<storage::Reporter>> got;
  storage::ReporterSpec spec;
  spec.name = "alice";
  spec.secret = "s";
  service_->add_reporter(spec, [&](ServiceResult<storage::Reporter> r) { got = r; });
  EXPECT_FALSE(got);
  ASSERT_EQ(jobs.size(), 1u);
  jobs[0]();
  ASSERT_TRUE(got && !got->has_value());
  EXPECT_EQ(got->error().code, ServiceErrc::kNameTaken);
  spec.name = "bob";
  auto bob = service_->add_reporter_now(spec);
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->name, "bob");
}

}  // namespace
}  // namespace strop::node
