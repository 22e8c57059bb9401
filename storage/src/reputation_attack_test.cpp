// reputation_attack_test.cpp: trust-farming strategies played against the reputation model
// through a real Store (security finding 2; docs/reputation.md "Open registrations").
//
// Open (self-registered) identities try to list ham on their own: early reporting of real
// campaigns that trusted reporters confirm, mutual corroboration, mass revokes, a slow burn
// over 200 simulated days, re-registration churn. After every step the tests assert that no
// ham signature reaches the threshold and that no open identity becomes trusted. The clock is
// injected and every random choice comes from a fixed-seed mt19937, so runs are identical.
// The honest path (how many confirmed messages a new vouched reporter needs) is measured here
// too; docs/reputation.md quotes these figures.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "storage/reputation.hpp"
#include "storage/store.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using namespace reputation;
using Message = std::vector<sigs::Signature>;

constexpr std::uint32_t kSigsPerMessage = 3;
constexpr auto kDay = std::chrono::hours(24);

// Three body signatures per message; distinct n give disjoint messages.
Message message(std::uint64_t n) {
  Message m;
  for (std::uint32_t i = 0; i < kSigsPerMessage; ++i) m.push_back(testing::body(n * 8 + i));
  return m;
}

// ---- the pure bound

TEST(AttackBound, OpenVotesNeverReachTheThreshold) {
  // Whatever an open reporter's history (base, pin, credits, penalties), its trust is capped.
  std::mt19937_64 rng(4242);
  for (int i = 0; i < 20000; ++i) {
    TrustState s;
    s.base = static_cast<Trust>(rng() % (kFullTrust + 1));
    s.pinned = (rng() & 1) != 0;
    s.open = true;
    s.good = rng() % 4 == 0 ? rng() : rng() % 1'000'000;
    s.bad = rng() % 3 == 0 ? 0 : rng() % 100'000;
    ASSERT_LE(trust(s), kOpenTrustCap);
    ASSERT_LT(trust(s), kTrustedMin);
    ASSERT_FALSE(corroborates(trust(s)));
  }
  // Any multiset of votes at or below the open cap (reports and revokes, any number) stays at
  // or below kMaxLowTrustConfidence = 44 < 50.
  EXPECT_EQ(kMaxLowTrustConfidence, 44);
  for (int i = 0; i < 2000; ++i) {
    std::vector<Vote> votes(rng() % 400);
    for (auto& v : votes) {
      v.trust = static_cast<Trust>(rng() % (kOpenTrustCap + 1));
      v.revoke = rng() % 4 == 0;
    }
    ASSERT_LE(evidence(votes), static_cast<std::int64_t>(kLowTrustCap));
    ASSERT_LE(confidence(votes), kMaxLowTrustConfidence);
  }
  std::vector<Vote> worst(100000, Vote{kOpenTrustCap, false});
  EXPECT_EQ(confidence(worst), kMaxLowTrustConfidence);
  EXPECT_LT(kMaxLowTrustConfidence, kRecommendedThreshold);
}

// ---- strategies through the Store

class Attack : public ::testing::Test {
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

  ReporterId add_open(const std::string& name) {
    ReporterSpec spec;
    spec.name = name;
    spec.secret = "secret";
    spec.open_registration = true;
    auto r = store_->add_reporter(spec);
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return 0;
    open_.push_back(r->id);
    return r->id;
  }
  std::vector<ReporterId> add_open_many(const std::string& prefix, int n) {
    std::vector<ReporterId> ids;
    for (int i = 0; i < n; ++i) ids.push_back(add_open(prefix + std::to_string(i)));
    return ids;
  }
  ReporterId add_admin(const std::string& name, std::optional<double> trust, bool pinned) {
    ReporterSpec spec{name, "secret", trust, pinned, false};
    auto r = store_->add_reporter(spec);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? r->id : 0;
  }

