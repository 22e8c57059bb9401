// store_admin_test.cpp: signature administration (signature_info, delete_signatures,
// set_allowed), the times a match carries, and opening without creating.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "storage/store.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using testing::body;
using testing::fuzzy;
using testing::in_child;
using testing::TempDir;

constexpr std::int64_t kT0 = 1'700'000'000;

TimePoint at(std::int64_t s) { return TimePoint(std::chrono::seconds(s)); }

class StoreAdminTest : public ::testing::Test {
 protected:
  StoreOptions options(bool serve = true) {
    StoreOptions o;
    o.dir = dir_.sub("db");
    o.serve = serve;
    o.clock = [this] { return at(now_.load()); };
    o.initial_map_bytes = std::size_t{4} << 20;
    o.sweep_interval = std::chrono::hours(24 * 365);
    o.hit_resolution = std::chrono::seconds(0);  // every matching check is written back
    return o;
  }
  std::unique_ptr<Store> open(const StoreOptions& o) {
    auto s = Store::open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
    return s ? std::move(*s) : nullptr;
  }
  ReporterId add(Store& s, const std::string& name, double trust) {
    auto r = s.add_reporter({name, "secret-" + name, trust, true, false});
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r ? r->id : 0;
  }
  void vote(Store& s, ReporterId r, std::vector<sigs::Signature> sigs, bool revoke = false) {
    VoteRequest req;
    req.reporter = r;
    req.revoke = revoke;
    req.sigs = std::move(sigs);
    req.now = at(now_.load());
    std::promise<Result<VoteOutcome>> p;
    auto f = p.get_future();
    s.vote(std::move(req), [&p](Result<VoteOutcome> res) { p.set_value(std::move(res)); });
    auto res = f.get();
    EXPECT_TRUE(res) << (res ? "" : res.error().to_string());
  }
  SignatureInfo info(Store& s, const sigs::Signature& sig) {
    auto r = s.signature_info(std::vector<sigs::Signature>{sig});
    EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
    return r && r->size() == 1 ? (*r)[0] : SignatureInfo{};
  }

  TempDir dir_;
  std::atomic<std::int64_t> now_{kT0};
};

TEST_F(StoreAdminTest, InfoHasTimesCountsAndVoters) {
  auto s = open(options());
  ReporterId a = add(*s, "alice", 1.0);
  ReporterId b = add(*s, "bob", 1.0);
  ReporterId c = add(*s, "carol", 1.0);
  auto unknown = info(*s, body(9));
  EXPECT_FALSE(unknown.stored);
  EXPECT_FALSE(unknown.allowed);
  EXPECT_EQ(unknown.first_seen.time_since_epoch().count(), 0);

  vote(*s, a, {body(1)});
  now_ += 100;
  vote(*s, b, {body(1)});
  now_ += 100;
  vote(*s, c, {body(1)}, true);
  auto i = info(*s, body(1));
  EXPECT_TRUE(i.stored);
  EXPECT_EQ(i.first_seen, at(kT0));
  EXPECT_EQ(i.last_seen, at(kT0 + 200));
  EXPECT_EQ(i.reports, 2u);
  EXPECT_EQ(i.revokes, 1u);
  EXPECT_GT(i.confidence, 0);
  ASSERT_EQ(i.votes.size(), 3u);
  EXPECT_EQ(i.votes[0].name, "alice");
  EXPECT_FALSE(i.votes[0].revoke);
  EXPECT_EQ(i.votes[0].time, at(kT0));
  EXPECT_EQ(i.votes[2].name, "carol");
  EXPECT_TRUE(i.votes[2].revoke);
  EXPECT_DOUBLE_EQ(i.votes[2].weight, 1.0);

  // A matching check moves last seen (hit_resolution 0: every hit is queued; expire()
  // writes the queued hits before it sweeps).
  now_ += 1000;
  ASSERT_TRUE(s->check(std::vector<sigs::Signature>{body(1)}));
  ASSERT_TRUE(s->expire(at(now_.load())));
  EXPECT_EQ(info(*s, body(1)).last_seen, at(kT0 + 1200));
}

