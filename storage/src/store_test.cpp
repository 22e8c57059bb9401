#include "storage/store.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>

#include "codec.hpp"
#include "lmdb.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using testing::body;
using testing::fuzzy;
using testing::in_child;
using testing::TempDir;

constexpr TimePoint kT0{std::chrono::seconds(1'700'000'000)};

// A manual clock shared by the store and the test.
struct ManualClock {
  std::atomic<std::int64_t> now{kT0.time_since_epoch().count()};
  Clock fn() {
    return [this] { return TimePoint(std::chrono::seconds(now.load())); };
  }
  void advance(std::chrono::seconds s) { now += s.count(); }
};

class StoreTest : public ::testing::Test {
 protected:
  StoreOptions options(bool serve = true) {
    StoreOptions o;
    o.dir = dir_.sub("db");
    o.serve = serve;
    o.clock = clock_.fn();
    o.initial_map_bytes = std::size_t{4} << 20;
    o.sweep_interval = std::chrono::hours(24 * 365);  // tests call expire() explicitly
    return o;
  }
  std::unique_ptr<Store> open(const StoreOptions& o) {
    auto s = Store::open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
    return s ? std::move(*s) : nullptr;
  }
  ReporterId add(Store& s, const std::string& name, std::optional<double> trust = std::nullopt,
                 bool pinned = true) {
    ReporterSpec spec;
    spec.name = name;
    spec.secret = "secret-" + name;
    spec.trust = trust;
    spec.pinned = pinned;
    auto r = s.add_reporter(spec);
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r ? r->id : 0;
  }
  static VoteOutcome vote(Store& s, ReporterId r, std::vector<sigs::Signature> sigs,
                          bool revoke = false) {
    auto f = revoke ? s.revoke(r, std::move(sigs)) : s.report(r, std::move(sigs));
    auto res = f.get();
    EXPECT_TRUE(res) << (res ? "" : res.error().to_string());
    return res ? *res : VoteOutcome{};
  }
  static CheckOutcome check(Store& s, std::vector<sigs::Signature> sigs) {
    auto r = s.check(sigs);
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r ? *r : CheckOutcome{};
  }

  TempDir dir_;
  ManualClock clock_;
};

TEST_F(StoreTest, ReportThenCheckReturnsTheStoredSignature) {
  auto s = open(options());
  ReporterId full = add(*s, "admin", 1.0);
  auto sig = body(1);
  auto v = vote(*s, full, {sig});
  ASSERT_EQ(v.effects.size(), 1u);
  EXPECT_EQ(v.effects[0], VoteEffect::kRecorded);
  auto c = check(*s, {body(2), sig});
  ASSERT_EQ(c.matches.size(), 1u);
  EXPECT_EQ(c.matches[0].id, sig.text());
  EXPECT_EQ(c.matches[0].query_index, 1u);
  EXPECT_EQ(c.matches[0].reports, 1u);
  EXPECT_EQ(c.matches[0].revokes, 0u);
  EXPECT_DOUBLE_EQ(c.matches[0].similarity, 1.0);
  // One report by a fully trusted reporter lists the signature.
  EXPECT_GE(c.confidence, reputation::kRecommendedThreshold);
  EXPECT_TRUE(c.spam);
  EXPECT_TRUE(check(*s, {body(3)}).matches.empty());
}

TEST_F(StoreTest, OnCommitSeesEveryCommittedBatch) {
  std::atomic<int> commits{0};
  std::atomic<std::int64_t> total_ns{0};
  auto o = options();
  o.on_commit = [&](std::chrono::nanoseconds latency) {
    ++commits;
    total_ns += latency.count();
  };
  auto s = open(o);
  ReporterId full = add(*s, "admin", 1.0);
  int after_add = commits.load();
  vote(*s, full, {body(1)});
  vote(*s, full, {body(2)});
  // Each vote waited for its batch: two more commits, each with a latency.
  EXPECT_EQ(commits.load(), after_add + 2);
  EXPECT_EQ(s->stats().commits, static_cast<std::uint64_t>(commits.load()));
  EXPECT_GT(total_ns.load(), 0);
}

// The scheduling policy of this process's strop-writer thread, or -1 when there is none.
int writer_policy() {
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "strop-writer") {
      return sched_getscheduler(static_cast<pid_t>(std::stol(e.path().filename())));
    }
  }
  return -1;
}

TEST_F(StoreTest, WriterRunsAtIdlePriorityOnlyWhenConfigured) {
  {
    auto s = open(options());
    ASSERT_TRUE(s);
    // The writer sets its policy as it starts; one committed vote proves it has started.
    vote(*s, add(*s, "a", 1.0), {body(1)});
    EXPECT_EQ(writer_policy(), SCHED_OTHER);
  }
  StoreOptions o = options();
  o.writer_idle_priority = true;
  auto s = open(o);
  ASSERT_TRUE(s);
  vote(*s, add(*s, "b", 1.0), {body(2)});
  EXPECT_EQ(writer_policy(), SCHED_IDLE);
}