  // One request of reporter r with the given messages (message boundaries passed on).
  void vote(ReporterId r, const std::vector<Message>& msgs, bool revoke = false) {
    now_ += std::chrono::seconds(1);
    VoteRequest req;
    req.reporter = r;
    req.revoke = revoke;
    req.now = now_;
    for (const auto& m : msgs) {
      req.sigs.insert(req.sigs.end(), m.begin(), m.end());
      req.message_sizes.push_back(static_cast<std::uint32_t>(m.size()));
    }
    auto p = std::make_shared<std::promise<Result<VoteOutcome>>>();
    pending_.push_back(p->get_future());
    store_->vote(std::move(req), [p](Result<VoteOutcome> res) { p->set_value(std::move(res)); });
  }
  void report(ReporterId r, const Message& m) { vote(r, {m}); }
  void revoke(ReporterId r, const Message& m) { vote(r, {m}, true); }
  void settle() {
    for (auto& f : pending_) {
      auto res = f.get();
      EXPECT_TRUE(res) << res.error().to_string();
    }
    pending_.clear();
  }
  void next_day() { now_ += kDay; }

  Message ham() {
    Message m = message(next_ham_++ + 1'000'000);
    hams_.push_back(m);
    return m;
  }
  Message spam() { return message(next_spam_++); }

  double trust_of(ReporterId id) {
    settle();
    auto r = store_->find_reporter(id);
    EXPECT_TRUE(r);
    return r ? r->trust : 1.0;
  }
  int confidence_of(const sigs::Signature& s) {
    settle();
    auto c = store_->check(std::vector<sigs::Signature>{s});
    EXPECT_TRUE(c);
    return c && !c->matches.empty() ? c->matches[0].confidence : 0;
  }

  // The invariant: no ham message is listed (every ham signature below the threshold, so no
  // message made of them is spam) and no open identity is trusted.
  void expect_safe(const std::string& step) {
    settle();
    std::vector<sigs::Signature> all;
    for (const auto& m : hams_) all.insert(all.end(), m.begin(), m.end());
    auto c = store_->check(all);
    ASSERT_TRUE(c) << step;
    EXPECT_FALSE(c->spam) << step;
    int worst = 0;
    for (const auto& match : c->matches) {
      EXPECT_LT(match.confidence, kRecommendedThreshold) << step << ": ham " << match.id;
      worst = std::max(worst, match.confidence);
    }
    worst_ham_ = std::max(worst_ham_, worst);
    auto list = store_->list_reporters();
    ASSERT_TRUE(list);
    std::set<ReporterId> open(open_.begin(), open_.end());
    for (const auto& r : *list) {
      if (open.count(r.id) == 0) continue;
      EXPECT_LT(r.trust, trust_to_double(kTrustedMin)) << step << ": open " << r.name;
      EXPECT_FALSE(r.vouched) << step << ": open " << r.name;
      max_open_trust_ = std::max(max_open_trust_, r.trust);
    }
  }

