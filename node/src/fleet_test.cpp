// The fleet core over an in-memory log and real stores (fleet.hpp): no NATS, no sockets.
#include "node/fleet.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <map>

#include "node/federation.hpp"
#include "node/signature_service.hpp"

namespace strop::node {
namespace {

constexpr std::int64_t kNow = 1'764'900'000;

// An in-memory log: publish assigns the next sequence and delivers the event to every
// subscribed fleet, in order, on the publishing thread. Like JetStream (Nats-Msg-Id), a
// publish under an id already stored is a duplicate: acknowledged with the earlier event's
// sequence, neither stored nor delivered again.
class MemoryLog : public FleetLog {
 public:
  bool up = true;
  bool ack = true;  // false: publishes are never acknowledged (nor stored)
  std::vector<Fleet*> consumers;
  std::vector<std::string> events;
  std::map<std::string, std::uint64_t> ids;

  bool connected() const override { return up; }
  void publish(std::string bytes, std::string msg_id, PublishDone done) override {
    if (!ack) {
      held.push_back(std::move(done));
      return;
    }
    if (auto it = ids.find(msg_id); it != ids.end()) {
      done(it->second);
      return;
    }
    events.push_back(bytes);
    ids.emplace(std::move(msg_id), events.size());
    const std::uint64_t seq = events.size();
    for (auto* f : consumers) f->on_event(seq, bytes);
    done(seq);
  }
  std::vector<PublishDone> held;

  // The leader's copy (events), or nothing while the log is down.
  Result<std::string> fetch(std::uint64_t seq) override {
    if (!up) return make_error(Errc::kUnavailable, "down");
    if (seq == 0 || seq > events.size()) return make_error(Errc::kNotFound, "no such event");
    return events[seq - 1];
  }
};

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "strop-fleet-XXXXXX").string();
    if (mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string sub(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

std::unique_ptr<storage::Store> open_store(const std::string& dir, const std::string& site = "") {
  storage::StoreOptions o;
  o.dir = dir;
  o.federation_site = site;
  o.initial_map_bytes = std::size_t{4} << 20;
  o.clock = [] { return storage::TimePoint{std::chrono::seconds{kNow}}; };
  auto s = storage::Store::open(o);
  EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

sigs::Signature body(int n) {
  char v[33];
  std::snprintf(v, sizeof v, "%032x", n);
  return sigs::Signature{sigs::Engine::kBody, v};
}

protocol::FleetAddReporter admin_reporter() {
  protocol::FleetAddReporter a;
  a.name = "postmaster";
  a.secret = "secret";
  a.trust = 1.0;
  return a;
}

protocol::FleetVote report(std::vector<sigs::Signature> sigs, bool revoke = false) {
  protocol::FleetVote v;
  v.reporter = "postmaster";
  v.revoke = revoke;
  v.sigs = std::move(sigs);
  return v;
}

struct Node {
  explicit Node(const std::string& dir, const std::string& id, MemoryLog& log,
                std::function<std::int64_t()> clock = {}, const std::string& site = "")
      : store(open_store(dir, site)),
        fleet(*store, FleetOptions{id, std::chrono::milliseconds(1000)}, std::move(clock)) {
    fleet.attach(&log);
    log.consumers.push_back(&fleet);
  }
  std::unique_ptr<storage::Store> store;
  Fleet fleet;
};

TEST(Fleet, AWriteAtOneNodeIsAppliedAtEveryNodeBeforeItsAcknowledgement) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log), b(dir.sub("b"), "b", log);
  auto r = a.fleet.submit_and_wait(admin_reporter(), kNow);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_TRUE(r->reporter);
  auto v = a.fleet.submit_and_wait(report({body(1), body(2)}), kNow);
  ASSERT_TRUE(v) << v.error().to_string();
  ASSERT_EQ(v->votes.effects.size(), 2u);
  // Read-your-writes at a; b was fed the same log.
  EXPECT_TRUE(a.store->check(std::vector<sigs::Signature>{body(1)})->spam);
  ASSERT_TRUE(b.store->flush());
  EXPECT_TRUE(b.store->check(std::vector<sigs::Signature>{body(1)})->spam);
  EXPECT_EQ(a.store->applied_sequence(), 2u);
  EXPECT_EQ(b.store->applied_sequence(), 2u);
  // A revoke at b unlists at a.
  ASSERT_TRUE(b.fleet.submit_and_wait(report({body(1)}, true), kNow));
  ASSERT_TRUE(a.store->flush());
  EXPECT_FALSE(a.store->check(std::vector<sigs::Signature>{body(1)})->spam);
  EXPECT_EQ(a.store->stats().signatures, b.store->stats().signatures);
}

TEST(Fleet, RefusalsComeBackAsRefusedOutcomes) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log);
  auto v = a.fleet.submit_and_wait(report({body(1)}), kNow);  // no such reporter yet
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->refused);
  EXPECT_EQ(v->refused->code, Errc::kNotFound);
  EXPECT_EQ(a.store->applied_sequence(), 1u);
}

