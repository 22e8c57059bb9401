// Federation in the store (store_federation.cpp, docs/federation.md): sites in one process,
// each pulling its peers' feeds by hand (read_feed -> apply_peer_batch), as the node's puller
// does over HTTP.
#include <gtest/gtest.h>

#include <future>
#include <map>

#include "storage/store.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using testing::body;
using testing::TempDir;

constexpr TimePoint kT0{std::chrono::seconds(1'700'000'000)};

class Site {
 public:
  Site(const TempDir& tmp, const std::string& name) : name_(name) {
    StoreOptions o;
    o.dir = tmp.sub(name);
    o.clock = [] { return kT0; };
    o.initial_map_bytes = std::size_t{4} << 20;
    o.sweep_interval = std::chrono::hours(24 * 365);
    o.federation_site = name;
    auto s = Store::open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
    store_ = std::move(*s);
    ReporterSpec admin{"moderator", "secret-m", 1.0};
    moderator_ = store_->add_reporter(admin)->id;
  }
  Store& store() { return *store_; }
  const std::string& name() const { return name_; }
  ReporterId moderator() const { return moderator_; }

  void peer_with(Site& other, double trust) {
    PeerSpec p{other.name(), "http://127.0.0.1:1", "shared-secret", trust};
    auto r = store_->add_peer(p);
    ASSERT_TRUE(r) << r.error().to_string();
    peers_[other.name()] = r->reporter.id;
  }
  // Pulls everything new from other's feed; returns the outcome of the batch.
  PeerBatchOutcome pull(Site& other) {
    ReporterId pid = peers_.at(other.name());
    auto peer = store_->find_peer(other.name());
    EXPECT_TRUE(peer);
    auto page = other.store().read_feed(peer->cursor, 1000);
    EXPECT_TRUE(page);
    PeerBatch b;
    b.peer = pid;
    b.after = peer->cursor;
    b.cursor = page->entries.empty() ? peer->cursor : page->entries.back().seq;
    b.entries = page->entries;
    b.now = kT0;
    auto r = apply(std::move(b));
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : PeerBatchOutcome{};
  }
  Result<PeerBatchOutcome> apply(PeerBatch b) {
    std::promise<Result<PeerBatchOutcome>> p;
    auto f = p.get_future();
    store_->apply_peer_batch(std::move(b),
                             [&p](Result<PeerBatchOutcome> r) { p.set_value(std::move(r)); });
    return f.get();
  }
  int confidence(const sigs::Signature& sig) {
    std::vector<sigs::Signature> q{sig};
    auto r = store_->check(q);
    EXPECT_TRUE(r);
    return r ? r->confidence : -1;
  }
  // The feed's entries for sig (after compaction: at most one).
  std::vector<FeedEntry> served(const sigs::Signature& sig) {
    std::vector<FeedEntry> out;
    auto page = store_->read_feed(0, kMaxFeedBatch);
    EXPECT_TRUE(page);
    for (auto& e : page->entries)
      if (e.sig == sig) out.push_back(e);
    return out;
  }

 private:
  std::string name_;
  std::unique_ptr<Store> store_;
  ReporterId moderator_ = 0;
  std::map<std::string, ReporterId> peers_;
};

TEST(Federation, SiteNamesAreLowerCaseDnsLike) {
  EXPECT_TRUE(valid_site_name("mail.example-1.org"));
  EXPECT_FALSE(valid_site_name(""));
  EXPECT_FALSE(valid_site_name("Mail.example.org"));
  EXPECT_FALSE(valid_site_name("a b"));
  EXPECT_FALSE(valid_site_name(std::string(65, 'a')));
  EXPECT_EQ(hop_weight(1000, 0), 1000);
  EXPECT_EQ(hop_weight(1000, 3), 729);
  EXPECT_EQ(hop_weight(1000, kMaxHops + 1), 0);
}

TEST(Federation, OwnListingIsServedWithAVersionAndWithdrawnWithANewerOne) {
  TempDir tmp;
  Site a(tmp, "a.test");
  auto s = body(1);
  ASSERT_TRUE(a.store().report(a.moderator(), {s}).get());
  auto e = a.served(s);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].listed);
  EXPECT_EQ(e[0].origin, "a.test");
  EXPECT_EQ(e[0].hop, 0);
  EXPECT_EQ(e[0].confidence, 80);
  const std::uint64_t v1 = e[0].version;
  // A second report changes the confidence, not the served state: no new entry.
  auto r2 = a.store().add_reporter({"second", "s2", 1.0});
  ASSERT_TRUE(r2);
  ASSERT_TRUE(a.store().report(r2->id, {s}).get());
  EXPECT_EQ(a.served(s)[0].seq, e[0].seq);
  // Both withdraw: unlisted, at a newer version, and the listing's entry is compacted away.
  ASSERT_TRUE(a.store().revoke(a.moderator(), {s}).get());
  ASSERT_TRUE(a.store().revoke(r2->id, {s}).get());
  e = a.served(s);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].listed);
  EXPECT_GT(e[0].version, v1);
}