TEST_F(StoreTest, ReportIsIdempotentPerReporter) {
  auto s = open(options());
  ReporterId a = add(*s, "a");
  ReporterId b = add(*s, "b");
  auto sig = body(1);
  EXPECT_EQ(vote(*s, a, {sig}).effects[0], VoteEffect::kRecorded);
  EXPECT_EQ(vote(*s, a, {sig}).effects[0], VoteEffect::kUnchanged);
  EXPECT_EQ(vote(*s, a, {sig, sig}).effects,
            (std::vector<VoteEffect>{VoteEffect::kUnchanged, VoteEffect::kUnchanged}));
  EXPECT_EQ(check(*s, {sig}).matches.at(0).reports, 1u);
  EXPECT_EQ(vote(*s, b, {sig}).effects[0], VoteEffect::kRecorded);
  EXPECT_EQ(check(*s, {sig}).matches.at(0).reports, 2u);
  auto st = s->stats();
  EXPECT_EQ(st.signatures, 1u);
  EXPECT_EQ(st.votes, 2u);
  EXPECT_EQ(st.reporters, 2u);
}

TEST_F(StoreTest, RevokeOfOwnReportWithdrawsIt) {
  auto s = open(options());
  ReporterId a = add(*s, "a", 1.0);
  auto sig = body(1);
  vote(*s, a, {sig});
  EXPECT_TRUE(check(*s, {sig}).spam);
  EXPECT_EQ(vote(*s, a, {sig}, true).effects[0], VoteEffect::kWithdrawn);
  auto c = check(*s, {sig});
  ASSERT_EQ(c.matches.size(), 1u);
  EXPECT_EQ(c.matches[0].reports, 0u);
  EXPECT_EQ(c.matches[0].revokes, 0u);
  EXPECT_EQ(c.matches[0].confidence, 0);
  EXPECT_FALSE(c.spam);
  EXPECT_EQ(vote(*s, a, {sig}, true).effects[0], VoteEffect::kUnchanged);
  EXPECT_EQ(vote(*s, a, {sig}).effects[0], VoteEffect::kRecorded);
  EXPECT_EQ(check(*s, {sig}).matches.at(0).reports, 1u);
}

TEST_F(StoreTest, RevokeByAnotherReporterIsANotSpamVote) {
  auto s = open(options());
  ReporterId a = add(*s, "a", 0.6);
  ReporterId b = add(*s, "b", 0.9);
  auto sig = body(1);
  vote(*s, a, {sig});
  EXPECT_TRUE(check(*s, {sig}).spam);
  EXPECT_EQ(vote(*s, b, {sig}, true).effects[0], VoteEffect::kRecorded);
  auto c = check(*s, {sig});
  EXPECT_EQ(c.matches.at(0).reports, 1u);
  EXPECT_EQ(c.matches.at(0).revokes, 1u);
  EXPECT_EQ(c.confidence, 0);
  // b changes its mind.
  EXPECT_EQ(vote(*s, b, {sig}).effects[0], VoteEffect::kChanged);
  c = check(*s, {sig});
  EXPECT_EQ(c.matches.at(0).reports, 2u);
  EXPECT_EQ(c.matches.at(0).revokes, 0u);
}

TEST_F(StoreTest, RevokeOfUnknownSignatureStoresNothing) {
  auto s = open(options());
  ReporterId a = add(*s, "a");
  EXPECT_EQ(vote(*s, a, {body(9)}, true).effects[0], VoteEffect::kUnknown);
  EXPECT_EQ(s->stats().signatures, 0u);
}

TEST_F(StoreTest, UnknownDisabledAndInvalid) {
  auto s = open(options());
  auto r = s->report(77, {body(1)}).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  add(*s, "d");
  auto d = s->set_disabled("d");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->disabled);
  r = s->report(d->id, {body(1)}).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kForbidden);
  ReporterId e = add(*s, "e");
  r = s->report(e, {body(1), sigs::Signature{sigs::Engine::kFuzzy, "not-hex"}}).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(s->stats().signatures, 0u);  // nothing of a rejected request is stored
}