TEST(Fleet, WritesFailFastWhileTheLogIsUnreachable) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log);
  log.up = false;
  auto r = a.fleet.submit_and_wait(admin_reporter(), kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_TRUE(log.events.empty());
  log.up = true;
  EXPECT_TRUE(a.fleet.submit_and_wait(admin_reporter(), kNow));
}

TEST(Fleet, AWriteNotAcknowledgedInTimeFails) {
  TempDir dir;
  MemoryLog log;
  std::atomic<std::int64_t> mono{0};
  Node a(dir.sub("a"), "a", log, [&mono] { return mono.load(); });
  log.ack = false;
  std::promise<Result<storage::LoggedOutcome>> p;
  a.fleet.submit(admin_reporter(), kNow,
                 [&p](Result<storage::LoggedOutcome> r) { p.set_value(std::move(r)); });
  EXPECT_EQ(a.fleet.pending(), 1u);
  a.fleet.expire_pending();
  EXPECT_EQ(a.fleet.pending(), 1u);  // not due yet
  mono = std::int64_t{2'000'000'000};
  a.fleet.expire_pending();
  auto r = p.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  // A late acknowledgement of the expired write changes nothing.
  for (auto& d : log.held) d(std::uint64_t{1});
  EXPECT_EQ(a.fleet.pending(), 0u);
}

TEST(Fleet, RedeliveredAndMalformedEventsKeepNodesAtTheSamePosition) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log);
  ASSERT_TRUE(a.fleet.submit_and_wait(admin_reporter(), kNow));
  // A redelivery of event 1 and a malformed event 2.
  a.fleet.on_event(1, log.events[0]);
  a.fleet.on_event(2, "SF\x01\x0bgarbage");
  ASSERT_TRUE(a.store->flush());
  EXPECT_EQ(a.store->applied_sequence(), 2u);
  EXPECT_EQ(a.fleet.metrics().malformed.value(), 1u);
  EXPECT_EQ(a.fleet.next_sequence(), 3u);
  // A newer event version stops the node from applying further.
  a.fleet.on_event(3, std::string("SF\x04\x01", 4));
  a.fleet.on_event(4, log.events[0]);
  ASSERT_TRUE(a.store->flush());
  EXPECT_EQ(a.store->applied_sequence(), 2u);
}

TEST(Fleet, VerifyFindsAnAppliedEventThatDiffersFromTheStreamLeaders) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log);
  // c consumes a replica of its own, fed below: the log's events, but a different event 3.
  Node c(dir.sub("c"), "c", log);
  log.consumers.pop_back();
  ASSERT_TRUE(a.fleet.submit_and_wait(admin_reporter(), kNow));
  ASSERT_TRUE(a.fleet.submit_and_wait(report({body(1)}), kNow));
  ASSERT_TRUE(a.fleet.submit_and_wait(report({body(2)}), kNow));
  ASSERT_TRUE(a.fleet.submit_and_wait(report({body(3)}), kNow));
  ASSERT_EQ(log.events.size(), 4u);
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    c.fleet.on_event(seq, seq == 3 ? log.events[1] : log.events[seq - 1]);
  }
  ASSERT_TRUE(c.store->flush());
  EXPECT_EQ(c.store->applied_sequence(), 4u);  // nothing in the events themselves shows it

  // While the leader cannot be asked, nothing is checked and nothing is dropped.
  log.up = false;
  EXPECT_EQ(c.fleet.verify(100), 0u);
  log.up = true;
  // A node that applied the leader's events finds them identical.
  EXPECT_EQ(a.fleet.verify(100), 4u);
  EXPECT_EQ(a.fleet.metrics().verified.value(), 4u);
  EXPECT_EQ(a.fleet.metrics().divergences.value(), 0u);
  EXPECT_FALSE(a.fleet.diverged());
  // c: at most `max` per call, oldest first; event 3 differs.
  EXPECT_EQ(c.fleet.verify(2), 2u);
  EXPECT_FALSE(c.fleet.diverged());
  EXPECT_EQ(c.fleet.verify(100), 2u);
  EXPECT_TRUE(c.fleet.diverged());
  EXPECT_EQ(c.fleet.metrics().verified.value(), 3u);
  EXPECT_EQ(c.fleet.metrics().divergences.value(), 1u);
  EXPECT_EQ(c.fleet.verify(100), 0u);
  EXPECT_NE(render_fleet_metrics(c.fleet.metrics(), 4).find("strop_fleet_divergence_total 1"),
            std::string::npos);
}

