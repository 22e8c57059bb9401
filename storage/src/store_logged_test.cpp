// Fleet mode: replicated-log events applied with their sequence (store_logged.cpp).
#include <gtest/gtest.h>

#include <future>

#include "storage/store.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using testing::body;
using testing::TempDir;

constexpr TimePoint kT0{std::chrono::seconds(1'700'000'000)};

StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.clock = [] { return kT0; };
  o.initial_map_bytes = std::size_t{4} << 20;
  o.sweep_interval = std::chrono::hours(24 * 365);
  return o;
}

std::unique_ptr<Store> open(const std::string& dir) {
  auto s = Store::open(options(dir));
  EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

Result<LoggedOutcome> apply(Store& s, std::uint64_t seq, LoggedOp op) {
  std::promise<Result<LoggedOutcome>> p;
  auto f = p.get_future();
  s.apply_logged(LoggedWrite{seq, std::move(op)},
                 [&p](Result<LoggedOutcome> r) { p.set_value(std::move(r)); });
  return f.get();
}

LoggedOp add_op(const std::string& name, std::optional<double> trust) {
  LoggedAddReporter a;
  a.spec.name = name;
  a.spec.secret = "s-" + name;
  a.spec.trust = trust;
  a.created = kT0;
  return a;
}

LoggedOp vote_op(const std::string& name, std::vector<sigs::Signature> sigs, bool revoke = false,
                 std::optional<std::string> nonce = std::nullopt) {
  LoggedVote v;
  v.reporter = name;
  v.request.revoke = revoke;
  v.request.sigs = std::move(sigs);
  v.request.now = kT0;
  if (nonce) v.request.replay = ReplayKey{*nonce, kT0 + std::chrono::minutes(5)};
  return v;
}

TEST(StoreLogged, AppliesInOrderAndPersistsTheSequence) {
  TempDir dir;
  {
    auto s = open(dir.sub("db"));
    EXPECT_EQ(s->applied_sequence(), 0u);
    auto a = apply(*s, 1, add_op("postmaster", 1.0));
    ASSERT_TRUE(a) << a.error().to_string();
    EXPECT_FALSE(a->skipped);
    EXPECT_FALSE(a->refused);
    ASSERT_TRUE(a->reporter);
    auto v = apply(*s, 2, vote_op("postmaster", {body(1), body(2)}));
    ASSERT_TRUE(v);
    ASSERT_EQ(v->votes.effects.size(), 2u);
    EXPECT_EQ(v->votes.effects[0], VoteEffect::kRecorded);
    EXPECT_EQ(s->applied_sequence(), 2u);
    EXPECT_EQ(s->stats().applied_sequence, 2u);
    auto c = s->check(std::vector<sigs::Signature>{body(1)});
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->spam);
  }
  auto s = open(dir.sub("db"));
  EXPECT_EQ(s->applied_sequence(), 2u);
  EXPECT_EQ(s->stats().signatures, 2u);
}

TEST(StoreLogged, ASequenceAtOrBelowTheAppliedOneChangesNothing) {
  TempDir dir;
  auto s = open(dir.sub("db"));
  ASSERT_TRUE(apply(*s, 5, add_op("postmaster", 1.0)));
  ASSERT_TRUE(apply(*s, 6, vote_op("postmaster", {body(1)})));
  auto before = s->stats();
  // The same events again (a redelivery after a crash), and an older one with new content.
  auto again = apply(*s, 6, vote_op("postmaster", {body(1)}, true));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->skipped);
  auto older = apply(*s, 3, vote_op("postmaster", {body(9)}));
  ASSERT_TRUE(older);
  EXPECT_TRUE(older->skipped);
  auto after = s->stats();
  EXPECT_EQ(after.signatures, before.signatures);
  EXPECT_EQ(after.votes, before.votes);
  EXPECT_EQ(after.applied_sequence, 6u);
  EXPECT_TRUE(s->check(std::vector<sigs::Signature>{body(1)})->spam);
  EXPECT_TRUE(s->check(std::vector<sigs::Signature>{body(9)})->matches.empty());
}

