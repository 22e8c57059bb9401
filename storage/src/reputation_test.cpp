#include "storage/reputation.hpp"

#include <gtest/gtest.h>

#include <future>
#include <random>
#include <thread>
#include <vector>

#include "codec.hpp"
#include "storage/store.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using namespace reputation;

// ---- pure functions

TEST(Reputation, ConfidenceFormula) {
  EXPECT_EQ(confidence(std::vector<Vote>{}), 0);
  EXPECT_EQ(confidence(std::vector<Vote>{{kFullTrust, false}}), 80);  // 1000/(1000+250)
  EXPECT_EQ(confidence(std::vector<Vote>{{kTrustedMin, false}}), 66);
  EXPECT_EQ(confidence(std::vector<Vote>{{kFullTrust, false}, {kFullTrust, true}}), 0);
  EXPECT_EQ(confidence(std::vector<Vote>{{kFullTrust, false}, {kFullTrust, false}}), 88);
  // A fully trusted reporter alone lists a signature.
  EXPECT_GE(confidence(std::vector<Vote>{{kFullTrust, false}}), kRecommendedThreshold);
}

TEST(Reputation, LowTrustVotesAreCappedBelowTheThreshold) {
  std::vector<Vote> flood(100000, Vote{kNewReporterTrust, false});
  EXPECT_EQ(evidence(flood), static_cast<std::int64_t>(kLowTrustCap));
  EXPECT_LT(confidence(flood), kRecommendedThreshold);
  std::vector<Vote> almost(50, Vote{kTrustedMin - 1, false});
  EXPECT_LT(confidence(almost), kRecommendedThreshold);
  // ... but low-trust votes still add to trusted ones.
  std::vector<Vote> mixed{{kTrustedMin, false}, {100, false}, {100, false}};
  EXPECT_GT(confidence(mixed), confidence(std::vector<Vote>{{kTrustedMin, false}}));
  // And a low-trust revoke flood cannot unlist a well-supported signature.
  std::vector<Vote> attack{{900, false}, {900, false}};
  attack.insert(attack.end(), 1000, Vote{100, true});
  EXPECT_GE(confidence(attack), kRecommendedThreshold);
}

TEST(Reputation, TrustModel) {
  EXPECT_EQ(trust(TrustState{kNewReporterTrust, false, 0, 0}), kNewReporterTrust);
  EXPECT_EQ(trust(TrustState{kFullTrust, true, 0, 1000000}), kFullTrust);  // pinned
  // Four corroborations by a 0.8 judge make a new reporter trusted.
  EXPECT_LT(trust(TrustState{kNewReporterTrust, false, 3 * 800, 0}), kTrustedMin);
  EXPECT_GE(trust(TrustState{kNewReporterTrust, false, 4 * 800, 0}), kTrustedMin);
  // Earned trust is capped.
  EXPECT_EQ(trust(TrustState{kNewReporterTrust, false, 1000000000, 0}), kMaxEarnedTrust);
  // A contradiction weighs kPenaltyFactor corroborations.
  EXPECT_LT(trust(TrustState{500, false, 10 * 900, 2 * 900}), 500);
  EXPECT_EQ(trust_from_double(0.5), 500);
  EXPECT_EQ(trust_from_double(-1), 0);
  EXPECT_EQ(trust_from_double(7), kFullTrust);
  EXPECT_TRUE(corroborates(kTrustedMin));
  EXPECT_FALSE(corroborates(kTrustedMin - 1));
  EXPECT_TRUE(contradicts(900, 500));
  EXPECT_FALSE(contradicts(500, 500));  // peers do not punish each other
  EXPECT_FALSE(contradicts(400, 100));  // untrusted reporters punish nobody
}

TEST(Reputation, OpenRegistrationsAreCappedBelowTrusted) {
  static_assert(kOpenTrustCap < kTrustedMin);
  EXPECT_EQ(trust(TrustState{kFullTrust, true, 0, 0, true}), kOpenTrustCap);  // even pinned
  EXPECT_EQ(trust(TrustState{kNewReporterTrust, false, 1000000, 0, true}), kOpenTrustCap);
  EXPECT_EQ(trust(TrustState{kNewReporterTrust, false, 1000000, 0, false}), kMaxEarnedTrust);
  EXPECT_EQ(trust(TrustState{kNewReporterTrust, false, 1000, 0, true}),
            trust(TrustState{kNewReporterTrust, false, 1000, 0, false}));  // below the cap
  EXPECT_FALSE(corroborates(kOpenTrustCap));
  EXPECT_FALSE(contradicts(kOpenTrustCap, 0));
  EXPECT_EQ(kMaxLowTrustConfidence, 44);
}