TEST(Fleet, VerifyDropsTheOldestWhenItFallsBehind) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log);
  log.consumers.pop_back();
  for (std::uint64_t seq = 1; seq <= kMaxUnverifiedEvents + 10; ++seq) {
    a.fleet.on_event(seq, "SF\x01\x0bgarbage");  // malformed: applied as no-ops, remembered
  }
  ASSERT_TRUE(a.store->flush());
  EXPECT_EQ(a.fleet.metrics().unverified.value(), 10u);
  // Not in the (empty) stream: nothing to compare, counted as unverified.
  EXPECT_EQ(a.fleet.verify(5), 5u);
  EXPECT_EQ(a.fleet.metrics().unverified.value(), 15u);
  EXPECT_FALSE(a.fleet.diverged());
}

// A node restarted with the same id (cluster.node_id) numbers its requests anew; the numbers
// must not repeat an earlier incarnation's, or the log takes a new write for a duplicate of an
// old one (acknowledged, never stored) and the node takes its old events for its new writes.
TEST(Fleet, ARestartedNodeWithTheSameIdDoesNotReuseRequestIds) {
  TempDir dir;
  MemoryLog log;
  auto store = open_store(dir.sub("a"));
  ASSERT_TRUE(store);
  {
    Fleet first(*store, FleetOptions{"a", std::chrono::milliseconds(1000)});
    first.attach(&log);
    log.consumers.push_back(&first);
    ASSERT_TRUE(first.submit_and_wait(admin_reporter(), kNow));
    ASSERT_TRUE(first.submit_and_wait(report({body(1)}), kNow));
    log.consumers.clear();
  }
  std::promise<Result<storage::LoggedOutcome>> p;
  auto got = p.get_future();
  Fleet second(*store, FleetOptions{"a", std::chrono::milliseconds(1000)});
  second.attach(&log);
  log.consumers.push_back(&second);
  second.submit(report({body(2)}), kNow,
                [&p](Result<storage::LoggedOutcome> r) { p.set_value(std::move(r)); });
  EXPECT_EQ(log.events.size(), 3u);  // stored, not taken for a duplicate of event 1
  ASSERT_EQ(got.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = got.get();
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->votes.effects.size(), 1u);
  EXPECT_EQ(store->applied_sequence(), 3u);
  EXPECT_TRUE(store->check(std::vector<sigs::Signature>{body(2)})->spam);
}