TEST(StoreLogged, ARefusedEventStillConsumesItsSequence) {
  TempDir dir;
  auto s = open(dir.sub("db"));
  auto unknown = apply(*s, 1, vote_op("nobody", {body(1)}));
  ASSERT_TRUE(unknown);
  ASSERT_TRUE(unknown->refused);
  EXPECT_EQ(unknown->refused->code, Errc::kNotFound);
  EXPECT_EQ(s->applied_sequence(), 1u);
  ASSERT_TRUE(apply(*s, 2, add_op("postmaster", 1.0)));
  auto dup = apply(*s, 3, add_op("postmaster", 1.0));
  ASSERT_TRUE(dup);
  ASSERT_TRUE(dup->refused);
  EXPECT_EQ(dup->refused->code, Errc::kExists);
  ASSERT_TRUE(apply(*s, 4, vote_op("postmaster", {body(1)}, false, "n1")));
  auto replay = apply(*s, 5, vote_op("postmaster", {body(2)}, false, "n1"));
  ASSERT_TRUE(replay);
  ASSERT_TRUE(replay->refused);
  EXPECT_EQ(replay->refused->code, Errc::kReplayed);
  EXPECT_EQ(s->applied_sequence(), 5u);
  EXPECT_EQ(s->stats().signatures, 1u);
}

TEST(StoreLogged, AdminWritesAsEvents) {
  TempDir dir;
  auto s = open(dir.sub("db"));
  ASSERT_TRUE(apply(*s, 1, add_op("postmaster", 1.0)));
  ASSERT_TRUE(apply(*s, 2, add_op("alice", std::nullopt)));
  auto t = apply(*s, 3, LoggedSetTrust{"alice", 0.5, true});
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->reporter);
  EXPECT_DOUBLE_EQ(t->reporter->trust, 0.5);
  auto d = apply(*s, 4, LoggedSetDisabled{"alice", true});
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->reporter);
  EXPECT_TRUE(d->reporter->disabled);
  ASSERT_TRUE(apply(*s, 5, vote_op("postmaster", {body(1), body(2)})));
  auto al = apply(*s, 6, LoggedSetAllowed{{body(1)}, true, kT0});
  ASSERT_TRUE(al);
  ASSERT_EQ(al->changed.size(), 1u);
  EXPECT_TRUE(al->changed[0]);
  auto c = s->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_EQ(c->matches.size(), 1u);
  EXPECT_TRUE(c->matches[0].allowed);
  auto del = apply(*s, 7, LoggedDeleteSignatures{{body(2)}});
  ASSERT_TRUE(del);
  ASSERT_EQ(del->changed.size(), 1u);
  EXPECT_TRUE(del->changed[0]);
  EXPECT_TRUE(s->check(std::vector<sigs::Signature>{body(2)})->matches.empty());
  EXPECT_EQ(s->applied_sequence(), 7u);
}

TEST(StoreLogged, TwoStoresFedTheSameLogAgree) {
  TempDir dir;
  auto a = open(dir.sub("a"));
  auto b = open(dir.sub("b"));
  std::vector<LoggedOp> log = {
      add_op("postmaster", 1.0), add_op("bob", 0.3), vote_op("bob", {body(1), body(2)}),
      vote_op("postmaster", {body(2), body(3)}), vote_op("postmaster", {body(1)}, true)};
  for (std::size_t i = 0; i < log.size(); ++i) {
    ASSERT_TRUE(apply(*a, i + 1, log[i]));
  }
  // b gets every event twice (a redelivery), as after a crash between commit and ack.
  for (std::size_t i = 0; i < log.size(); ++i) {
    ASSERT_TRUE(apply(*b, i + 1, log[i]));
    ASSERT_TRUE(apply(*b, i + 1, log[i]));
  }
  auto sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.signatures, sb.signatures);
  EXPECT_EQ(sa.votes, sb.votes);
  EXPECT_EQ(sa.applied_sequence, sb.applied_sequence);
  for (int n = 1; n <= 3; ++n) {
    auto ca = a->check(std::vector<sigs::Signature>{body(static_cast<std::uint64_t>(n))});
    auto cb = b->check(std::vector<sigs::Signature>{body(static_cast<std::uint64_t>(n))});
    EXPECT_EQ(ca->confidence, cb->confidence) << n;
    EXPECT_EQ(ca->spam, cb->spam) << n;
  }
}