TEST_F(StoreAdminTest, MatchesCarryFirstSeenAndVoteTimes) {
  auto s = open(options());
  ReporterId a = add(*s, "alice", 1.0);
  ReporterId b = add(*s, "bob", 1.0);
  ReporterId c = add(*s, "carol", 1.0);
  vote(*s, a, {body(1)});
  now_ += 50;
  vote(*s, b, {body(1)});
  now_ += 50;
  vote(*s, c, {body(1)}, true);
  auto out = s->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 1u);
  const Match& m = out->matches[0];
  EXPECT_EQ(m.first_seen, at(kT0));
  EXPECT_EQ(m.last_report, at(kT0 + 50));
  EXPECT_EQ(m.first_revoke, at(kT0 + 100));
  EXPECT_EQ(m.last_revoke, at(kT0 + 100));
  EXPECT_FALSE(m.allowed);
}

TEST_F(StoreAdminTest, AllowlistIsReportedOnMatchesAndSurvivesReports) {
  auto s = open(options());
  ReporterId a = add(*s, "alice", 1.0);
  // Allowed before anyone reported it: no record is created.
  auto changed = s->set_allowed(std::vector<sigs::Signature>{body(1)}, true);
  ASSERT_TRUE(changed);
  EXPECT_EQ(*changed, std::vector<bool>{true});
  EXPECT_EQ(*s->set_allowed(std::vector<sigs::Signature>{body(1)}, true), std::vector<bool>{false});
  auto i = info(*s, body(1));
  EXPECT_FALSE(i.stored);
  EXPECT_TRUE(i.allowed);
  EXPECT_EQ(i.allowed_since, at(kT0));
  EXPECT_EQ(s->stats().signatures, 0u);

  vote(*s, a, {body(1), body(2)});
  auto out = s->check(std::vector<sigs::Signature>{body(1), body(2)});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 2u);
  EXPECT_TRUE(out->matches[0].allowed);
  EXPECT_FALSE(out->matches[1].allowed);
  EXPECT_EQ(out->matches[0].reports, 1u);  // the votes are kept; the policy is the node's

  ASSERT_TRUE(s->set_allowed(std::vector<sigs::Signature>{body(1)}, false));
  out = s->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 1u);
  EXPECT_FALSE(out->matches[0].allowed);
}

TEST_F(StoreAdminTest, AnAllowedFuzzyQueryAllowsEverythingSimilar) {
  auto s = open(options());
  ReporterId a = add(*s, "alice", 1.0);
  auto h = testing::random_fuzzy(7);
  auto variant = fuzzy(testing::mutate(h, 20));
  vote(*s, a, {variant});
  ASSERT_TRUE(s->set_allowed(std::vector<sigs::Signature>{fuzzy(h)}, true));
  auto out = s->check(std::vector<sigs::Signature>{fuzzy(h)});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 1u);
  EXPECT_TRUE(out->matches[0].allowed);
  // The variant itself, checked, is not allowed.
  out = s->check(std::vector<sigs::Signature>{variant});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 1u);
  EXPECT_FALSE(out->matches[0].allowed);
}