// The service's reporter administration goes through the log in fleet mode: a set-trust and a
// disable at a are applied at b too; while the log is down they fail with the retryable error.
TEST(Fleet, ReporterTrustAndDisableThroughTheServiceReachEveryNode) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log), b(dir.sub("b"), "b", log);
  ASSERT_TRUE(a.fleet.submit_and_wait(admin_reporter(), kNow));
  NodeMetrics metrics;
  SignatureService service(Config{}, *a.store, metrics, Clocks{[] { return kNow; }, {}});
  service.set_fleet(&a.fleet);

  auto t = service.set_reporter_trust("postmaster", 0.25);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_NEAR(t->base_trust, 0.25, 0.01);
  ASSERT_TRUE(b.store->flush());
  EXPECT_NEAR(b.store->find_reporter("postmaster")->base_trust, 0.25, 0.01);
  auto d = service.set_reporter_disabled("postmaster", true);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->disabled);
  ASSERT_TRUE(b.store->flush());
  EXPECT_TRUE(b.store->find_reporter("postmaster")->disabled);
  EXPECT_EQ(a.store->applied_sequence(), 3u);
  EXPECT_EQ(b.store->applied_sequence(), 3u);

  // An unknown reporter is refused where the log is applied; a bad trust before publishing.
  auto unknown = service.set_reporter_disabled("nobody", true);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ServiceErrc::kUnknownReporter);
  const auto events = log.events.size();
  EXPECT_EQ(service.set_reporter_trust("postmaster", 1.5).error().code, ServiceErrc::kInvalid);
  EXPECT_EQ(log.events.size(), events);

  log.up = false;
  auto down = service.set_reporter_disabled("postmaster", false);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ServiceErrc::kOverloaded);
  EXPECT_GT(down.error().retry_after, 0);
  ASSERT_TRUE(b.store->flush());
  EXPECT_TRUE(b.store->find_reporter("postmaster")->disabled);
  log.up = true;
  auto enabled = service.set_reporter_disabled("postmaster", false);
  ASSERT_TRUE(enabled) << enabled.error().message;
  EXPECT_FALSE(enabled->disabled);
  ASSERT_TRUE(b.store->flush());
  EXPECT_FALSE(b.store->find_reporter("postmaster")->disabled);
}

TEST(Fleet, LoggedWriteCarriesTheAcceptanceTime) {
  protocol::FleetEvent e;
  e.origin = "a";
  e.request = 1;
  e.time = 1'700'000'123;
  protocol::FleetVote v = report({body(1)});
  v.replay = protocol::FleetVote::Replay{"n", 1'700'000'400};
  e.write = v;
  auto w = logged_write(7, e);
  EXPECT_EQ(w.seq, 7u);
  const auto& lv = std::get<storage::LoggedVote>(w.op);
  EXPECT_EQ(lv.reporter, "postmaster");
  EXPECT_EQ(lv.request.now.time_since_epoch().count(), 1'700'000'123);
  ASSERT_TRUE(lv.request.replay);
  EXPECT_EQ(lv.request.replay->expires.time_since_epoch().count(), 1'700'000'400);
}

TEST(Fleet, MembersAreListedFromTheirBeatsWithLagAndForgottenWhenSilent) {
  TempDir dir;
  MemoryLog log;
  std::atomic<std::int64_t> mono{1'000'000'000};
  Node a(dir.sub("a"), "a", log, [&mono] { return mono.load(); });
  EXPECT_TRUE(a.fleet.members().empty());
  a.fleet.on_beat(a.fleet.beat());  // its own beat comes back from the cluster too
  a.fleet.on_beat(*protocol::encode_fleet_beat({"b", 90, 100}));
  a.fleet.on_beat(*protocol::encode_fleet_beat({"c", 100, 100}));
  a.fleet.on_beat("not a beat");  // ignored
  auto m = a.fleet.members();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].id, "a");
  EXPECT_TRUE(m[0].self);
  EXPECT_EQ(m[0].lag, 100u);  // applied nothing of the 100 the others saw
  EXPECT_EQ(m[1].id, "b");
  EXPECT_EQ(m[1].applied, 90u);
  EXPECT_EQ(m[1].lag, 10u);
  EXPECT_EQ(m[2].lag, 0u);
  const std::string metrics = a.fleet.render_member_metrics();
  EXPECT_NE(metrics.find("strop_fleet_member_lag_events{member=\"b\"} 10\n"), std::string::npos)
      << metrics;
  // Silent for longer than kFleetMemberTtl: forgotten; a later beat lists it again.
  mono += std::chrono::nanoseconds(kFleetMemberTtl).count() / 2;
  a.fleet.on_beat(*protocol::encode_fleet_beat({"c", 100, 100}));
  mono += std::chrono::nanoseconds(kFleetMemberTtl).count() / 2 + 1;
  m = a.fleet.members();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].id, "c");
  EXPECT_NEAR(m[0].age_seconds, 15.0, 0.01);
}