// ---- federation in a fleet (docs/federation.md "In a fleet")

std::unique_ptr<Store> open_site(const std::string& dir, const std::string& site, TimePoint clock) {
  StoreOptions o = options(dir);
  o.federation_site = site;
  o.clock = [clock] { return clock; };
  auto s = Store::open(o);
  EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

LoggedOp batch_op(const std::string& peer, std::uint64_t after, std::vector<FeedEntry> entries,
                  TimePoint now) {
  LoggedPeerBatch b;
  b.peer = peer;
  b.after = after;
  b.cursor = entries.empty() ? after : entries.back().seq;
  b.entries = std::move(entries);
  b.now = now;
  return b;
}

TEST(StoreLogged, PeerEventsApplyIdenticallyOnEveryMember) {
  TempDir dir;
  // The peer site, standalone: two listings in its feed.
  auto solo = open_site(dir.sub("solo"), "solo", kT0);
  auto mod = solo->add_reporter(ReporterSpec{"moderator", "secret-m", 1.0});
  ASSERT_TRUE(mod);
  ASSERT_TRUE(solo->report(mod->id, {body(1), body(2)}).get());
  auto page = solo->read_feed(0, 100);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->entries.size(), 2u);

  // Two members of the fleet site, with clocks an hour apart: nothing node-local may enter.
  auto a = open_site(dir.sub("a"), "fleet", kT0);
  auto b = open_site(dir.sub("b"), "fleet", kT0 + std::chrono::hours(1));
  const TimePoint event_time = kT0 + std::chrono::minutes(3);
  std::vector<LoggedOp> log = {
      LoggedAddPeer{PeerSpec{"solo", "http://127.0.0.1:1", "shared-secret-16b", 1.0}, event_time},
      batch_op("solo", 0, page->entries, event_time),
      // A second member's pull of the same batch during a hand-over: skipped everywhere.
      batch_op("solo", 0, page->entries, event_time),
      batch_op("nobody", 0, {}, event_time),
  };
  for (auto* s : {a.get(), b.get()}) {
    for (std::size_t i = 0; i < log.size(); ++i) {
      auto r = apply(*s, i + 1, log[i]);
      ASSERT_TRUE(r) << r.error().to_string();
      if (i == 0) {
        ASSERT_FALSE(r->refused) << r->refused->to_string();
        ASSERT_TRUE(r->peer);
        EXPECT_EQ(r->peer->reporter.name, "solo");
      } else if (i == 1) {
        ASSERT_FALSE(r->refused) << r->refused->to_string();
        EXPECT_EQ(r->batch.applied, 2u);
      } else if (i == 2) {
        ASSERT_TRUE(r->refused);
        EXPECT_EQ(r->refused->code, Errc::kExists);
        EXPECT_TRUE(r->stale_batch);
        EXPECT_EQ(r->batch.applied, 0u);
      } else {
        ASSERT_TRUE(r->refused);
        EXPECT_EQ(r->refused->code, Errc::kNotFound);
        EXPECT_FALSE(r->stale_batch);
      }
    }
    EXPECT_EQ(s->applied_sequence(), log.size());
  }
  // b again from the start (a redelivery after a crash): nothing moves.
  for (std::size_t i = 0; i < log.size(); ++i) {
    auto r = apply(*b, i + 1, log[i]);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->skipped);
  }
  auto pa = a->find_peer("solo"), pb = b->find_peer("solo");
  ASSERT_TRUE(pa && pb);
  EXPECT_EQ(pa->cursor, page->entries.back().seq);
  EXPECT_EQ(pa->cursor, pb->cursor);
  EXPECT_EQ(pa->applied, 2u);
  EXPECT_EQ(pa->applied, pb->applied);
  EXPECT_EQ(pa->last_success, event_time);
  EXPECT_EQ(pa->last_success, pb->last_success);
  EXPECT_EQ(pa->reporter.created, pb->reporter.created);
  // The feed each member serves is the same, sequence for sequence.
  auto fa = a->read_feed(0, 100), fb = b->read_feed(0, 100);
  ASSERT_TRUE(fa && fb);
  EXPECT_EQ(fa->head, fb->head);
  EXPECT_EQ(fa->entries, fb->entries);
  ASSERT_EQ(fa->entries.size(), 2u);
  EXPECT_EQ(fa->entries[0].origin, "solo");
  EXPECT_EQ(fa->entries[0].hop, 1);
  auto ca = a->check(std::vector<sigs::Signature>{body(1)});
  auto cb = b->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(ca && cb);
  EXPECT_TRUE(ca->spam);
  EXPECT_EQ(ca->confidence, cb->confidence);
  EXPECT_EQ(a->stats().votes, b->stats().votes);
  EXPECT_EQ(a->stats().signatures, b->stats().signatures);

  // Removal through the log, and a batch for the removed peer is refused, not fatal.
  ASSERT_TRUE(apply(*a, 5, LoggedRemovePeer{"solo"}));
  auto after_remove = apply(*a, 6, batch_op("solo", pa->cursor, {}, event_time));
  ASSERT_TRUE(after_remove);
  ASSERT_TRUE(after_remove->refused);
  EXPECT_EQ(a->applied_sequence(), 6u);
  EXPECT_EQ(a->find_peer("solo").error().code, Errc::kNotFound);
}