TEST(Reputation, CreditPacingOnePerJudgePerDay) {
  CreditLog log{};
  EXPECT_TRUE(may_credit(log, 7, 100));
  record_credit(log, 7, 100);
  EXPECT_FALSE(may_credit(log, 7, 100));  // same judge, same day
  EXPECT_FALSE(may_credit(log, 7, 99));   // a clock going back gives nothing new
  EXPECT_TRUE(may_credit(log, 7, 101));   // next day
  for (std::uint32_t j = 8; j < 8 + kCreditSlots - 1; ++j) {
    ASSERT_TRUE(may_credit(log, j, 100));
    record_credit(log, j, 100);
  }
  EXPECT_FALSE(may_credit(log, 99, 100));  // kCreditSlots distinct judges a day at most
  EXPECT_TRUE(may_credit(log, 99, 101));
  record_credit(log, 99, 101);  // replaces a past day's slot
  EXPECT_FALSE(may_credit(log, 99, 101));
  EXPECT_TRUE(may_credit(log, 7, 101));
  EXPECT_EQ(day_of(86400 * 3 + 86399), 3u);
}

TEST(Reputation, ReporterRecordKeepsOpenFlagAndCreditLog) {
  codec::ReporterRecord r;
  r.flags = codec::kReporterOpen;
  r.name = "n";
  r.secret = "s";
  auto plain = codec::encode_reporter(r);
  EXPECT_EQ(plain.size(), codec::kReporterHeader + 4);  // no log: the older layout
  r.credits[1] = {42, 19000};
  auto d = codec::decode_reporter(codec::encode_reporter(r));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->flags, codec::kReporterOpen);
  EXPECT_EQ(d->credits[1].judge, 42u);
  EXPECT_EQ(d->credits[1].day, 19000u);
  EXPECT_EQ(d->credits[0].judge, 0u);
  auto e = codec::encode_reporter(r);
  EXPECT_FALSE(codec::decode_reporter(e.substr(0, e.size() - 1)));
  EXPECT_FALSE(codec::decode_reporter(e + "x"));
}

TEST(Reputation, OpenFlagPersistsAndSetTrustVouches) {
  testing::TempDir dir;
  StoreOptions o;
  o.dir = dir.sub("db");
  {
    auto s = Store::open(o);
    ASSERT_TRUE(s) << s.error().to_string();
    ReporterSpec open{"self", "secret", std::nullopt, false, false, true};
    auto a = (*s)->add_reporter(open);
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->vouched);
    ReporterSpec pinned_open{"self-pinned", "secret", 1.0, true, false, true};
    auto b = (*s)->add_reporter(pinned_open);
    ASSERT_TRUE(b);
    EXPECT_DOUBLE_EQ(b->trust, trust_to_double(kOpenTrustCap));  // capped even when pinned
    ReporterSpec admin_made;
    admin_made.name = "admin-made";
    admin_made.secret = "secret";
    auto c = (*s)->add_reporter(admin_made);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->vouched);
  }
  auto s = Store::open(o);
  ASSERT_TRUE(s);
  EXPECT_FALSE((*s)->find_reporter("self")->vouched);
  EXPECT_TRUE((*s)->find_reporter("admin-made")->vouched);
  auto v = (*s)->set_trust("self-pinned", 1.0);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->vouched);
  EXPECT_DOUBLE_EQ(v->trust, 1.0);
}

// ---- simulation through the Store (the store applies the event rules)