TEST_F(StoreTest, FuzzyIndexFindsSimilarSignatures) {
  for (bool serve : {true, false}) {
    SCOPED_TRACE(serve ? "serve (in-memory index)" : "admin (LMDB index)");
    TempDir d;
    auto o = options(serve);
    o.dir = d.sub("db");
    auto s = open(o);
    ReporterId a = add(*s, "a", 1.0);
    auto h = testing::random_fuzzy(11);
    vote(*s, a, {fuzzy(h), fuzzy(testing::random_fuzzy(12))});
    auto c = check(*s, {fuzzy(testing::mutate(h, 20))});
    ASSERT_EQ(c.matches.size(), 1u);
    EXPECT_EQ(c.matches[0].id, fuzzy(h).text());
    EXPECT_DOUBLE_EQ(c.matches[0].similarity, 20.0 / 32);
    EXPECT_TRUE(c.spam);
    c = check(*s, {fuzzy(testing::mutate(h, sigs::kFuzzyMatchMin))});
    ASSERT_EQ(c.matches.size(), 1u);
    EXPECT_DOUBLE_EQ(c.matches[0].similarity, double(sigs::kFuzzyMatchMin) / 32);
    // Under kFuzzyMatchMin, from kFuzzyUrlMatchMin: a weak agreement, returned (it may back a
    // url/1 match) but worth no confidence, no verdict and no hit.
    c = check(*s, {fuzzy(testing::mutate(h, sigs::kFuzzyMatchMin - 1))});
    ASSERT_EQ(c.matches.size(), 1u);
    EXPECT_DOUBLE_EQ(c.matches[0].similarity, double(sigs::kFuzzyMatchMin - 1) / 32);
    EXPECT_EQ(c.confidence, 0);
    EXPECT_FALSE(c.spam);
    c = check(*s, {fuzzy(testing::mutate(h, sigs::kFuzzyUrlMatchMin))});
    ASSERT_EQ(c.matches.size(), 1u);
    EXPECT_FALSE(c.spam);
    EXPECT_TRUE(
        check(*s, {fuzzy(testing::mutate(h, sigs::kFuzzyUrlMatchMin - 1))}).matches.empty());
    EXPECT_EQ(check(*s, {fuzzy(h)}).matches.at(0).similarity, 1.0);
    // A malformed fuzzy value matches nothing and is not an error.
    EXPECT_TRUE(check(*s, {sigs::Signature{sigs::Engine::kFuzzy, "zz"}}).matches.empty());
  }
}

TEST_F(StoreTest, AdminProcessAndServerSeeEachOthersWrites) {
  auto server = open(options(true));
  ReporterId a = add(*server, "a", 1.0);
  vote(*server, a, {body(1)});
  EXPECT_EQ(in_child([&] {
              auto admin = Store::open(options(false));
              if (!admin) return 1;
              auto c = (*admin)->check(std::vector<sigs::Signature>{body(1)});
              if (!c || c->matches.size() != 1 || !c->spam) return 2;
              if (!(*admin)->add_reporter({"late", "s3cret", 1.0, true, false})) return 3;
              return 0;
            }),
            0);
  // A reporter added by the admin process is visible to the server.
  auto late = server->find_reporter("late");
  ASSERT_TRUE(late);
  vote(*server, late->id, {body(2)});
  EXPECT_TRUE(check(*server, {body(2)}).spam);
  // Trust set by the admin process reaches the server's confidence.
  EXPECT_EQ(in_child([&] {
              auto admin = Store::open(options(false));
              return admin && (*admin)->set_trust("late", 0.0) ? 0 : 1;
            }),
            0);
  EXPECT_FALSE(check(*server, {body(2)}).spam);
}

TEST_F(StoreTest, SecondOpenInOneProcessIsRefused) {
  auto s = open(options());
  auto again = Store::open(options(false));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kExists);
  s.reset();
  EXPECT_TRUE(Store::open(options(false)));
}

TEST_F(StoreTest, OnlyOneProcessServesADirectory) {
  auto server = open(options(true));
  EXPECT_EQ(in_child([&] {
              auto other = Store::open(options(true));
              if (other) return 1;
              return other.error().code == Errc::kUnavailable ? 0 : 2;
            }),
            0);
  // Admin processes may open it while it is served.
  EXPECT_EQ(in_child([&] { return Store::open(options(false)) ? 0 : 1; }), 0);
  server.reset();
  EXPECT_EQ(in_child([&] { return Store::open(options(true)) ? 0 : 1; }), 0);
}

TEST_F(StoreTest, AdminProcessVotesAreRefusedWhileANodeServes) {
  auto server = open(options(true));
  ReporterId a = add(*server, "a", 1.0);
  EXPECT_EQ(in_child([&] {
              auto admin = Store::open(options(false));
              if (!admin) return 1;
              auto r = (*admin)->report(a, {body(1)}).get();
              return !r && r.error().code == Errc::kUnavailable ? 0 : 2;
            }),
            0);
}