TEST(Fleet, TheMemberTableIsBounded) {
  TempDir dir;
  MemoryLog log;
  std::atomic<std::int64_t> mono{1};
  Node a(dir.sub("a"), "a", log, [&mono] { return mono.load(); });
  for (std::size_t i = 0; i < kMaxFleetMembers + 10; ++i) {
    ++mono;
    a.fleet.on_beat(*protocol::encode_fleet_beat({"m" + std::to_string(i), i, i}));
  }
  auto m = a.fleet.members();
  EXPECT_EQ(m.size(), kMaxFleetMembers);
  // The ones heard longest ago made room.
  EXPECT_TRUE(std::none_of(m.begin(), m.end(), [](const auto& x) { return x.id == "m0"; }));
}

// Federation in a fleet (docs/federation.md "In a fleet"): peer administration through the
// service and pulled batches through the log reach every member; a batch pulled twice (a
// hand-over) is applied once.
TEST(Fleet, PeersAndPeerBatchesGoThroughTheLogAndApplyOnceEverywhere) {
  TempDir dir;
  MemoryLog log;
  Node a(dir.sub("a"), "a", log, {}, "fleet"), b(dir.sub("b"), "b", log, {}, "fleet");
  NodeMetrics metrics;
  SignatureService service(Config{}, *a.store, metrics, Clocks{[] { return kNow; }, {}});
  service.set_fleet(&a.fleet);

  auto added = service.add_peer({"solo", "http://127.0.0.1:1", "0123456789abcdef", 1.0});
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->reporter.name, "solo");
  ASSERT_TRUE(b.store->flush());
  auto at_b = b.store->find_peer("solo");
  ASSERT_TRUE(at_b);
  EXPECT_EQ(at_b->url, "http://127.0.0.1:1");
  EXPECT_EQ(at_b->reporter.created, added->reporter.created);  // the event's time
  auto taken = service.add_peer({"solo", "http://127.0.0.1:2", "0123456789abcdef", 1.0});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ServiceErrc::kNameTaken);
  EXPECT_EQ(service.add_peer({"Bad Name", "http://x", "0123456789abcdef", 1.0}).error().code,
            ServiceErrc::kInvalid);

  // A batch as the elected member's puller publishes it; then the same pull again, as a
  // second member believing itself elected during a hand-over would publish it.
  protocol::FleetPeerBatch batch;
  batch.peer = "solo";
  batch.after = 0;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    protocol::FeedWireEntry e;
    e.seq = i * 2;
    e.listed = true;
    e.sig = body(static_cast<int>(i));
    e.version = i;
    e.origin = "solo";
    batch.entries.push_back(e);
  }
  batch.cursor = 6;
  auto first = a.fleet.submit_and_wait(batch, kNow);
  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_FALSE(first->refused) << first->refused->to_string();
  EXPECT_EQ(first->batch.applied, 3u);
  auto again = b.fleet.submit_and_wait(batch, kNow + 1);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->stale_batch);
  ASSERT_TRUE(a.store->flush());
  ASSERT_TRUE(b.store->flush());
  for (auto* n : {&a, &b}) {
    auto p = n->store->find_peer("solo");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->cursor, 6u);
    EXPECT_EQ(p->applied, 3u);  // not 6: the second copy was skipped
    EXPECT_EQ(n->fleet.metrics().peer_batches_skipped.value(), 1);
    EXPECT_TRUE(n->store->check(std::vector<sigs::Signature>{body(2)})->spam);
  }
  EXPECT_EQ(a.store->read_feed(0, 100)->entries, b.store->read_feed(0, 100)->entries);

  // Trust is the reporter write (kSetTrust), removal its own event; both reach b.
  ASSERT_TRUE(service.set_reporter_trust("solo", 0.2));
  ASSERT_TRUE(service.remove_peer("solo"));
  EXPECT_EQ(service.remove_peer("solo").error().code, ServiceErrc::kUnknownReporter);
  ASSERT_TRUE(b.store->flush());
  EXPECT_EQ(b.store->find_peer("solo").error().code, Errc::kNotFound);
  ASSERT_TRUE(service.list_peers());
  EXPECT_TRUE(service.list_peers()->empty());

  log.up = false;
  auto down = service.add_peer({"other", "http://127.0.0.1:3", "0123456789abcdef", 0.3});
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ServiceErrc::kOverloaded);
}