class Simulation : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.dir = dir_.sub("db");
    o.clock = [this] { return now_; };
    o.expire_after = std::chrono::seconds(0);
    auto s = Store::open(o);
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(*s);
  }
  ReporterId add(const std::string& name, std::optional<double> trust, bool pinned) {
    ReporterSpec spec{name, "secret", trust, pinned, false};
    auto r = store_->add_reporter(spec);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? r->id : 0;
  }
  // Queues a vote. The writer applies votes in submission order whatever the batching, so
  // the outcome is deterministic; settle() waits for all of them (group commit keeps the
  // test fast on slow disks).
  void vote(ReporterId r, const sigs::Signature& s, bool revoke) {
    now_ += std::chrono::seconds(1);
    pending_.push_back(revoke ? store_->revoke(r, {s}) : store_->report(r, {s}));
  }
  void settle() {
    for (auto& f : pending_) {
      auto res = f.get();
      EXPECT_TRUE(res) << res.error().to_string();
    }
    pending_.clear();
  }
  // Adds n reporters concurrently (their ids' order does not matter).
  std::vector<ReporterId> add_many(const std::string& prefix, int n) {
    std::vector<ReporterId> ids(static_cast<std::size_t>(n));
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < n; i += 8) {
          ids[static_cast<std::size_t>(i)] = add(prefix + std::to_string(i), std::nullopt, false);
        }
      });
    }
    for (auto& th : threads) th.join();
    return ids;
  }
  double trust_of(ReporterId id) {
    settle();
    return store_->find_reporter(id)->trust;
  }
  int confidence_of(const sigs::Signature& s) {
    settle();
    auto c = store_->check(std::vector<sigs::Signature>{s});
    EXPECT_TRUE(c);
    return c && !c->matches.empty() ? c->matches[0].confidence : 0;
  }

  testing::TempDir dir_;
  TimePoint now_{std::chrono::seconds(1'700'000'000)};
  std::unique_ptr<Store> store_;
  std::vector<std::future<Result<VoteOutcome>>> pending_;
};

TEST_F(Simulation, HonestRiseCarelessAndMaliciousFallSybilsCannotList) {
  std::mt19937 rng(20240601);  // deterministic: only raw mt19937 output is used
  auto chance = [&](unsigned percent) { return rng() % 100 < percent; };

  std::vector<ReporterId> moderators, honest, careless, malicious;
  for (int i = 0; i < 2; ++i) moderators.push_back(add("mod" + std::to_string(i), 0.9, true));
  // Community members the admin registered with a middling, earnable starting trust.
  for (int i = 0; i < 10; ++i) honest.push_back(add("honest" + std::to_string(i), 0.5, false));
  for (int i = 0; i < 5; ++i) careless.push_back(add("careless" + std::to_string(i), 0.5, false));
  for (int i = 0; i < 5; ++i) malicious.push_back(add("malicious" + std::to_string(i), 0.5, false));

  std::vector<sigs::Signature> spam_sigs, ham_sigs;
  for (std::uint64_t round = 0; round < 40; ++round) {
    auto spam = testing::body(1000 + round);
    auto ham = testing::body(5000 + round);
    spam_sigs.push_back(spam);
    ham_sigs.push_back(ham);
    // Early reporters: some honest ones, the careless (who report ham 25% of the time) and
    // the malicious (who report ham and revoke spam).
    for (auto r : honest) {
      if (chance(40)) vote(r, spam, false);
    }
    for (auto r : careless) vote(r, chance(25) ? ham : spam, false);
    for (auto r : malicious) {
      vote(r, ham, false);
      vote(r, spam, true);
    }
    // A moderator confirms the spam and revokes the ham; later honest reporters follow.
    vote(moderators[round % 2], spam, false);
    vote(moderators[(round + 1) % 2], ham, true);
    for (auto r : honest) {
      if (chance(30)) vote(r, spam, false);
      if (chance(20)) vote(r, ham, true);
    }
  }

  for (auto r : honest) EXPECT_GT(trust_of(r), 0.5) << "honest " << r;
  for (auto r : careless) {
    EXPECT_LT(trust_of(r), 0.5) << "careless " << r;
    EXPECT_LT(trust_of(r), trust_to_double(kTrustedMin));
  }
  for (auto r : malicious) EXPECT_LT(trust_of(r), 0.1) << "malicious " << r;
  double min_honest = 1, max_careless = 0;
  for (auto r : honest) min_honest = std::min(min_honest, trust_of(r));
  for (auto r : careless) max_careless = std::max(max_careless, trust_of(r));
  EXPECT_GT(min_honest, max_careless);

  for (const auto& s : spam_sigs) EXPECT_GE(confidence_of(s), kRecommendedThreshold) << s.text();
  for (const auto& s : ham_sigs) EXPECT_LT(confidence_of(s), kRecommendedThreshold) << s.text();

  // A sybil flood: 1,000 fresh identities report one ham signature.
  auto target = testing::body(999999);
  for (ReporterId id : add_many("sybil", 1000)) vote(id, target, false);
  settle();
  auto c = store_->check(std::vector<sigs::Signature>{target});
  ASSERT_TRUE(c);
  ASSERT_EQ(c->matches.size(), 1u);
  EXPECT_EQ(c->matches[0].reports, 1000u);
  EXPECT_LT(c->matches[0].confidence, kRecommendedThreshold);
  EXPECT_FALSE(c->spam);
  // ... and the flood earned the sybils nothing.
  EXPECT_DOUBLE_EQ(trust_of(store_->find_reporter("sybil0")->id),
                   trust_to_double(kNewReporterTrust));

  // Revokes by trusted reporters drop a listed signature below the threshold.
  auto listed = testing::body(777777);
  vote(honest[0], listed, false);
  vote(careless[0], listed, false);
  vote(careless[1], listed, false);
  ASSERT_GE(confidence_of(listed), kRecommendedThreshold);
  vote(honest[1], listed, true);
  vote(honest[2], listed, true);
  EXPECT_LT(confidence_of(listed), kRecommendedThreshold);

  // One report by a reporter the admin marked fully trusted lists a signature.
  settle();
  ReporterId boss = add("boss", 1.0, true);
  auto fresh = testing::body(888888);
  vote(boss, fresh, false);
  EXPECT_GE(confidence_of(fresh), kRecommendedThreshold);
  EXPECT_TRUE(store_->check(std::vector<sigs::Signature>{fresh})->spam);
}

TEST_F(Simulation, CreditAndPenaltyArePerMessageNotPerSignature) {
  ReporterId judge = add("judge", 1.0, true);
  ReporterId r = add("r", std::nullopt, false);
  auto msg = [](std::uint64_t n) {
    return std::vector<sigs::Signature>{testing::body(n), testing::body(n + 1),
                                        testing::body(n + 2)};
  };
  auto send = [&](ReporterId who, std::vector<std::vector<sigs::Signature>> msgs, bool revoke) {
    now_ += std::chrono::seconds(1);
    VoteRequest req;
    req.reporter = who;
    req.revoke = revoke;
    req.now = now_;
    for (auto& m : msgs) {
      req.sigs.insert(req.sigs.end(), m.begin(), m.end());
      req.message_sizes.push_back(static_cast<std::uint32_t>(m.size()));
    }
    auto p = std::make_shared<std::promise<Result<VoteOutcome>>>();
    pending_.push_back(p->get_future());
    store_->vote(std::move(req), [p](Result<VoteOutcome> res) { p->set_value(std::move(res)); });
  };
  // Three signatures of one message, confirmed in one request: one credit.
  send(r, {msg(10)}, false);
  send(judge, {msg(10)}, false);
  settle();
  auto a = store_->find_reporter(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->corroborated, 1u);
  EXPECT_DOUBLE_EQ(a->trust, 0.28);  // (4000*100 + 1000*1000) / (4000 + 1000)
  // Without message boundaries the request is one message.
  now_ += std::chrono::hours(24);
  auto m20 = msg(20);
  vote(r, m20[0], false);
  vote(r, m20[1], false);
  settle();
  pending_.push_back(store_->report(judge, m20));
  settle();
  EXPECT_EQ(store_->find_reporter(r)->corroborated, 2u);
  // Two messages in one judge's request: one credit per message, but one judge credits one
  // reporter once a day, so the second message waits for another judge (or day).
  now_ += std::chrono::hours(24);
  send(r, {msg(30), msg(40)}, false);
  send(judge, {msg(30), msg(40)}, false);
  settle();
  EXPECT_EQ(store_->find_reporter(r)->corroborated, 3u);
  ReporterId judge2 = add("judge2", 0.9, true);
  send(judge2, {msg(40)}, false);
  settle();
  EXPECT_EQ(store_->find_reporter(r)->corroborated, 4u);
  // A contradiction costs once per message: r reports a ham message, the judge revokes it.
  send(r, {msg(50)}, false);
  send(judge, {msg(50)}, true);
  settle();
  EXPECT_EQ(store_->find_reporter(r)->contradicted, 1u);
  // ... and so does contradicting trusted reporters (the late voter's penalty).
  send(judge, {msg(60)}, false);
  send(r, {msg(60)}, true);
  settle();
  EXPECT_EQ(store_->find_reporter(r)->contradicted, 2u);
}

TEST_F(Simulation, NewHonestReporterEarnsTrustOnlyThroughIndependentTrustedReporters) {
  ReporterId mod = add("mod", 0.8, true);
  ReporterId fresh = add("fresh", std::nullopt, false);
  ReporterId copycat = add("copycat", std::nullopt, false);
  for (std::uint64_t i = 0; i < 6; ++i) {
    auto s = testing::body(100 + i);
    vote(fresh, s, false);           // reports first
    vote(mod, s, false);             // a trusted reporter corroborates later
    vote(copycat, s, false);         // copies what is already listed: earns nothing
    now_ += std::chrono::hours(24);  // one judge credits one reporter once a day
  }
  EXPECT_GE(trust_of(fresh), trust_to_double(kTrustedMin));
  EXPECT_DOUBLE_EQ(trust_of(copycat), trust_to_double(kNewReporterTrust));
  // Re-reporting or withdrawing and re-reporting does not farm credit.
  double before = trust_of(fresh);
  auto s = testing::body(100);
  vote(fresh, s, true);
  vote(fresh, s, false);
  settle();
  ReporterId mod2 = add("mod2", 0.8, true);
  vote(mod2, s, false);  // corroborates again, but (fresh, s) was already rewarded
  EXPECT_DOUBLE_EQ(trust_of(fresh), before);
}

}  // namespace
}  // namespace strop::storage