TEST_F(StoreTest, ServerRecoversFromAnAdminExpiry) {
  auto o = options(true);
  o.expire_after = std::chrono::hours(1);
  auto server = open(o);
  ReporterId a = add(*server, "a", 1.0);
  vote(*server, a, {body(1), fuzzy(testing::random_fuzzy(1))});
  EXPECT_EQ(in_child([&] {
              clock_.advance(std::chrono::hours(2));  // the child's copy of the clock
              auto ao = options(false);
              ao.expire_after = std::chrono::hours(1);
              auto admin = Store::open(ao);
              if (!admin) return 1;
              auto n = (*admin)->expire((*admin)->now());
              return n && *n == 2 ? 0 : 2;
            }),
            0);
  // The server's index still lists the deleted ids: checks skip them, reports start afresh.
  EXPECT_TRUE(check(*server, {body(1)}).matches.empty());
  EXPECT_TRUE(check(*server, {fuzzy(testing::random_fuzzy(1))}).matches.empty());
  EXPECT_EQ(vote(*server, a, {body(1)}).effects[0], VoteEffect::kRecorded);
  auto c = check(*server, {body(1)});
  ASSERT_EQ(c.matches.size(), 1u);
  EXPECT_EQ(c.matches[0].reports, 1u);
  EXPECT_EQ(server->stats().signatures, 1u);
}

TEST_F(StoreTest, PersistsAcrossReopen) {
  auto h = testing::random_fuzzy(5);
  {
    auto s = open(options());
    ReporterId a = add(*s, "a", 1.0);
    vote(*s, a, {body(1), fuzzy(h)});
  }
  auto s = open(options());
  auto c = check(*s, {body(1), fuzzy(testing::mutate(h, 16))});
  ASSERT_EQ(c.matches.size(), 2u);
  EXPECT_TRUE(c.spam);
  auto r = s->find_reporter("a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->secret, "secret-a");
  EXPECT_EQ(r->reports, 2u);
  EXPECT_EQ(s->stats().signatures, 2u);
}

TEST_F(StoreTest, ExpiryDeletesInactiveSignaturesOnly) {
  auto o = options();
  o.expire_after = std::chrono::hours(24);
  o.hit_resolution = std::chrono::seconds(0);
  o.sweep_batch = 3;  // several bounded transactions
  auto s = open(o);
  ReporterId a = add(*s, "a", 1.0);
  auto h = testing::random_fuzzy(3);
  std::vector<sigs::Signature> sigs{fuzzy(h)};
  for (int i = 1; i <= 10; ++i) sigs.push_back(body(static_cast<std::uint64_t>(i)));
  vote(*s, a, sigs);
  clock_.advance(std::chrono::hours(20));
  EXPECT_EQ(check(*s, {body(1)}).matches.size(), 1u);  // a hit keeps body(1) alive
  vote(*s, a, {body(2)}, true);                        // a vote keeps body(2) alive (withdrawn)
  clock_.advance(std::chrono::hours(5));
  auto n = s->expire(s->now());
  ASSERT_TRUE(n) << n.error().to_string();
  EXPECT_EQ(*n, 9u);
  EXPECT_EQ(s->stats().signatures, 2u);
  EXPECT_EQ(check(*s, {body(1)}).matches.size(), 1u);
  EXPECT_EQ(check(*s, {body(2)}).matches.size(), 1u);
  EXPECT_TRUE(check(*s, {body(3)}).matches.empty());
  EXPECT_TRUE(check(*s, {fuzzy(h)}).matches.empty());
  // Expired signatures can be reported afresh.
  EXPECT_EQ(vote(*s, a, {body(3)}).effects[0], VoteEffect::kRecorded);
  // Nothing is left in the LMDB index either (admin mode uses it).
  s.reset();
  auto admin = open(options(false));
  EXPECT_TRUE(check(*admin, {fuzzy(h)}).matches.empty());
  EXPECT_EQ(admin->stats().votes, 3u);
}

TEST_F(StoreTest, MapGrowsOnDemandFromATinyMap) {
  auto o = options();
  o.initial_map_bytes = 1 << 20;
  o.map_growth_step_bytes = 1 << 20;
  auto s = open(o);
  ReporterId a = add(*s, "a", 1.0);
  std::vector<std::future<Result<VoteOutcome>>> fs;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<sigs::Signature> sigs;
    for (int i = 0; i < 500; ++i)
      sigs.push_back(body(static_cast<std::uint64_t>(batch * 1000 + i)));
    sigs.push_back(fuzzy(testing::random_fuzzy(static_cast<std::uint64_t>(batch))));
    fs.push_back(s->report(a, std::move(sigs)));
  }
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().to_string();
  }
  auto st = s->stats();
  EXPECT_EQ(st.signatures, 40u * 501);
  EXPECT_GT(st.map_resizes, 0u);
  EXPECT_GT(st.map_bytes, std::size_t{1} << 20);
  EXPECT_EQ(st.write_errors, 0u);
  EXPECT_EQ(check(*s, {body(39 * 1000 + 499)}).matches.size(), 1u);
}