  testing::TempDir dir_;
  TimePoint now_{std::chrono::seconds(1'700'000'000)};
  std::unique_ptr<Store> store_;
  std::vector<std::future<Result<VoteOutcome>>> pending_;
  std::vector<ReporterId> open_;
  std::vector<Message> hams_;
  std::uint64_t next_ham_ = 0, next_spam_ = 0;
  int worst_ham_ = 0;
  double max_open_trust_ = 0;
};

// (a) The observed attack: 50 open identities each report two real spam messages first; a
// fully trusted reporter confirms them; then each lists a different ham message alone.
TEST_F(Attack, EarlyReportingOfConfirmedSpamDoesNotMakeSybilsTrusted) {
  ReporterId boss = add_admin("boss", 1.0, true);
  auto sybils = add_open_many("sybil", 50);
  std::vector<Message> campaigns;
  for (auto s : sybils) {
    std::vector<Message> mine{spam(), spam()};
    vote(s, mine);
    campaigns.insert(campaigns.end(), mine.begin(), mine.end());
  }
  for (const auto& m : campaigns) report(boss, m);  // the trusted reporter confirms each
  expect_safe("after confirmation");
  for (const auto& m : campaigns) EXPECT_GE(confidence_of(m[0]), kRecommendedThreshold);
  // The finding: one confirmed message lifted a sybil to 0.485, two to 0.64.
  for (auto s : sybils) EXPECT_LT(trust_of(s), trust_to_double(kTrustedMin));
  for (auto s : sybils) report(s, ham());
  expect_safe("each sybil lists a ham alone");
  // All fifty on one ham: the low-trust pool is capped.
  Message target = ham();
  for (auto s : sybils) report(s, target);
  expect_safe("fifty sybils on one ham");
  EXPECT_LE(confidence_of(target[0]), kMaxLowTrustConfidence);
}

// (b) Mutual corroboration: every sybil reports every other sybil's messages, in several
// orders, after having earned whatever early reporting gives them.
TEST_F(Attack, MutualCorroborationAmongSybilsListsNothing) {
  std::mt19937 rng(1337);
  ReporterId boss = add_admin("boss", 1.0, true);
  auto sybils = add_open_many("ring", 16);
  for (int day = 0; day < 5; ++day) {  // farm first, over several days and judges' requests
    for (auto s : sybils) {
      Message m = spam();
      report(s, m);
      report(boss, m);
    }
    next_day();
  }
  expect_safe("after farming");
  for (int order = 0; order < 6; ++order) {
    std::vector<Message> own;
    for (std::size_t i = 0; i < sybils.size(); ++i) own.push_back(ham());
    std::vector<std::pair<std::size_t, std::size_t>> plays;  // (voter, message)
    for (std::size_t v = 0; v < sybils.size(); ++v) {
      for (std::size_t m = 0; m < own.size(); ++m) plays.emplace_back(v, m);
    }
    if (order == 1) std::reverse(plays.begin(), plays.end());
    if (order >= 2) std::shuffle(plays.begin(), plays.end(), rng);
    for (auto [v, m] : plays) {
      report(sybils[v], own[m]);
      if (order >= 4 && rng() % 5 == 0) {  // withdraw and re-report: no new credit
        revoke(sybils[v], own[m]);
        report(sybils[v], own[m]);
      }
    }
    expect_safe("mutual corroboration, order " + std::to_string(order));
    // Each sybil also reports all ring messages in one request (per-message boundaries).
    vote(sybils[static_cast<std::size_t>(order) % sybils.size()], own);
    expect_safe("one request with the ring's messages");
    next_day();
  }
}

// (c) Mass revokes: sybils try to unlist spam that trusted reporters listed.
TEST_F(Attack, MassRevokesCannotUnlistTrustedSpam) {
  ReporterId boss = add_admin("boss", 1.0, true);
  ReporterId mod = add_admin("mod", 0.5, true);  // the least a trusted reporter can be
  auto sybils = add_open_many("revoker", 60);
  Message by_boss = spam(), by_mod = spam(), both = spam();
  report(boss, by_boss);
  report(mod, by_mod);
  report(boss, both);
  report(mod, both);
  for (auto s : sybils) {
    revoke(s, by_boss);
    revoke(s, by_mod);
    revoke(s, both);
  }
  expect_safe("mass revokes");
  for (const auto& m : {by_boss, by_mod, both}) {
    for (const auto& sig : m) EXPECT_GE(confidence_of(sig), kRecommendedThreshold) << sig.text();
  }
  // Reporting early and then revoking their own reports (withdrawals) changes nothing either.
  Message early = spam();
  for (auto s : sybils) report(s, early);
  report(boss, early);
  for (auto s : sybils) revoke(s, early);
  for (auto s : sybils) report(s, early);
  for (auto s : sybils) revoke(s, early);
  expect_safe("withdrawals");
  EXPECT_GE(confidence_of(early[0]), kRecommendedThreshold);
  // The revokers paid for contradicting trusted reporters.
  for (auto s : sybils) EXPECT_LT(trust_of(s), trust_to_double(kNewReporterTrust));
}

// (d) Slow burn: over 200 simulated days sybils report each day's real campaigns before the
// trusted reporters do, withdraw and re-report some, and every day try to list a ham.
TEST_F(Attack, SlowBurnOverTwoHundredDaysListsNoHam) {
  std::mt19937 rng(20261205);
  ReporterId mod_a = add_admin("mod-a", 1.0, true);
  ReporterId mod_b = add_admin("mod-b", 0.9, true);
  std::vector<ReporterId> honest;
  for (int i = 0; i < 3; ++i) honest.push_back(add_admin("honest" + std::to_string(i), 0.6, false));
  auto sybils = add_open_many("burn", 24);
  for (int day = 0; day < 200; ++day) {
    std::vector<Message> campaigns;
    for (int i = 0; i < 4; ++i) campaigns.push_back(spam());
    // Sybils are first on every campaign (each in one request of several messages).
    for (auto s : sybils) {
      std::vector<Message> mine;
      for (const auto& m : campaigns) {
        if (rng() % 3 != 0) mine.push_back(m);
      }
      if (!mine.empty()) vote(s, mine);
    }
    // Honest reporters are sometimes early too (they earn); the moderators confirm, one
    // message per request.
    for (std::size_t i = 0; i < campaigns.size(); ++i) {
      if (rng() % 2 == 0) report(honest[rng() % honest.size()], campaigns[i]);
      report(i % 2 == 0 ? mod_a : mod_b, campaigns[i]);
    }
    // Withdraw and re-report a confirmed campaign: no second credit.
    for (auto s : sybils) {
      if (rng() % 4 == 0) {
        const auto& m = campaigns[rng() % campaigns.size()];
        revoke(s, m);
        report(s, m);
      }
    }
    // The payoff attempt: the whole group reports one ham, and each a ham of its own.
    Message target = ham();
    for (auto s : sybils) report(s, target);
    if (day % 5 == 0) {
      for (auto s : sybils) report(s, ham());
    }
    if (day % 7 == 0) revoke(mod_b, target);  // a trusted reporter sometimes clears it
    expect_safe("day " + std::to_string(day));
    if (HasFailure()) return;
    next_day();
  }
  // The honest reporters still earned trust; the spam is listed.
  for (auto h : honest) EXPECT_GT(trust_of(h), 0.6);
  std::cout << "slow burn: max open trust " << max_open_trust_ << ", worst ham confidence "
            << worst_ham_ << "\n";
  EXPECT_LE(max_open_trust_, trust_to_double(kOpenTrustCap));
}

// (e) Re-registration churn: fresh identities every day, each farming and voting, old ones
// abandoned or still voting; the low-trust pool stays capped whatever their number.
TEST_F(Attack, ReRegistrationChurnListsNoHam) {
  std::mt19937 rng(99);
  ReporterId boss = add_admin("boss", 1.0, true);
  std::vector<ReporterId> all;
  Message target = ham();
  for (int wave = 0; wave < 20; ++wave) {
    auto fresh = add_open_many("churn" + std::to_string(wave) + "-", 12);
    all.insert(all.end(), fresh.begin(), fresh.end());
    std::vector<Message> campaigns{spam(), spam(), spam()};
    for (auto s : fresh) vote(s, campaigns);
    for (const auto& m : campaigns) report(boss, m);
    // Every identity ever registered votes for the standing target and today's ham, and the
    // oldest ones revoke a confirmed campaign (they are abandoned anyway).
    Message today = ham();
    for (auto s : all) {
      report(s, target);
      report(s, today);
    }
    for (std::size_t i = 0; i < 12 && i < all.size(); ++i) revoke(all[i], campaigns[rng() % 3]);
    expect_safe("wave " + std::to_string(wave));
    for (const auto& m : campaigns) EXPECT_GE(confidence_of(m[0]), kRecommendedThreshold);
    next_day();
  }
  EXPECT_LE(confidence_of(target[0]), kMaxLowTrustConfidence);
}

// ---- the honest path (figures quoted in docs/reputation.md)

// A new reporter the admin added at the default trust (vouched, unpinned) reports new spam
// messages, per_day of them a day, each before a trusted judge confirms it (judges take turns,
// one per message). Returns how many confirmed messages, and on how many days, it took to
// become trusted.
class ReputationHonestPath : public Attack {
 protected:
  struct Path {
    int messages = -1;
    int days = -1;
  };
  Path to_trusted(const std::string& name, const std::vector<ReporterId>& judges, int per_day) {
    ReporterId r = add_admin(name, std::nullopt, false);
    EXPECT_DOUBLE_EQ(trust_of(r), trust_to_double(kNewReporterTrust));
    for (int n = 1; n <= 100; ++n) {
      Message m = spam();
      report(r, m);
      report(judges[static_cast<std::size_t>(n - 1) % judges.size()], m);
      if (trust_of(r) >= trust_to_double(kTrustedMin)) return {n, (n - 1) / per_day + 1};
      if (n % per_day == 0) next_day();
    }
    return {};
  }
};

TEST_F(ReputationHonestPath, ConfirmedMessagesANewVouchedReporterNeeds) {
  ReporterId j10 = add_admin("judge-1.0", 1.0, true);
  ReporterId j09 = add_admin("judge-0.9", 0.9, true);
  const Path by_10 = to_trusted("a", {j10}, 1);
  const Path by_09 = to_trusted("b", {j09}, 1);
  const Path by_both = to_trusted("c", {j10, j09}, 2);  // two judges, two messages a day
  const Path busy = to_trusted("d", {j10}, 10);         // one judge, ten messages a day
  std::cout << "honest path (messages/days): judge 1.0: " << by_10.messages << "/" << by_10.days
            << "; judge 0.9: " << by_09.messages << "/" << by_09.days
            << "; judges 1.0 and 0.9 in turn, 2 a day: " << by_both.messages << "/" << by_both.days
            << "; judge 1.0, 10 a day: " << busy.messages << "/" << busy.days << "\n";
  EXPECT_EQ(by_10.messages, 4);
  EXPECT_EQ(by_10.days, 4);
  EXPECT_EQ(by_09.messages, 4);
  EXPECT_EQ(by_09.days, 4);
  EXPECT_EQ(by_both.messages, 4);
  EXPECT_EQ(by_both.days, 2);
  EXPECT_EQ(busy.days, 4);  // one credit per judge per day, however busy
  EXPECT_EQ(busy.messages, 31);
  // A second judge confirming the same message adds nothing (credit is per vote, once).
  ReporterId e = add_admin("e", std::nullopt, false);
  Message m = spam();
  report(e, m);
  report(j10, m);
  report(j09, m);
  settle();
  auto er = store_->find_reporter(e);
  ASSERT_TRUE(er);
  EXPECT_EQ(er->corroborated, 1u);
  // An open reporter on the same path stops at the cap until an admin vouches for it.
  ReporterId o = add_open("open-honest");
  for (int n = 0; n < 10; ++n) {
    Message om = spam();
    report(o, om);
    report(j10, om);
    next_day();
  }
  EXPECT_DOUBLE_EQ(trust_of(o), trust_to_double(kOpenTrustCap));
  auto v = store_->set_trust("open-honest", trust_to_double(kNewReporterTrust), false);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->vouched);
  EXPECT_GE(v->trust, trust_to_double(kTrustedMin));  // its history now counts in full
}

}  // namespace
}  // namespace strop::storage