TEST(Federation, WithoutASiteNameNoFeedIsKeptAndBatchesAreRefused) {
  TempDir tmp;
  StoreOptions o;
  o.dir = tmp.sub("plain");
  o.sweep_interval = std::chrono::hours(24 * 365);
  auto st = Store::open(o);
  ASSERT_TRUE(st);
  auto rep = (*st)->add_reporter({"m", "s", 1.0});
  ASSERT_TRUE((*st)->report(rep->id, {body(1)}).get());
  EXPECT_TRUE((*st)->read_feed(0, 100)->entries.empty());
  std::promise<Result<PeerBatchOutcome>> p;
  (*st)->apply_peer_batch(PeerBatch{}, [&p](Result<PeerBatchOutcome> r) { p.set_value(r); });
  auto r = p.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST(Federation, AChainListsWithDecayAndAWithdrawalAtTheOriginUnlistsEverywhere) {
  TempDir tmp;
  Site a(tmp, "a.test"), b(tmp, "b.test"), c(tmp, "c.test");
  b.peer_with(a, 1.0);
  c.peer_with(b, 1.0);
  auto s = body(7);
  ASSERT_TRUE(a.store().report(a.moderator(), {s}).get());
  EXPECT_EQ(b.pull(a).applied, 1u);
  EXPECT_EQ(b.confidence(s), 80);  // a fully trusted peer's listing at hop 0
  auto eb = b.served(s);
  ASSERT_EQ(eb.size(), 1u);
  EXPECT_TRUE(eb[0].listed);
  EXPECT_EQ(eb[0].origin, "a.test");
  EXPECT_EQ(eb[0].hop, 1);
  EXPECT_EQ(c.pull(b).applied, 1u);
  EXPECT_EQ(c.confidence(s), 78);  // 900 / (900 + 250)
  EXPECT_EQ(c.served(s)[0].hop, 2);

  // The origin withdraws: a newer version travels down the chain.
  ASSERT_TRUE(a.store().revoke(a.moderator(), {s}).get());
  b.pull(a);
  EXPECT_EQ(b.confidence(s), 0);
  EXPECT_FALSE(b.served(s)[0].listed);
  EXPECT_EQ(b.served(s)[0].version, a.served(s)[0].version);
  c.pull(b);
  EXPECT_EQ(c.confidence(s), 0);
  EXPECT_FALSE(c.served(s)[0].listed);
}

TEST(Federation, ALowTrustPeerCannotListAloneAFullyTrustedOneCan) {
  TempDir tmp;
  Site a(tmp, "a.test"), b(tmp, "b.test"), c(tmp, "c.test");
  b.peer_with(a, 0.2);
  c.peer_with(a, 1.0);
  auto s = body(9);
  ASSERT_TRUE(a.store().report(a.moderator(), {s}).get());
  b.pull(a);
  c.pull(a);
  EXPECT_LT(b.confidence(s), 50);
  EXPECT_TRUE(b.served(s).empty());  // not listed at b: nothing to forward
  EXPECT_GE(c.confidence(s), 50);
}

TEST(Federation, ManyLowTrustPeersTogetherStayUnderTheThreshold) {
  TempDir tmp;
  Site x(tmp, "x.test");
  std::vector<std::unique_ptr<Site>> others;
  auto s = body(11);
  for (int i = 0; i < 6; ++i) {
    others.push_back(std::make_unique<Site>(tmp, "p" + std::to_string(i) + ".test"));
    ASSERT_TRUE(others.back()->store().report(others.back()->moderator(), {s}).get());
    x.peer_with(*others.back(), 0.45);
  }
  for (auto& o : others) x.pull(*o);
  EXPECT_EQ(x.confidence(s), reputation::kMaxLowTrustConfidence);  // the sybil bound: 44
}

TEST(Federation, ARingDoesNotEchoAndOwnListingsComingBackAreIgnored) {
  TempDir tmp;
  Site a(tmp, "a.test"), b(tmp, "b.test"), c(tmp, "c.test");
  // a -> b -> c -> a (each pulls from the previous one) and back the other way.
  a.peer_with(c, 1.0);
  b.peer_with(a, 1.0);
  c.peer_with(b, 1.0);
  auto s = body(13);
  ASSERT_TRUE(a.store().report(a.moderator(), {s}).get());
  b.pull(a);
  c.pull(b);
  auto back = a.pull(c);
  EXPECT_EQ(back.own, 1u);
  EXPECT_EQ(back.applied, 0u);
  const auto head = [](Site& x) { return x.store().read_feed(0, 0)->head; };
  const std::uint64_t ha = head(a), hb = head(b), hc = head(c);
  for (int round = 0; round < 3; ++round) {  // nothing new to say: feeds stand still
    b.pull(a);
    c.pull(b);
    a.pull(c);
  }
  EXPECT_EQ(head(a), ha);
  EXPECT_EQ(head(b), hb);
  EXPECT_EQ(head(c), hc);
  // The withdrawal goes round once and stops.
  ASSERT_TRUE(a.store().revoke(a.moderator(), {s}).get());
  b.pull(a);
  c.pull(b);
  a.pull(c);
  for (Site* x : {&a, &b, &c}) EXPECT_EQ(x->confidence(s), 0) << x->name();
  const std::uint64_t ha2 = head(a), hb2 = head(b), hc2 = head(c);
  b.pull(a);
  c.pull(b);
  a.pull(c);
  EXPECT_EQ(head(a), ha2);
  EXPECT_EQ(head(b), hb2);
  EXPECT_EQ(head(c), hc2);
}

TEST(Federation, ALocalTrustedRevokeOutweighsAPeerAndStopsForwarding) {
  TempDir tmp;
  Site a(tmp, "a.test"), b(tmp, "b.test"), c(tmp, "c.test");
  b.peer_with(a, 1.0);
  c.peer_with(b, 1.0);
  auto s = body(15);
  ASSERT_TRUE(a.store().report(a.moderator(), {s}).get());
  b.pull(a);
  c.pull(b);
  ASSERT_GE(c.confidence(s), 50);
  ASSERT_TRUE(b.store().revoke(b.moderator(), {s}).get());
  EXPECT_EQ(b.confidence(s), 0);
  ASSERT_FALSE(b.served(s)[0].listed);
  c.pull(b);
  EXPECT_EQ(c.confidence(s), 0);
  // Peers judge nobody: the local revoker was not penalised by the peer's listing.
  EXPECT_EQ(b.store().find_reporter(b.moderator())->contradicted, 0u);
}

TEST(Federation, ABatchAppliesOnlyAtTheStoredCursorAndNotForADisabledPeer) {
  TempDir tmp;
  Site a(tmp, "a.test"), b(tmp, "b.test");
  b.peer_with(a, 1.0);
  ASSERT_TRUE(a.store().report(a.moderator(), {body(1), body(2)}).get());
  auto page = a.store().read_feed(0, 100);
  ASSERT_EQ(page->entries.size(), 2u);
  auto peer = b.store().find_peer("a.test");
  PeerBatch batch{peer->reporter.id, 0, page->entries.back().seq, page->entries, kT0};
  ASSERT_TRUE(b.apply(batch));
  EXPECT_EQ(b.store().find_peer("a.test")->cursor, page->entries.back().seq);
  auto again = b.apply(batch);  // the same batch twice: refused, nothing applied twice
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kExists);
  ASSERT_TRUE(b.store().set_disabled("a.test", true));
  batch.after = batch.cursor;
  auto off = b.apply(batch);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, Errc::kForbidden);
  EXPECT_LT(b.confidence(body(1)), 50);  // a disabled peer's votes weigh nothing
}

TEST(Federation, PeersPersistAndARemovedPeerNoLongerCounts) {
  TempDir tmp;
  Site a(tmp, "a.test"), b(tmp, "b.test");
  b.peer_with(a, 1.0);
  ASSERT_TRUE(a.store().report(a.moderator(), {body(3)}).get());
  b.pull(a);
  auto list = b.store().list_peers();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].reporter.name, "a.test");
  EXPECT_TRUE((*list)[0].reporter.peer);
  EXPECT_EQ((*list)[0].url, "http://127.0.0.1:1");
  EXPECT_GT((*list)[0].cursor, 0u);
  EXPECT_EQ(b.store().add_peer({"a.test", "http://x", "s", 1.0}).error().code, Errc::kExists);
  EXPECT_EQ(b.store().add_peer({"Bad Name", "http://x", "s", 1.0}).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(b.store().add_peer({"c.test", "ftp://x", "s", 1.0}).error().code,
            Errc::kInvalidArgument);
  ASSERT_TRUE(b.store().remove_peer("a.test"));
  EXPECT_TRUE(b.store().list_peers()->empty());
  EXPECT_LT(b.confidence(body(3)), 50);
  EXPECT_EQ(b.store().remove_peer("a.test").error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace strop::storage
