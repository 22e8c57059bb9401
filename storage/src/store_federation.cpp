// store_federation.cpp: federation in the store (docs/federation.md): peers (reporter records
// marked as peers, plus their cursor), this site's feed of listing changes, kept by the writer
// in the same transactions that change listings, and batches pulled from peers' feeds, which
// become the peers' votes. See store_impl.hpp for the structure.

#include <algorithm>
#include <limits>

#include "base/ascii.hpp"
#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

using codec::SigId;
using reputation::Trust;

bool valid_site_name(std::string_view name) { return is_lower_host_name(name, kMaxSiteName); }

namespace {

bool valid_peer_url(std::string_view url) {
  if (url.size() > kMaxPeerUrl) return false;
  if (!url.starts_with("http://") && !url.starts_with("https://")) return false;
  return std::all_of(url.begin(), url.end(),
                     [](char ch) { return ch > ' ' && ch < 0x7f; });  // no spaces, no controls
}

// The state this site serves for one signature: its latest feed record.
struct Served {
  bool present = false;
  std::uint64_t seq = 0;
  codec::FeedRecord rec;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Peers

Result<Peer> StoreImpl::read_peer(lmdb::Txn& txn, ReporterId id) {
  auto r = read_reporter(txn, id);
  if (!r) return r.error();
  if (!r->peer) return make_error(Errc::kNotFound, "'" + r->name + "' is a reporter, not a peer");
  std::string_view v;
  int rc = txn.get(dbi_.peers, codec::sv(codec::reporter_key(id)), &v);
  if (rc == MDB_NOTFOUND) return make_error(Errc::kNotFound, "no such peer");
  if (rc != 0) return lmdb::to_error(rc, "read peer");
  auto p = codec::decode_peer(v);
  if (!p) return make_error(Errc::kIo, "corrupt peer record");
  Peer out;
  out.reporter = std::move(*r);
  out.url = p->url;
  out.cursor = p->cursor;
  out.last_success = from_u64(p->last_success);
  out.applied = p->applied;
  return out;
}

Result<void> StoreImpl::check_peer_spec(const PeerSpec& spec) const {
  if (!valid_site_name(spec.name)) {
    return make_error(Errc::kInvalidArgument, "peer name must be 1-64 characters of [a-z0-9.-]");
  }
  if (!valid_peer_url(spec.url)) {
    return make_error(Errc::kInvalidArgument,
                      "peer url must be http:// or https://, at most 512 bytes, no spaces");
  }
  ReporterSpec rs;
  rs.name = spec.name;
  rs.secret = spec.secret;
  rs.trust = spec.trust;
  rs.pinned = true;
  return check_reporter_spec(rs);
}

int StoreImpl::apply_add_peer(WriteCtx& c, const PeerSpec& spec, std::uint64_t created,
                              Result<Peer>* out) {
  ReporterSpec rs;
  rs.name = spec.name;
  rs.secret = spec.secret;
  rs.trust = spec.trust;
  rs.pinned = true;
  Result<Reporter> r = make_error(Errc::kInternal, "not added");
  int rc = apply_add_reporter(c, rs, created, &r);
  if (rc != 0) return rc;
  if (!r) {
    *out = r.error();
    return 0;
  }
  rc = update_reporter(c, r->id, [](codec::ReporterRecord& x) { x.flags |= codec::kReporterPeer; });
  if (rc != 0) return rc;
  codec::PeerRecord pr;
  pr.url = spec.url;
  rc = c.txn->put(dbi_.peers, codec::sv(codec::reporter_key(r->id)), codec::encode_peer(pr));
  if (rc != 0) return rc;
  Peer p;
  p.reporter = std::move(*r);
  p.reporter.peer = true;
  p.url = spec.url;
  *out = std::move(p);
  return 0;
}

Result<Peer> StoreImpl::add_peer(const PeerSpec& spec) {
  STROP_TRY(check_peer_spec(spec));
  const std::uint64_t created = to_u64(now());
  return run_sync<Peer>(1, [spec, created](StoreImpl& s, WriteCtx& c, Result<Peer>* out) {
    return s.apply_add_peer(c, spec, created, out);
  });
}

Result<Peer> StoreImpl::find_peer(std::string_view name) {
  auto rt = begin_read();
  if (!rt) return rt.error();
  ReporterId id = 0;
  int rc = find_reporter_id(rt->txn(), name, &id);
  if (rc == MDB_NOTFOUND) return make_error(Errc::kNotFound, "no such peer");
  if (rc != 0) return lmdb::to_error(rc, "find peer");
  return read_peer(rt->txn(), id);
}

Result<std::vector<Peer>> StoreImpl::list_peers() {
  auto rt = begin_read();
  if (!rt) return rt.error();
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(rt->txn(), dbi_.peers, &cur);
  if (rc != 0) return lmdb::to_error(rc, "cursor");
  std::vector<ReporterId> ids;
  std::string_view k, v;
  for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    if (k.size() == 4) ids.push_back(codec::get_u32(k.data()));
  }
  if (rc != MDB_NOTFOUND) return lmdb::to_error(rc, "read peers");
  cur.close();
  std::vector<Peer> out;
  for (ReporterId id : ids) {
    auto p = read_peer(rt->txn(), id);
    if (!p) return p.error();
    out.push_back(std::move(*p));
  }
  return out;
}

int StoreImpl::apply_remove_peer(WriteCtx& c, std::string_view name, Result<bool>* out) {
  ReporterId id = 0;
  int rc = find_reporter_id(*c.txn, name, &id);
  std::string_view v;
  if (rc == 0) rc = c.txn->get(dbi_.peers, codec::sv(codec::reporter_key(id)), &v);
  if (rc == MDB_NOTFOUND) {
    *out = make_error(Errc::kNotFound, "no such peer");
    return 0;
  }
  if (rc != 0) return rc;
  if ((rc = c.txn->del(dbi_.peers, codec::sv(codec::reporter_key(id)))) != 0) return rc;
  rc =
      update_reporter(c, id, [](codec::ReporterRecord& x) { x.flags |= codec::kReporterDisabled; });
  if (rc != 0) return rc;
  c.weights[id] = 0;
  c.reporters_changed = true;
  *out = true;
  return 0;
}

Result<void> StoreImpl::remove_peer(std::string_view name) {
  std::string n(name);
  auto r = run_sync<bool>(1, [n](StoreImpl& s, WriteCtx& c, Result<bool>* out) {
    return s.apply_remove_peer(c, n, out);
  });
  if (!r) return r.error();
  return {};
}

// ---------------------------------------------------------------------------------------
// The feed

int StoreImpl::next_feed_seq(WriteCtx& c, std::uint64_t* seq) {
  if (!c.feed_seq_loaded) {
    std::string_view v;
    int rc = c.txn->get(dbi_.meta, codec::kMetaFeedSeq, &v);
    if (rc == 0) {
      auto d = codec::decode_u64(v);
      if (!d) return MDB_CORRUPTED;
      c.feed_seq = *d;
    } else if (rc != MDB_NOTFOUND) {
      return rc;
    }
    c.feed_seq_loaded = true;
  }
  *seq = ++c.feed_seq;
  c.feed_seq_changed = true;
  return 0;
}

namespace {

// The latest feed record of signature id (present = false when it never had one).
int read_served(lmdb::Txn& txn, lmdb::Dbi feed, lmdb::Dbi feed_index, SigId id, Served* out) {
  std::string_view v;
  int rc = txn.get(feed_index, codec::sv(codec::sig_id_key(id)), &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto seq = codec::decode_u64(v);
  if (!seq) return MDB_CORRUPTED;
  rc = txn.get(feed, codec::sv(codec::seq_key(*seq)), &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto rec = codec::decode_feed(v);
  if (!rec) return MDB_CORRUPTED;
  out->present = true;
  out->seq = *seq;
  out->rec = std::move(*rec);
  return 0;
}

// The newest version of origin's state of signature id seen here (nullopt: none).
int read_origin(lmdb::Txn& txn, lmdb::Dbi dbi, SigId id, std::string_view origin,
                std::optional<codec::OriginRecord>* out) {
  std::string_view v;
  int rc = txn.get(dbi, codec::sv(codec::origin_key(id, origin)), &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto r = codec::decode_origin(v);
  if (!r) return MDB_CORRUPTED;
  if (r->origin == origin) *out = std::move(*r);  // a 64-bit hash collision reads as none
  return 0;
}

// Writes the feed record for id at a new sequence, replacing its previous one (compaction).
int write_served(lmdb::Txn& txn, lmdb::Dbi feed, lmdb::Dbi feed_index, SigId id, const Served& prev,
                 std::uint64_t seq, const codec::FeedRecord& rec) {
  int rc = txn.put(feed, codec::sv(codec::seq_key(seq)), codec::encode_feed(rec));
  if (rc != 0) return rc;
  if (prev.present) {
    rc = txn.del(feed, codec::sv(codec::seq_key(prev.seq)));
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  return txn.put(feed_index, codec::sv(codec::sig_id_key(id)), codec::encode_u64(seq));
}

}  // namespace

int StoreImpl::federation_refresh(WriteCtx& c, SigId id, const codec::SigRecord& rec) {
  const std::string& site = opt_.federation_site;
  if (site.empty()) return 0;
  lmdb::Txn& txn = *c.txn;
  const auto prefix_key = codec::sig_id_key(id);
  const std::string_view prefix = codec::sv(prefix_key);

  // 1. Confidence here, from every vote, and from the local reporters' votes alone.
  std::vector<reputation::Vote> all, local;
  {
    lmdb::Cursor cur;
    int rc = lmdb::Cursor::open(txn, dbi_.votes, &cur);
    if (rc != 0) return rc;
    std::string_view k, v;
    for (rc = cur.seek(codec::sv(codec::vote_key(id, 0)), &k, &v); rc == 0 && has_prefix(k, prefix);
         rc = cur.get(&k, &v, MDB_NEXT)) {
      auto vr = codec::decode_vote(v);
      if (!vr || vr->kind == codec::VoteKind::kWithdrawn || k.size() != 8) continue;
      const bool peer = (vr->flags & codec::kVotePeer) != 0;
      Trust w = weight(c, codec::get_u32(k.data() + 4));
      if (peer) w = hop_weight(w, vr->hop);
      const bool revoke = vr->kind == codec::VoteKind::kRevoke;
      all.push_back({w, revoke});
      if (!peer) local.push_back({w, revoke});
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  const int conf_all = reputation::confidence(all);
  const int conf_local = reputation::confidence(local);
  std::uint64_t since = 0;
  int arc = find_allowed(txn, rec.engine, rec.value, &since);
  if (arc != 0 && arc != MDB_NOTFOUND) return arc;
  const bool listed_here = conf_all >= opt_.threshold && arc == MDB_NOTFOUND;

  // 2. The shortest current listing among the peers' entries (enabled peers only).
  std::optional<codec::PeerEntryRecord> best;
  {
    lmdb::Cursor cur;
    int rc = lmdb::Cursor::open(txn, dbi_.peer_entries, &cur);
    if (rc != 0) return rc;
    std::string_view k, v;
    std::vector<codec::PeerEntryRecord> listed;
    for (rc = cur.seek(codec::sv(codec::vote_key(id, 0)), &k, &v); rc == 0 && has_prefix(k, prefix);
         rc = cur.get(&k, &v, MDB_NEXT)) {
      auto e = codec::decode_peer_entry(v);
      if (!e || !e->listed || k.size() != 8) continue;
      if (weight(c, codec::get_u32(k.data() + 4)) == 0) continue;  // disabled or removed
      listed.push_back(std::move(*e));
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    cur.close();
    for (auto& e : listed) {
      std::optional<codec::OriginRecord> o;
      if ((rc = read_origin(txn, dbi_.origin_versions, id, e.origin, &o)) != 0) return rc;
      if (o && (o->version > e.version || !o->listed)) continue;  // superseded at the origin
      if (!best || e.hop < best->hop) best = std::move(e);
    }
  }

  // 3. What this site serves now, and what it should serve.
  Served prev;
  if (int rc = read_served(txn, dbi_.feed, dbi_.feed_index, id, &prev); rc != 0) return rc;
  codec::FeedRecord next;
  next.engine = rec.engine;
  next.value = rec.value;
  next.sig = id;
  next.confidence = static_cast<std::uint8_t>(std::clamp(conf_all, 0, 100));
  bool new_version = false;
  if (listed_here && conf_local >= opt_.threshold) {
    next.listed = true;
    next.origin = site;
    next.hop = 0;
    if (prev.present && prev.rec.listed && prev.rec.origin == site) {
      next.version = prev.rec.version;
    } else {
      new_version = true;
    }
  } else if (listed_here && best && best->hop < kMaxHops) {
    next.listed = true;
    next.origin = best->origin;
    next.version = best->version;
    next.hop = static_cast<std::uint8_t>(best->hop + 1);
  } else if (prev.present && prev.rec.listed) {
    next.listed = false;
    next.origin = prev.rec.origin;
    next.hop = prev.rec.hop;
    if (prev.rec.origin == site) {
      new_version = true;  // this site's own withdrawal: a new version supersedes the listing
    } else {
      std::optional<codec::OriginRecord> o;
      if (int rc = read_origin(txn, dbi_.origin_versions, id, prev.rec.origin, &o); rc != 0) {
        return rc;
      }
      // The origin's withdrawal travels on; otherwise only this site stopped vouching.
      next.version =
          o && !o->listed && o->version > prev.rec.version ? o->version : prev.rec.version;
    }
  } else {
    return 0;  // not listed, and never served as listed: nothing to say
  }
  if (prev.present && !new_version && prev.rec.listed == next.listed &&
      prev.rec.origin == next.origin && prev.rec.version == next.version &&
      prev.rec.hop == next.hop) {
    return 0;  // the same state (a confidence change alone is not served)
  }
  std::uint64_t seq = 0;
  if (int rc = next_feed_seq(c, &seq); rc != 0) return rc;
  if (new_version) next.version = seq;
  return write_served(txn, dbi_.feed, dbi_.feed_index, id, prev, seq, next);
}

int StoreImpl::federation_forget(WriteCtx& c, SigId id, const codec::SigRecord& rec) {
  if (opt_.federation_site.empty()) return 0;
  lmdb::Txn& txn = *c.txn;
  Served prev;
  int rc = read_served(txn, dbi_.feed, dbi_.feed_index, id, &prev);
  if (rc != 0) return rc;
  if (prev.present && prev.rec.listed) {
    codec::FeedRecord next = prev.rec;
    next.listed = false;
    std::uint64_t seq = 0;
    if ((rc = next_feed_seq(c, &seq)) != 0) return rc;
    if (next.origin == opt_.federation_site) next.version = seq;
    next.value = rec.value;
    if ((rc = txn.put(dbi_.feed, codec::sv(codec::seq_key(seq)), codec::encode_feed(next))) != 0) {
      return rc;
    }
    rc = txn.del(dbi_.feed, codec::sv(codec::seq_key(prev.seq)));
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  // The id may be reused by another signature: its feed index and peer state go with it (the
  // withdrawal stays in the feed).
  rc = txn.del(dbi_.feed_index, codec::sv(codec::sig_id_key(id)));
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  const auto prefix_key = codec::sig_id_key(id);
  for (lmdb::Dbi dbi : {dbi_.peer_entries, dbi_.origin_versions}) {
    lmdb::Cursor cur;
    if ((rc = lmdb::Cursor::open(txn, dbi, &cur)) != 0) return rc;
    std::string_view k, v;
    for (;;) {
      rc = cur.seek(codec::sv(prefix_key), &k, &v);
      if (rc == MDB_NOTFOUND || (rc == 0 && !has_prefix(k, codec::sv(prefix_key)))) break;
      if (rc != 0) return rc;
      if ((rc = cur.del()) != 0) return rc;
    }
  }
  return 0;
}

Result<FeedPage> StoreImpl::read_feed(std::uint64_t after, std::size_t limit) {
  limit = std::min(limit, kMaxFeedBatch);
  auto rt = begin_read();
  if (!rt) return rt.error();
  lmdb::Txn& txn = rt->txn();
  FeedPage page;
  std::string_view v;
  int rc = txn.get(dbi_.meta, codec::kMetaFeedSeq, &v);
  if (rc == 0) {
    auto d = codec::decode_u64(v);
    if (!d) return make_error(Errc::kIo, "corrupt feed sequence");
    page.head = *d;
  } else if (rc != MDB_NOTFOUND) {
    return lmdb::to_error(rc, "read feed sequence");
  }
  if (after == std::numeric_limits<std::uint64_t>::max() || limit == 0) return page;
  lmdb::Cursor cur;
  if ((rc = lmdb::Cursor::open(txn, dbi_.feed, &cur)) != 0) return lmdb::to_error(rc, "cursor");
  std::string_view k;
  for (rc = cur.seek(codec::sv(codec::seq_key(after + 1)), &k, &v);
       rc == 0 && page.entries.size() < limit; rc = cur.get(&k, &v, MDB_NEXT)) {
    if (k.size() != 8) continue;
    auto r = codec::decode_feed(v);
    if (!r) return make_error(Errc::kIo, "corrupt feed record");
    FeedEntry e;
    e.seq = codec::get_u64(k.data());
    e.listed = r->listed;
    e.sig.engine = r->engine;
    e.sig.value = std::move(r->value);
    e.hop = r->hop;
    e.confidence = r->confidence;
    e.version = r->version;
    e.origin = std::move(r->origin);
    page.entries.push_back(std::move(e));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::to_error(rc, "read feed");
  return page;
}

// ---------------------------------------------------------------------------------------
// Batches pulled from peers

std::string StoreImpl::peer_entries_problem(const std::vector<FeedEntry>& entries) const {
  for (const FeedEntry& e : entries) {
    const char* bad = nullptr;
    if (!valid_engine(e.sig.engine))
      bad = "unknown engine";
    else if (e.sig.value.empty() || e.sig.value.size() > opt_.max_value_bytes)
      bad = "bad value";
    else if (e.sig.engine == sigs::Engine::kFuzzy && !codec::decode_fuzzy(e.sig.value))
      bad = "bad fuzzy/1 value";
    else if (!valid_site_name(e.origin))
      bad = "bad origin";
    else if (e.hop > kMaxHops)
      bad = "hop over the limit";
    if (bad != nullptr) return "feed entry " + std::to_string(e.seq) + ": " + bad;
  }
  return {};
}

int StoreImpl::apply_logged_peer_batch(WriteCtx& c, const LoggedPeerBatch& b, LoggedOutcome* out) {
  if (opt_.federation_site.empty()) {
    out->refused = make_error(Errc::kInvalidArgument, "federation is off (no federation.site)");
    return 0;
  }
  if (std::string bad = peer_entries_problem(b.entries); !bad.empty()) {
    out->refused = make_error(Errc::kInvalidArgument, bad);
    return 0;
  }
  PeerBatch batch;
  int rc = find_reporter_id(*c.txn, b.peer, &batch.peer);
  if (rc == MDB_NOTFOUND) {
    out->refused = make_error(Errc::kNotFound, "no such peer");
    return 0;
  }
  if (rc != 0) return rc;
  batch.after = b.after;
  batch.cursor = b.cursor;
  batch.entries = b.entries;
  batch.now = b.now;
  Result<PeerBatchOutcome> r = make_error(Errc::kInternal, "not applied");
  if ((rc = apply_peer_batch_txn(c, batch, &r)) != 0) return rc;
  if (r) {
    out->batch = *r;
  } else {
    out->refused = r.error();
    out->stale_batch = r.error().code == Errc::kExists;
  }
  return 0;
}

void StoreImpl::apply_peer_batch(PeerBatch batch,
                                 std::function<void(Result<PeerBatchOutcome>)> done) {
  if (opt_.federation_site.empty()) {
    done(make_error(Errc::kInvalidArgument, "federation is off (no federation.site)"));
    return;
  }
  if (std::string bad = peer_entries_problem(batch.entries); !bad.empty()) {
    done(make_error(Errc::kInvalidArgument, bad));
    return;
  }
  auto state = std::make_shared<std::optional<Result<PeerBatchOutcome>>>();
  auto op = std::make_unique<Op>();
  op->cost = std::max<std::size_t>(1, batch.entries.size());
  op->apply = [state, b = std::move(batch)](StoreImpl& s, WriteCtx& c) {
    state->reset();
    Result<PeerBatchOutcome> r = make_error(Errc::kInternal, "not applied");
    int rc = s.apply_peer_batch_txn(c, b, &r);
    state->emplace(std::move(r));
    return rc;
  };
  op->complete = complete_from(state, done, "peer batch");
  if (auto q = enqueue(std::move(op)); !q) done(q.error());
}

int StoreImpl::set_peer_vote(WriteCtx& c, SigId id, codec::SigRecord& rec, ReporterId peer,
                             bool listed, std::uint8_t hop, std::uint64_t now) {
  lmdb::Txn& txn = *c.txn;
  auto vk = codec::vote_key(id, peer);
  codec::VoteRecord vr;
  bool had = false;
  int rc = read_vote(txn, vk, &vr, &had);
  if (rc != 0) return rc;
  using K = codec::VoteKind;
  const K next = listed ? K::kReport : K::kWithdrawn;
  if (!had && !listed) return 0;
  if (had && vr.kind == next && (!listed || vr.hop == hop)) return 0;
  if (had && vr.kind == K::kReport && rec.reports > 0) --rec.reports;
  if (had && vr.kind == K::kRevoke && rec.revokes > 0) --rec.revokes;
  if (next == K::kReport) ++rec.reports;
  vr.kind = next;
  vr.flags |= codec::kVotePeer;
  vr.hop = listed ? hop : vr.hop;
  vr.time = now;
  if ((rc = txn.put(dbi_.votes, codec::sv(vk), codec::encode_vote(vr))) != 0) return rc;
  if (!had) ++c.counts.votes;
  const std::uint64_t old_activity = rec.activity();
  rec.last_vote = std::max(rec.last_vote, now);
  return update_activity(c, id, rec, old_activity, false);
}

int StoreImpl::apply_peer_batch_txn(WriteCtx& c, const PeerBatch& b,
                                    Result<PeerBatchOutcome>* out) {
  lmdb::Txn& txn = *c.txn;
  std::string_view v;
  int rc = txn.get(dbi_.reporters, codec::sv(codec::reporter_key(b.peer)), &v);
  if (rc == MDB_NOTFOUND) {
    *out = make_error(Errc::kNotFound, "no such peer");
    return 0;
  }
  if (rc != 0) return rc;
  auto who = codec::decode_reporter(v);
  if (!who) return MDB_CORRUPTED;
  if ((who->flags & codec::kReporterPeer) == 0) {
    *out = make_error(Errc::kNotFound, "not a peer");
    return 0;
  }
  if ((who->flags & codec::kReporterDisabled) != 0) {
    *out = make_error(Errc::kForbidden, "peer disabled");
    return 0;
  }
  const auto peer_key = codec::reporter_key(b.peer);
  rc = txn.get(dbi_.peers, codec::sv(peer_key), &v);
  if (rc == MDB_NOTFOUND) {
    *out = make_error(Errc::kNotFound, "no such peer");
    return 0;
  }
  if (rc != 0) return rc;
  auto pr = codec::decode_peer(v);
  if (!pr) return MDB_CORRUPTED;
  if (pr->cursor != b.after) {
    *out = make_error(Errc::kExists, "cursor moved: stored " + std::to_string(pr->cursor) +
                                         ", batch after " + std::to_string(b.after));
    return 0;
  }
  if (!index_ready_.load(std::memory_order_acquire)) {
    if ((rc = build_index(txn)) != 0) return rc;
  }
  const std::uint64_t now = to_u64(b.now);
  PeerBatchOutcome outcome;
  for (const FeedEntry& e : b.entries) {
    if (e.origin == opt_.federation_site) {
      ++outcome.own;
      continue;
    }
    const std::uint64_t key = codec::exact_key64(e.sig.engine, e.sig.value);
    SigId id = 0;
    codec::SigRecord rec;
    rc = find_sig(c, e.sig, key, &id, &rec);
    if (rc == MDB_NOTFOUND) {
      if (!e.listed) continue;  // a withdrawal of something never stored here
      if ((rc = add_sig(c, e.sig, key, now, &id, &rec)) != 0) return rc;
      rec.last_vote = now;
      if ((rc = update_activity(c, id, rec, 0, true)) != 0) return rc;
    } else if (rc != 0) {
      return rc;
    }
    // The origin's newest version: a newer one (or a listing at the same version) updates it.
    std::optional<codec::OriginRecord> o;
    if ((rc = read_origin(txn, dbi_.origin_versions, id, e.origin, &o)) != 0) return rc;
    const bool newer = !o || e.version > o->version;
    const bool superseded_withdrawal = newer && !e.listed && o && o->listed;
    if (newer || (e.version == o->version && e.listed && !o->listed)) {
      codec::OriginRecord nr{e.listed, e.version, e.origin};
      rc = txn.put(dbi_.origin_versions, codec::sv(codec::origin_key(id, e.origin)),
                   codec::encode_origin(nr));
      if (rc != 0) return rc;
      o = nr;
    }
    const bool current = e.listed && o->listed && e.version >= o->version;
    if (!newer && e.version < o->version) ++outcome.stale;
    codec::PeerEntryRecord pe{e.listed, e.hop, e.confidence, e.version, e.origin};
    rc = txn.put(dbi_.peer_entries, codec::sv(codec::vote_key(id, b.peer)),
                 codec::encode_peer_entry(pe));
    if (rc != 0) return rc;
    if ((rc = set_peer_vote(c, id, rec, b.peer, current, e.hop, now)) != 0) return rc;
    if (superseded_withdrawal) {
      // The origin withdrew: every other peer's listing of it is stale now.
      lmdb::Cursor cur;
      if ((rc = lmdb::Cursor::open(txn, dbi_.peer_entries, &cur)) != 0) return rc;
      const auto prefix_key = codec::sig_id_key(id);
      std::vector<ReporterId> stale;
      std::string_view k;
      for (rc = cur.seek(codec::sv(codec::vote_key(id, 0)), &k, &v);
           rc == 0 && has_prefix(k, codec::sv(prefix_key)); rc = cur.get(&k, &v, MDB_NEXT)) {
        auto pe2 = codec::decode_peer_entry(v);
        if (pe2 && pe2->listed && pe2->origin == e.origin && pe2->version < e.version &&
            k.size() == 8 && codec::get_u32(k.data() + 4) != b.peer) {
          stale.push_back(codec::get_u32(k.data() + 4));
        }
      }
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
      cur.close();
      for (ReporterId q : stale) {
        if ((rc = set_peer_vote(c, id, rec, q, false, 0, now)) != 0) return rc;
      }
    }
    if ((rc = txn.put(dbi_.sigs, codec::sv(codec::sig_id_key(id)), codec::encode_sig(rec))) != 0) {
      return rc;
    }
    if ((rc = federation_refresh(c, id, rec)) != 0) return rc;
    ++outcome.applied;
  }
  pr->cursor = b.cursor;
  pr->last_success = now;
  pr->applied += outcome.applied;
  if ((rc = txn.put(dbi_.peers, codec::sv(peer_key), codec::encode_peer(*pr))) != 0) return rc;
  *out = outcome;
  return 0;
}

}  // namespace strop::storage