TEST_F(StoreTest, BackupIsAConsistentOpenableCopy) {
  auto s = open(options());
  ReporterId a = add(*s, "a", 1.0);
  vote(*s, a, {body(1)});
  std::string dest = dir_.sub("backup");
  ASSERT_TRUE(s->backup(dest));
  auto again = s->backup(dest);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kExists);
  auto o = options();
  o.dir = dest;
  auto b = open(o);
  EXPECT_TRUE(check(*b, {body(1)}).spam);
  EXPECT_TRUE(b->find_reporter("a"));
}

TEST_F(StoreTest, Reporters) {
  auto s = open(options());
  auto a = s->add_reporter({"alice", "k1", std::nullopt, true, true});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, 1u);
  EXPECT_DOUBLE_EQ(a->trust, reputation::trust_to_double(reputation::kNewReporterTrust));
  EXPECT_FALSE(a->pinned);
  EXPECT_TRUE(a->admin);
  auto dup = s->add_reporter({"alice", "k2", std::nullopt});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kExists);
  EXPECT_EQ(s->add_reporter({"bad name", "k", std::nullopt}).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(s->add_reporter({"", "k", std::nullopt}).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(s->add_reporter({"x", "", std::nullopt}).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(s->add_reporter({"x", "k", 1.5}).error().code, Errc::kInvalidArgument);
  ASSERT_TRUE(s->add_reporter({"bob", "k3", 0.7, true}));
  auto t = s->set_trust("alice", 1.0);
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(t->trust, 1.0);
  EXPECT_TRUE(t->pinned);
  EXPECT_EQ(s->set_trust("nobody", 0.5).error().code, Errc::kNotFound);
  auto list = s->list_reporters();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].name, "bob");
  EXPECT_DOUBLE_EQ((*list)[1].trust, 0.7);
  auto byid = s->find_reporter(ReporterId{2});
  ASSERT_TRUE(byid);
  EXPECT_EQ(byid->name, "bob");
  EXPECT_EQ(s->find_reporter("carol").error().code, Errc::kNotFound);
  EXPECT_EQ(s->find_reporter(ReporterId{99}).error().code, Errc::kNotFound);
}

TEST_F(StoreTest, DisabledReportersVotesWeighNothing) {
  auto s = open(options());
  ReporterId a = add(*s, "a", 1.0);
  vote(*s, a, {body(1)});
  EXPECT_TRUE(check(*s, {body(1)}).spam);
  ASSERT_TRUE(s->set_disabled("a"));
  EXPECT_FALSE(check(*s, {body(1)}).spam);
  ASSERT_TRUE(s->set_disabled("a", false));
  EXPECT_TRUE(check(*s, {body(1)}).spam);
}

TEST_F(StoreTest, VerdictEnginesGateTheMessageVerdict) {
  auto s = open(options());
  ReporterId a = add(*s, "a", 1.0);
  sigs::Signature e8{sigs::Engine::kRazorE8, "AAAAAAAAAAAA"};
  vote(*s, a, {e8});
  auto c = check(*s, {e8});
  ASSERT_EQ(c.matches.size(), 1u);
  EXPECT_GE(c.matches[0].confidence, reputation::kRecommendedThreshold);
  EXPECT_FALSE(c.spam);  // razor-e8 alone does not decide (default verdict_engines)
}