TEST_F(StoreAdminTest, DeleteRemovesRecordVotesAndAllowlistEntry) {
  auto s = open(options());
  ReporterId a = add(*s, "alice", 1.0);
  ReporterId b = add(*s, "bob", 1.0);
  vote(*s, a, {body(1), body(2)});
  vote(*s, b, {body(1)});
  ASSERT_TRUE(s->set_allowed(std::vector<sigs::Signature>{body(1)}, true));
  auto st = s->stats();
  EXPECT_EQ(st.signatures, 2u);
  EXPECT_EQ(st.votes, 3u);
  auto del = s->delete_signatures(std::vector<sigs::Signature>{body(1), body(3)});
  ASSERT_TRUE(del) << del.error().to_string();
  EXPECT_EQ(*del, (std::vector<bool>{true, false}));
  st = s->stats();
  EXPECT_EQ(st.signatures, 1u);
  EXPECT_EQ(st.votes, 1u);
  EXPECT_EQ(st.expired, 0u);  // a deletion is not an expiry
  auto i = info(*s, body(1));
  EXPECT_FALSE(i.stored);
  EXPECT_FALSE(i.allowed);
  auto out = s->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->matches.empty());
  // Reported again, it starts afresh.
  vote(*s, a, {body(1)});
  EXPECT_EQ(info(*s, body(1)).reports, 1u);
  // Bad values are refused before anything is written.
  auto bad = s->delete_signatures(std::vector<sigs::Signature>{{sigs::Engine::kBody, ""}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
}

// The admin commands' case: another process serves the directory while an admin process
// deletes and allows; the server's checks and reports see it at once.
TEST_F(StoreAdminTest, AdminProcessChangesReachTheServingProcess) {
  auto server = open(options(true));
  ReporterId a = add(*server, "alice", 1.0);
  vote(*server, a, {body(1), body(2)});
  EXPECT_EQ(in_child([&] {
              auto admin = Store::open(options(false));
              if (!admin) return 1;
              auto i = (*admin)->signature_info(std::vector<sigs::Signature>{body(1)});
              if (!i || !(*i)[0].stored || (*i)[0].reports != 1) return 2;
              auto d = (*admin)->delete_signatures(std::vector<sigs::Signature>{body(1)});
              if (!d || !(*d)[0]) return 3;
              auto al = (*admin)->set_allowed(std::vector<sigs::Signature>{body(2), body(3)}, true);
              if (!al || !(*al)[0] || !(*al)[1]) return 4;
              return 0;
            }),
            0);
  auto out = server->check(std::vector<sigs::Signature>{body(1), body(2)});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 1u);  // body(1) is gone
  EXPECT_EQ(out->matches[0].query_index, 1u);
  EXPECT_TRUE(out->matches[0].allowed);
  // The server's writer meets the deleted id in its index and starts a new record; a
  // signature allowed before its first report is allowed once reported.
  vote(*server, a, {body(1), body(3)});
  out = server->check(std::vector<sigs::Signature>{body(1), body(3)});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 2u);
  EXPECT_FALSE(out->matches[0].allowed);
  EXPECT_EQ(out->matches[0].reports, 1u);
  EXPECT_TRUE(out->matches[1].allowed);
  EXPECT_EQ(server->stats().signatures, 3u);
}

// Checks on several threads while the allowlist and deletions change under them (run under
// ThreadSanitizer too): every check succeeds, and the final state is the last change's.
TEST_F(StoreAdminTest, ChecksRunWhileSignaturesAreAdministered) {
  auto s = open(options());
  ReporterId a = add(*s, "alice", 1.0);
  std::vector<sigs::Signature> all;
  for (std::uint64_t i = 1; i <= 16; ++i) all.push_back(body(i));
  vote(*s, a, all);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        if (!s->check(all)) ++failures;
        if (!s->signature_info(std::vector<sigs::Signature>{all[0]})) ++failures;
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    std::vector<sigs::Signature> half(all.begin(), all.begin() + 8);
    EXPECT_TRUE(s->set_allowed(half, round % 2 == 0));
  }
  EXPECT_TRUE(s->delete_signatures(std::vector<sigs::Signature>(all.begin() + 8, all.end())));
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto out = s->check(all);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->matches.size(), 8u);
  for (const auto& m : out->matches) EXPECT_FALSE(m.allowed);  // round 19 unallowed
}

TEST_F(StoreAdminTest, OpenWithoutCreateFailsOnAMissingStoreAndCreatesNothing) {
  auto o = options(false);
  o.create = false;
  auto s = Store::open(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(o.dir));
  // An existing store opens.
  open(options(false)).reset();
  auto again = Store::open(o);
  EXPECT_TRUE(again) << (again ? "" : again.error().to_string());
}

}  // namespace
}  // namespace strop::storage