// Activity and expiry in a fleet (docs/fleet.md "Activity and expiry"): a check's hit at one
// member and the sweep's steps go through the log, so signatures expire alike on every member
// even when the members' clocks disagree by an hour.
TEST(Fleet, HitsAndExpiryGoThroughTheLogSoEveryMemberExpiresTheSameSignatures) {
  constexpr std::int64_t kDay = 86400;
  TempDir dir;
  MemoryLog log;
  std::atomic<std::int64_t> clock_a{kNow}, mono{1};
  auto open = [](const std::string& d, std::atomic<std::int64_t>* t, std::int64_t skew) {
    storage::StoreOptions o;
    o.dir = d;
    o.initial_map_bytes = std::size_t{4} << 20;
    o.replicated_activity = true;
    o.expire_after = std::chrono::seconds(10 * kDay);
    o.hit_resolution = std::chrono::seconds(0);
    o.clock = [t, skew] { return storage::TimePoint{std::chrono::seconds{t->load() + skew}}; };
    auto s = storage::Store::open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
    return std::move(*s);
  };
  FleetOptions fo{"a", std::chrono::milliseconds(1000)};
  fo.expire_after = std::chrono::seconds(10 * kDay);
  fo.sweep_interval = std::chrono::seconds(600);
  fo.sweep_batch = 1;  // one signature per step: the sweep continues step by step
  auto a_store = open(dir.sub("a"), &clock_a, 0);
  auto b_store = open(dir.sub("b"), &clock_a, 3600);  // b's clock is an hour ahead
  auto mono_ns = [&mono] { return mono.load(); };
  Fleet a(*a_store, fo, mono_ns);
  fo.origin = "b";
  Fleet b(*b_store, fo, mono_ns);
  for (Fleet* f : {&a, &b}) {
    f->attach(&log);
    log.consumers.push_back(f);
  }
  auto flush = [&] {
    ASSERT_TRUE(a_store->flush());
    ASSERT_TRUE(b_store->flush());
  };
  ASSERT_TRUE(a.submit_and_wait(admin_reporter(), kNow));
  ASSERT_TRUE(a.submit_and_wait(report({body(1), body(2), body(3)}), kNow));
  // Expiry is refused locally: it goes through the log.
  EXPECT_EQ(a_store->expire(a_store->now()).error().code, Errc::kUnavailable);

  // Day 5: a check at b hits body(1). The hit is written nowhere until b publishes it.
  clock_a = kNow + 5 * kDay;
  flush();  // b has applied the report too
  EXPECT_TRUE(b_store->check(std::vector<sigs::Signature>{body(1)})->spam);
  b.tick();  // publishes the touch at b's time
  flush();
  EXPECT_EQ(b.metrics().touch_events.value(), 1);
  auto hit_a = a_store->signature_info(std::vector<sigs::Signature>{body(1)});
  auto hit_b = b_store->signature_info(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(hit_a && hit_b);
  const storage::TimePoint day5_at_b{std::chrono::seconds{kNow + 5 * kDay + 3600}};
  EXPECT_EQ((*hit_a)[0].last_seen, day5_at_b);  // b's time, applied at a too
  EXPECT_EQ((*hit_b)[0].last_seen, day5_at_b);
  b.tick();  // nothing new hit: no event
  flush();
  EXPECT_EQ(b.metrics().touch_events.value(), 1);

  // Day 12: body(2) and body(3) are due (last active on day 0), body(1) is not (day 5). Each
  // member hears the other's beats, so only "a", the lower id, sweeps.
  clock_a = kNow + 12 * kDay;
  a.on_beat(b.beat());
  b.on_beat(a.beat());
  a.on_beat(a.beat());
  b.on_beat(b.beat());
  mono = std::int64_t{1} + std::chrono::nanoseconds(std::chrono::seconds(1)).count();
  a.tick();  // first tick: the sweep starts one interval later
  b.tick();
  flush();
  EXPECT_EQ(a.metrics().expire_steps.value(), 0);
  mono = mono.load() + std::chrono::nanoseconds(std::chrono::seconds(601)).count();
  a.on_beat(b.beat());
  b.on_beat(a.beat());
  for (int i = 0; i < 5; ++i) {
    a.tick();
    b.tick();
    flush();
  }
  // Steps of one: body(2) (more due), then body(3) (nothing more due: the run ends).
  EXPECT_EQ(a.metrics().expire_steps.value(), 2);
  EXPECT_EQ(b.metrics().expire_steps.value(), 0);
  for (auto* s : {a_store.get(), b_store.get()}) {
    EXPECT_EQ(s->stats().signatures, 1u);
    EXPECT_EQ(s->stats().expired, 2u);
    auto info = s->signature_info(std::vector<sigs::Signature>{body(1), body(2), body(3)});
    ASSERT_TRUE(info);
    EXPECT_TRUE((*info)[0].stored);
    EXPECT_FALSE((*info)[1].stored);
    EXPECT_FALSE((*info)[2].stored);
  }
  EXPECT_EQ(a_store->applied_sequence(), b_store->applied_sequence());
  EXPECT_EQ(a_store->read_feed(0, 100)->entries, b_store->read_feed(0, 100)->entries);

  // While the log is unreachable, hits wait in the store and no step is published.
  log.up = false;
  auto checked = a_store->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(checked);
  EXPECT_TRUE(checked->spam);
  a.tick();
  EXPECT_EQ(a.metrics().touch_events.value(), 0);
  log.up = true;
  mono = mono.load() + std::chrono::nanoseconds(std::chrono::seconds(2)).count();
  a.tick();
  flush();
  EXPECT_EQ(a.metrics().touch_events.value(), 1);
  a.fail_pending("test end");
  b.fail_pending("test end");
}

FleetMemberStatus member(const std::string& id, double age, bool self = false) {
  FleetMemberStatus m;
  m.id = id;
  m.age_seconds = age;
  m.self = self;
  return m;
}

TEST(FleetPullerElection, TheLiveMemberWithTheLowestIdPulls) {
  // Alone, or hearing no one (NATS down): pull.
  EXPECT_TRUE(fleet_member_elected("b", {}));
  EXPECT_TRUE(fleet_member_elected("b", {member("b", 0.5, true)}));
  // A live lower id pulls; a higher one does not stop this member.
  EXPECT_FALSE(fleet_member_elected("b", {member("a", 1.0), member("b", 0.1, true)}));
  EXPECT_TRUE(fleet_member_elected("a", {member("a", 0.1, true), member("b", 0.2)}));
  EXPECT_TRUE(fleet_member_elected("b", {member("c", 0.2), member("b", 0.1, true)}));
  // The lower one's beats stopped (older than the timeout): this member takes over.
  EXPECT_TRUE(fleet_member_elected("b", {member("a", 3.5), member("b", 0.1, true)}));
  EXPECT_FALSE(fleet_member_elected("b", {member("a", 2.9), member("b", 0.1, true)}));
  EXPECT_TRUE(fleet_member_elected("b", {member("a", 1.5)}, std::chrono::milliseconds(1000)));
  // This member's own entry never counts against it, whatever its age.
  EXPECT_TRUE(fleet_member_elected("b", {member("b", 99.0, true), member("c", 0.1)}));
  // Byte order of the ids.
  EXPECT_FALSE(fleet_member_elected("node-b", {member("node-a", 0.0)}));
  EXPECT_FALSE(fleet_member_elected("node-10", {member("node-1", 0.0)}));
}

TEST(FleetPullerElection, FollowsTheBeatsOfAFleet) {
  TempDir dir;
  MemoryLog log;
  std::atomic<std::int64_t> mono{1'000'000'000};
  Node b(dir.sub("b"), "b", log, [&mono] { return mono.load(); });
  b.fleet.on_beat(b.fleet.beat());
  EXPECT_TRUE(fleet_member_elected("b", b.fleet.members()));
  b.fleet.on_beat(*protocol::encode_fleet_beat({"a", 0, 0}));
  EXPECT_FALSE(fleet_member_elected("b", b.fleet.members()));
  mono += 4'000'000'000;  // a's beats stop; b's own go on
  b.fleet.on_beat(b.fleet.beat());
  EXPECT_TRUE(fleet_member_elected("b", b.fleet.members()));
  b.fleet.on_beat(*protocol::encode_fleet_beat({"a", 0, 0}));  // a is back
  EXPECT_FALSE(fleet_member_elected("b", b.fleet.members()));
}

}  // namespace
}  // namespace strop::node