TEST_F(StoreTest, SchemaVersionIsChecked) {
  { auto s = open(options()); }
  {
    lmdb::Env env;
    ASSERT_EQ(lmdb::Env::open(dir_.sub("db"), 0, 16, 16, 4 << 20, &env), 0);
    lmdb::Txn txn;
    ASSERT_EQ(lmdb::Txn::begin(env, 0, &txn), 0);
    lmdb::Dbi meta;
    ASSERT_EQ(txn.open_dbi("meta", 0, &meta), 0);
    ASSERT_EQ(txn.put(meta, codec::kMetaSchema, codec::encode_u32(99)), 0);
    ASSERT_EQ(txn.commit(), 0);
  }
  auto s = Store::open(options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  EXPECT_NE(s.error().message.find("99"), std::string::npos);
}

TEST_F(StoreTest, SignatureIdsWrapAroundAndSkipIdsInUse) {
  {
    auto s = open(options());
    ReporterId a = add(*s, "a", 1.0);
    vote(*s, a, {body(1)});  // id 1
  }
  {
    lmdb::Env env;
    ASSERT_EQ(lmdb::Env::open(dir_.sub("db"), 0, 16, 16, 4 << 20, &env), 0);
    lmdb::Txn txn;
    ASSERT_EQ(lmdb::Txn::begin(env, 0, &txn), 0);
    lmdb::Dbi meta;
    ASSERT_EQ(txn.open_dbi("meta", 0, &meta), 0);
    ASSERT_EQ(txn.put(meta, codec::kMetaNextSigId, codec::encode_u32(codec::kMaxSigId)), 0);
    ASSERT_EQ(txn.commit(), 0);
  }
  auto s = open(options());
  auto a = s->find_reporter("a");
  ASSERT_TRUE(a);
  vote(*s, a->id, {body(2), body(3), body(4)});  // ids kMaxSigId, then 2, 3 (1 is in use)
  EXPECT_EQ(s->stats().signatures, 4u);
  for (std::uint64_t i = 1; i <= 4; ++i) {
    auto c = check(*s, {body(i)});
    ASSERT_EQ(c.matches.size(), 1u) << i;
    EXPECT_EQ(c.matches[0].id, body(i).text());
    EXPECT_EQ(c.matches[0].reports, 1u);
  }
  s.reset();
  s = open(options());  // the rebuilt index agrees
  for (std::uint64_t i = 1; i <= 4; ++i) EXPECT_EQ(check(*s, {body(i)}).matches.size(), 1u) << i;
}

TEST_F(StoreTest, QueueBoundRejectsWithUnavailable) {
  auto o = options();
  o.max_queue_ops = 4;
  auto s = open(o);
  ReporterId a = add(*s, "a");
  // Hold the writer inside a completion callback so the queue cannot drain.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  s->report(a, {body(1)}, s->now(), [&](Result<VoteOutcome>) {
    std::unique_lock lk(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lk, [&] { return release; });
  });
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return entered; });
  }
  std::vector<std::future<Result<VoteOutcome>>> queued;
  for (int i = 0; i < 4; ++i)
    queued.push_back(s->report(a, {body(100 + static_cast<std::uint64_t>(i))}));
  auto over = s->report(a, {body(200)}).get();
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::kUnavailable);
  EXPECT_EQ(s->stats().writer_queue_depth, 4u);
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& f : queued) EXPECT_TRUE(f.get());
}

TEST_F(StoreTest, ChecksRunWhileReportsCommit) {
  auto s = open(options());
  ReporterId a = add(*s, "a", 1.0);
  vote(*s, a, {body(0)});
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, missing{0};
  std::thread reader([&] {
    while (!stop) {
      auto r = s->check(std::vector<sigs::Signature>{body(0), body(999999)});
      if (!r) {
        ++errors;
      } else if (r->matches.size() != 1) {
        ++missing;
      }
    }
  });
  std::vector<std::future<Result<VoteOutcome>>> fs;
  for (int i = 1; i <= 2000; ++i) fs.push_back(s->report(a, {body(static_cast<std::uint64_t>(i))}));
  for (auto& f : fs) ASSERT_TRUE(f.get());
  stop = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(s->stats().signatures, 2001u);
  // Acknowledged means visible: every acknowledged report is found by the next check.
  for (int i = 1; i <= 2000; i += 97) {
    EXPECT_EQ(check(*s, {body(static_cast<std::uint64_t>(i))}).matches.size(), 1u);
  }
}

// kill -9 in the middle of a report load: every report acknowledged before the kill is
// there after reopening (the acknowledgement comes after mdb_txn_commit returned).
TEST_F(StoreTest, AcknowledgedReportsSurviveKill9) {
  std::string acks = dir_.sub("acks");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipefd[0]);
    auto st = Store::open(options());
    if (!st) _exit(3);
    auto& s = **st;
    ReporterSpec spec{"k", "k", std::nullopt};
    auto r = s.add_reporter(spec);
    if (!r) _exit(4);
    std::mutex mu;
    std::ofstream out(acks);
    for (std::uint64_t i = 1;; ++i) {
      s.report(r->id, {body(i)}, s.now(), [&, i](Result<VoteOutcome> res) {
        if (!res) return;
        std::lock_guard lk(mu);
        out << i << '\n' << std::flush;  // recorded only after the durable commit
        if (i == 300) {
          char c = 1;
          (void)!write(pipefd[1], &c, 1);
        }
      });
      if (i % 64 == 0) usleep(200);
    }
  }
  close(pipefd[1]);
  char c;
  ASSERT_EQ(read(pipefd[0], &c, 1), 1);  // the child has acknowledged >= 300 reports
  usleep(20000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(pipefd[0]);
  ASSERT_TRUE(WIFSIGNALED(status));
  std::ifstream in(acks);
  std::vector<std::uint64_t> acked;
  for (std::uint64_t i; in >> i;) acked.push_back(i);
  ASSERT_GE(acked.size(), 300u);
  auto s = open(options(false));
  std::size_t found = 0;
  for (auto i : acked) found += check(*s, {body(i)}).matches.size();
  EXPECT_EQ(found, acked.size());
}

}  // namespace
}  // namespace strop::storage