TEST(StoreLogged, PeerEventsRefuseBadValuesAndConsumeTheSequence) {
  TempDir dir;
  auto a = open_site(dir.sub("a"), "fleet", kT0);
  auto bad_url =
      apply(*a, 1, LoggedAddPeer{PeerSpec{"solo", "ftp://x", "shared-secret", 1.0}, kT0});
  ASSERT_TRUE(bad_url);
  ASSERT_TRUE(bad_url->refused);
  EXPECT_EQ(bad_url->refused->code, Errc::kInvalidArgument);
  ASSERT_TRUE(apply(*a, 2, LoggedAddPeer{PeerSpec{"solo", "http://x", "shared-secret", 1.0}, kT0}));
  FeedEntry e;
  e.seq = 1;
  e.listed = true;
  e.sig = body(9);
  e.hop = kMaxHops + 1;
  e.version = 1;
  e.origin = "far";
  auto bad_entry = apply(*a, 3, batch_op("solo", 0, {e}, kT0));
  ASSERT_TRUE(bad_entry);
  ASSERT_TRUE(bad_entry->refused);
  EXPECT_EQ(bad_entry->refused->code, Errc::kInvalidArgument);
  EXPECT_EQ(a->find_peer("solo")->cursor, 0u);
  EXPECT_EQ(a->applied_sequence(), 3u);
  // Without federation.site the batch is refused, never applied.
  auto plain = open(dir.sub("plain"));
  ASSERT_TRUE(
      apply(*plain, 1, LoggedAddPeer{PeerSpec{"solo", "http://x", "shared-secret", 1.0}, kT0}));
  auto off = apply(*plain, 2, batch_op("solo", 0, {}, kT0));
  ASSERT_TRUE(off && off->refused);
  EXPECT_EQ(off->refused->code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace strop::storage