namespace strop::storage {
namespace {

// Signature n of the growth test: one in eight is fuzzy/1 (32 postings), the rest body/1.
sigs::Signature growth_sig(std::uint64_t n) {
  if (n % 8 == 0) return fuzzy(testing::random_fuzzy(n + 7));
  return body(n);
}

// How many of sigs a check finds stored (an exact match of the signature itself).
std::size_t found(Store& s, const std::vector<sigs::Signature>& sigs) {
  auto r = s.check(sigs);
  if (!r) return 0;
  std::vector<char> hit(sigs.size(), 0);
  for (const auto& m : r->matches) {
    if (m.query_index < sigs.size() && m.id == sigs[m.query_index].text()) hit[m.query_index] = 1;
  }
  return static_cast<std::size_t>(std::count(hit.begin(), hit.end(), 1));
}

// How many of growth signatures [0, n) a check does not find, in batches of 500.
std::uint64_t absent_of_first(Store& s, std::uint64_t n) {
  std::uint64_t absent = 0;
  for (std::uint64_t b = 0; b < n; b += 500) {
    std::vector<sigs::Signature> q;
    for (std::uint64_t i = b; i < std::min(b + 500, n); ++i) q.push_back(growth_sig(i));
    absent += q.size() - found(s, q);
  }
  return absent;
}

// The in-memory index grows shard by shard from its smallest size while a reader checks
// signatures already acknowledged: every one is found during growth, after it, after the
// store is closed and reopened (index loaded from its snapshot), after more growth of the
// loaded index and another restart, and with the index rebuilt from LMDB. Asserts
// correctness, never timing.
TEST_F(StoreTest, IndexGrowthKeepsEveryReportedSignatureFindable) {
  constexpr std::uint64_t kSigs = 200000;
  constexpr std::uint64_t kPerReport = 2000;
  constexpr std::uint64_t kReports = kSigs / kPerReport;
  auto o = options();
  o.expire_after = std::chrono::seconds(0);
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    ReporterId r = add(*s, "grower");
    std::atomic<std::uint64_t> acked{0};  // reports [0, acked) are acknowledged
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> checks{0}, missing{0};
    std::thread reader([&] {
      std::mt19937_64 rng(5);
      while (!stop.load()) {
        std::uint64_t have = acked.load();
        if (have == 0) {
          std::this_thread::yield();
          continue;
        }
        // A few signatures from an acknowledged report, and the newest report's first ones.
        std::vector<sigs::Signature> q;
        std::uint64_t base = (rng() % have) * kPerReport;
        for (int i = 0; i < 8; ++i) q.push_back(growth_sig(base + rng() % kPerReport));
        std::uint64_t newest = (have - 1) * kPerReport;
        for (std::uint64_t i = 0; i < 8; ++i) q.push_back(growth_sig(newest + i));
        std::size_t n = found(*s, q);
        checks += 1;
        if (n != q.size()) missing += q.size() - n;
      }
    });
    std::vector<std::future<Result<VoteOutcome>>> inflight;
    std::uint64_t next_ack = 0;
    for (std::uint64_t k = 0; k < kReports; ++k) {
      std::vector<sigs::Signature> sigs;
      for (std::uint64_t i = 0; i < kPerReport; ++i) sigs.push_back(growth_sig(k * kPerReport + i));
      inflight.push_back(s->report(r, std::move(sigs)));
      if (inflight.size() == 4 || k + 1 == kReports) {
        for (auto& f : inflight) {
          auto res = f.get();
          ASSERT_TRUE(res) << res.error().to_string();
          acked = ++next_ack;
        }
        inflight.clear();
      }
    }
    stop = true;
    reader.join();
    EXPECT_GT(checks.load(), 0u);
    EXPECT_EQ(missing.load(), 0u);
    auto st = s->stats();
    EXPECT_EQ(st.signatures, kSigs);
    // Every signature after growth.
    EXPECT_EQ(absent_of_first(*s, kSigs), 0u);
  }
  // And after a restart, from the snapshot written at close.
  ASSERT_TRUE(std::filesystem::exists(o.dir + "/index.snap"));
  constexpr std::uint64_t kMore = 60000;  // grows the loaded shards past their snapshot size
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->stats().index_from_snapshot);
    EXPECT_EQ(s->stats().signatures, kSigs);
    EXPECT_EQ(absent_of_first(*s, kSigs), 0u);
    // Unknown signatures stay unknown.
    std::vector<sigs::Signature> q;
    for (std::uint64_t i = kSigs; i < kSigs + 64; ++i) q.push_back(growth_sig(i));
    EXPECT_EQ(found(*s, q), 0u);
    ReporterId r = s->find_reporter("grower")->id;
    for (std::uint64_t k = kSigs; k < kSigs + kMore; k += kPerReport) {
      std::vector<sigs::Signature> sigs;
      for (std::uint64_t i = k; i < k + kPerReport; ++i) sigs.push_back(growth_sig(i));
      auto res = s->report(r, std::move(sigs)).get();
      ASSERT_TRUE(res) << res.error().to_string();
    }
    EXPECT_EQ(absent_of_first(*s, kSigs + kMore), 0u);
  }
  {
    auto s = open(o);  // the snapshot rewritten at close, loaded again
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->stats().index_from_snapshot);
    EXPECT_EQ(absent_of_first(*s, kSigs + kMore), 0u);
  }
  auto rebuilt = o;
  rebuilt.index_snapshot = false;
  auto s = open(rebuilt);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->stats().index_from_snapshot);
  EXPECT_EQ(absent_of_first(*s, kSigs + kMore), 0u);
}

// The snapshot is used only for the exact state it was saved from: a write made while it was
// not kept up to date (here by a store opened without snapshots; in life by an admin command
// or a crash after more commits) makes the next open rebuild, and the new write is found.
TEST_F(StoreTest, StaleIndexSnapshotIsRebuiltNotUsed) {
  auto o = options();
  o.expire_after = std::chrono::seconds(0);
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    ReporterId r = add(*s, "one");
    vote(*s, r, {growth_sig(1), growth_sig(2)});
  }
  ASSERT_TRUE(std::filesystem::exists(o.dir + "/index.snap"));
  {
    auto no_snap = o;
    no_snap.index_snapshot = false;
    auto s = open(no_snap);
    ASSERT_TRUE(s);
    vote(*s, s->find_reporter("one")->id, {growth_sig(3)});
  }
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->stats().index_from_snapshot);  // stale: rebuilt
    EXPECT_EQ(found(*s, {growth_sig(1), growth_sig(2), growth_sig(3)}), 3u);
  }
  {
    auto s = open(o);  // saved again at that close, and unchanged since
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->stats().index_from_snapshot);
    EXPECT_EQ(found(*s, {growth_sig(1), growth_sig(2), growth_sig(3)}), 3u);
  }
  // A damaged file is refused (checksum) and the index rebuilt.
  {
    std::fstream f(o.dir + "/index.snap", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 5);  // inside the shard directory
    f.put('\x7f');
  }
  auto s = open(o);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->stats().index_from_snapshot);
  EXPECT_EQ(found(*s, {growth_sig(1), growth_sig(2), growth_sig(3)}), 3u);
}

// A serving node that wrote nothing (a flush, a sweep with nothing due) commits no page, so
// its stop keeps the snapshot it loaded instead of writing the whole index again (minutes of
// disk at 100M signatures).
TEST_F(StoreTest, AnIdleServeKeepsTheLoadedSnapshot) {
  auto o = options();
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    ReporterId r = add(*s, "one");
    vote(*s, r, {growth_sig(1), growth_sig(2)});
  }
  const std::string snap = o.dir + "/index.snap";
  // The file's identity: a save writes a new file and renames it over the old one (the inode
  // alone may be reused, the modification time alone may tick too coarsely; both together
  // change).
  auto inode = [&snap] {
    struct stat st {};
    EXPECT_EQ(::stat(snap.c_str(), &st), 0);
    return std::tuple(st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  };
  const auto written = inode();
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->stats().index_from_snapshot);
    ASSERT_TRUE(s->flush());
    auto expired = s->expire(s->now());  // nothing is due
    ASSERT_TRUE(expired);
    EXPECT_EQ(*expired, 0u);
    // (No check here: a check's hit is a write, of its last-hit time.)
  }
  EXPECT_EQ(inode(), written);  // not replaced (a save renames a new file over it)
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->stats().index_from_snapshot);
    vote(*s, s->find_reporter("one")->id, {growth_sig(3)});
  }
  EXPECT_NE(inode(), written);  // a write since the load: saved again
  auto s = open(o);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->stats().index_from_snapshot);
  EXPECT_EQ(found(*s, {growth_sig(1), growth_sig(2), growth_sig(3)}), 3u);
}

}  // namespace
}  // namespace strop::storage
