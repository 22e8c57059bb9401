// store_votes.cpp: vote operations and reputation events: a request's votes applied message by
// message, signature records and their votes, replay keys, reporter weights (see
// store_impl.hpp and docs/reputation.md).

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

using codec::SigId;
using reputation::Trust;

namespace {

// Expired replay keys deleted per consumed key (StoreImpl::consume_replay_key).
constexpr std::size_t kReplaySweepPerKey = 2;

static_assert(codec::kReporterCreditSlots == reputation::kCreditSlots);

reputation::CreditLog credit_log(const codec::ReporterRecord& r) {
  reputation::CreditLog log;
  for (std::size_t i = 0; i < log.size(); ++i) log[i] = {r.credits[i].judge, r.credits[i].day};
  return log;
}

void set_credit_log(codec::ReporterRecord& r, const reputation::CreditLog& log) {
  for (std::size_t i = 0; i < log.size(); ++i) r.credits[i] = {log[i].judge, log[i].day};
}

}  // namespace

// Reputation events of one judge's vote on one message (docs/reputation.md "Events"):
// apply_events collects them signature by signature, apply_vote applies them once at the end
// of the message, so an earlier voter is credited or penalised at most once per message of a
// request, however many of the message's signatures it shares with the judge.
struct MessageEvents {
  Trust judge_trust = 0;  // the judge's trust when the message began
  std::uint32_t day = 0;  // UTC day of the request (credit pacing)
  // Earlier voters the judge corroborates: true = credited (pacing allowed it), false =
  // refused today (their votes stay uncredited, so a later judge may still credit them).
  std::map<ReporterId, bool> credit;
  std::set<ReporterId> penalise;  // earlier opposing voters the judge contradicts
  Trust judge_penalty = 0;        // highest trust of a more trusted earlier opposing voter
};

// ---------------------------------------------------------------------------------------
// Write path: vote operations (run on the writer thread inside the batch transaction)

Trust StoreImpl::weight(const WriteCtx& c, ReporterId id) {
  if (auto it = c.weights.find(id); it != c.weights.end()) return it->second;
  ReaderMutexLock lk(&trust_mu_);
  return id < weights_.size() ? weights_[id] : Trust{0};
}

void StoreImpl::set_effective_trust(codec::ReporterRecord& r) {
  reputation::TrustState s;
  s.base = r.base;
  s.pinned = (r.flags & codec::kReporterPinned) != 0;
  s.open = (r.flags & codec::kReporterOpen) != 0;
  s.good = r.good;
  s.bad = r.bad;
  r.trust = reputation::trust(s);
}

int StoreImpl::update_reporter(WriteCtx& c, ReporterId id,
                               const std::function<void(codec::ReporterRecord&)>& f) {
  auto key = codec::reporter_key(id);
  std::string_view v;
  int rc = c.txn->get(dbi_.reporters, codec::sv(key), &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto r = codec::decode_reporter(v);
  if (!r) return MDB_CORRUPTED;
  Trust before = weight_of(*r);
  f(*r);
  set_effective_trust(*r);
  rc = c.txn->put(dbi_.reporters, codec::sv(key), codec::encode_reporter(*r));
  if (rc != 0) return rc;
  Trust after = weight_of(*r);
  if (after != before || c.weights.count(id) != 0) {
    c.weights[id] = after;
    c.reporters_changed = true;
  }
  return 0;
}

int StoreImpl::allocate_sig_id(WriteCtx& c, SigId* out) {
  if (!c.max_sig_id_known) {
    // Ids above the highest one in use are free: no lookup needed until the ids wrap.
    lmdb::Cursor cur;
    int rc = lmdb::Cursor::open(*c.txn, dbi_.sigs, &cur);
    if (rc != 0) return rc;
    std::string_view k, v;
    rc = cur.get(&k, &v, MDB_LAST);
    if (rc == 0 && k.size() == 4) {
      c.max_sig_id = codec::get_u32(k.data());
    } else if (rc != MDB_NOTFOUND && rc != 0) {
      return rc;
    }
    c.max_sig_id_known = true;
  }
  SigId id = c.next_sig_id;
  for (std::uint64_t tries = 0; tries <= codec::kMaxSigId; ++tries, ++id) {
    if (id == 0 || id > codec::kMaxSigId) id = 1;
    if (id > c.max_sig_id) break;
    std::string_view v;
    int rc = c.txn->get(dbi_.sigs, codec::sv(codec::sig_id_key(id)), &v);
    if (rc == MDB_NOTFOUND) break;
    if (rc != 0) return rc;
    if (tries == codec::kMaxSigId) return MDB_MAP_FULL;  // every id in use
  }
  *out = id;
  c.max_sig_id = std::max(c.max_sig_id, id);
  c.next_sig_id = id + 1;
  return 0;
}

int StoreImpl::consume_replay_key(WriteCtx& c, ReporterId reporter, const ReplayKey& key,
                                  TimePoint now, bool* replayed) {
  *replayed = false;
  const std::uint64_t expires = to_u64(key.expires);
  std::string k = codec::replay_key(reporter, key.nonce);
  std::string_view v;
  int rc = c.txn->get(dbi_.replay, k, &v);
  if (rc == 0) {
    // A key past its expiry that the sweep has not reached yet still counts: the request it
    // belonged to is refused as stale by the caller's window check anyway.
    *replayed = true;
    return 0;
  }
  if (rc != MDB_NOTFOUND) return rc;
  // Amortised sweep: each consumed key deletes up to kReplaySweepPerKey expired keys, so the
  // tables hold about one window's worth of keys without a timer.
  const std::uint64_t now_s = to_u64(now);
  {
    lmdb::Cursor cur;
    if ((rc = lmdb::Cursor::open(*c.txn, dbi_.replay_expiry, &cur)) != 0) return rc;
    std::string_view ek, ev;
    std::vector<std::string> due;
    for (rc = cur.get(&ek, &ev, MDB_FIRST); rc == 0 && due.size() < kReplaySweepPerKey;
         rc = cur.get(&ek, &ev, MDB_NEXT)) {
      if (ek.size() < 12 || codec::get_u64(ek.data()) >= now_s) break;
      due.emplace_back(ek);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    for (const auto& d : due) {
      if ((rc = c.txn->del(dbi_.replay_expiry, d)) != 0 && rc != MDB_NOTFOUND) return rc;
      std::string rk =
          codec::replay_key(codec::get_u32(d.data() + 8), std::string_view(d).substr(12));
      if ((rc = c.txn->del(dbi_.replay, rk)) != 0 && rc != MDB_NOTFOUND) return rc;
    }
  }
  if ((rc = c.txn->put(dbi_.replay, k, codec::encode_u64(expires))) != 0) return rc;
  return c.txn->put(dbi_.replay_expiry, codec::replay_expiry_key(expires, reporter, key.nonce),
                    std::string_view());
}

int StoreImpl::admit_vote(WriteCtx& c, const VoteRequest& req,
                          std::optional<codec::ReporterRecord>* jrec, Result<VoteOutcome>* out) {
  const ReporterId reporter = req.reporter;
  std::string_view v;
  int rc = c.txn->get(dbi_.reporters, codec::sv(codec::reporter_key(reporter)), &v);
  if (rc == MDB_NOTFOUND) {
    *out = make_error(Errc::kNotFound, "unknown reporter");
    return 0;
  }
  if (rc != 0) return rc;
  auto judge = codec::decode_reporter(v);
  if (!judge) {
    *out = make_error(Errc::kInternal, "corrupt reporter record");
    return 0;
  }
  if ((judge->flags & codec::kReporterDisabled) != 0) {
    *out = make_error(Errc::kForbidden, "reporter is disabled");
    return 0;
  }
  if (req.replay) {
    // Consumed before validation: a signed request is spent once it reached the store,
    // whatever its outcome.
    bool replayed = false;
    if ((rc = consume_replay_key(c, reporter, *req.replay, req.now, &replayed)) != 0) return rc;
    if (replayed) {
      *out = make_error(Errc::kReplayed, "request already accepted once (replayed nonce)");
      return 0;
    }
  }
  for (const auto& s : req.sigs) {
    if (!valid_engine(s.engine) || s.value.empty() || s.value.size() > opt_.max_value_bytes ||
        (s.engine == sigs::Engine::kFuzzy && !codec::decode_fuzzy(s.value))) {
      *out = make_error(Errc::kInvalidArgument, "unusable signature value");
      return 0;
    }
  }
  *jrec = std::move(judge);
  return 0;
}

int StoreImpl::apply_vote(WriteCtx& c, const VoteRequest& req, Result<VoteOutcome>* out) {
  const ReporterId reporter = req.reporter;
  const auto& sigs = req.sigs;
  const TimePoint now = req.now;
  const bool revoke = req.revoke;
  std::optional<codec::ReporterRecord> jrec;
  int rc = admit_vote(c, req, &jrec, out);
  if (rc != 0 || !jrec) return rc;
  if (!index_ready_.load(std::memory_order_acquire)) {
    // Admin mode: the writer finds records through the index, so build it first (from this
    // transaction, which sees every committed write).
    if ((rc = build_index(*c.txn)) != 0) return rc;
  }
  VoteOutcome outcome;
  outcome.effects.reserve(sigs.size());
  const std::uint64_t now_s = to_u64(now);
  Trust before = weight_of(*jrec);
  // Message by message: the reputation events of each message are applied once, at its end
  // (an earlier voter gains or loses at most once per message; docs/reputation.md "Events").
  const std::vector<std::uint32_t> whole{static_cast<std::uint32_t>(sigs.size())};
  const auto& sizes = req.message_sizes.empty() ? whole : req.message_sizes;
  std::size_t next = 0;
  for (std::uint32_t n : sizes) {
    MessageEvents ev;
    ev.judge_trust = weight_of(*jrec);
    ev.day = reputation::day_of(now_s);
    for (std::uint32_t i = 0; i < n && next < sigs.size(); ++i, ++next) {
      VoteEffect e = VoteEffect::kUnchanged;
      rc = vote_one(c, reporter, *jrec, sigs[next], now_s, revoke, ev, &e);
      if (rc != 0) return rc;
      outcome.effects.push_back(e);
    }
    if ((rc = apply_message_events(c, reporter, *jrec, ev)) != 0) return rc;
  }
  set_effective_trust(*jrec);
  rc = c.txn->put(dbi_.reporters, codec::sv(codec::reporter_key(reporter)),
                  codec::encode_reporter(*jrec));
  if (rc != 0) return rc;
  if (weight_of(*jrec) != before) {
    c.weights[reporter] = weight_of(*jrec);
    c.reporters_changed = true;
  }
  *out = std::move(outcome);
  return 0;
}

int StoreImpl::apply_message_events(WriteCtx& c, ReporterId judge, codec::ReporterRecord& jrec,
                                    const MessageEvents& ev) {
  int rc = 0;
  const std::uint64_t w = reputation::event_weight(ev.judge_trust);
  for (const auto& [r, ok] : ev.credit) {
    if (!ok) continue;
    rc = update_reporter(c, r, [&](codec::ReporterRecord& x) {
      x.good += w;
      ++x.corroborated;
      auto log = credit_log(x);
      reputation::record_credit(log, judge, ev.day);
      set_credit_log(x, log);
    });
    if (rc != 0) return rc;
  }
  for (ReporterId r : ev.penalise) {
    rc = update_reporter(c, r, [&](codec::ReporterRecord& x) {
      x.bad += w;
      ++x.contradicted;
    });
    if (rc != 0) return rc;
  }
  if (ev.judge_penalty > 0) {
    jrec.bad += reputation::event_weight(ev.judge_penalty);
    ++jrec.contradicted;
    set_effective_trust(jrec);
    c.weights[judge] = weight_of(jrec);
    c.reporters_changed = true;
  }
  return 0;
}

int StoreImpl::find_sig(WriteCtx& c, const sigs::Signature& sig, std::uint64_t key, SigId* id,
                        codec::SigRecord* rec) {
  // Candidates: the committed index (only this thread changes it) and this batch's new
  // signatures. Each is verified against its record; a vanished one is dropped from the index.
  std::vector<std::uint32_t> ids;
  index_->find_exact(key, &ids);
  if (auto it = c.pending.find(key); it != c.pending.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  for (SigId cand : ids) {
    std::string_view v;
    int rc = c.txn->get(dbi_.sigs, codec::sv(codec::sig_id_key(cand)), &v);
    if (rc == MDB_NOTFOUND) {
      IndexChange gone;
      gone.add = false;
      gone.exact = key;
      gone.id = cand;
      c.index.push_back(gone);  // (fuzzy postings of a vanished id are verified away on read)
      continue;
    }
    if (rc != 0) return rc;
    auto p = codec::peek_sig(v);
    if (!p) return MDB_CORRUPTED;
    if (p->engine != sig.engine || p->value != sig.value) continue;  // a 64-bit key collision
    auto r = codec::decode_sig(v);
    if (!r) return MDB_CORRUPTED;
    *id = cand;
    *rec = std::move(*r);
    return 0;
  }
  return MDB_NOTFOUND;
}

int StoreImpl::add_sig(WriteCtx& c, const sigs::Signature& sig, std::uint64_t key,
                       std::uint64_t now, SigId* id, codec::SigRecord* rec) {
  if (int rc = allocate_sig_id(c, id); rc != 0) return rc;
  rec->engine = sig.engine;
  rec->first_seen = now;
  rec->value = sig.value;
  IndexChange ch;
  ch.add = true;
  ch.id = *id;
  ch.exact = key;
  if (sig.engine == sigs::Engine::kFuzzy) {
    ch.fuzzy = true;
    ch.hashes = *codec::decode_fuzzy(sig.value);  // validated by admit_vote
  }
  c.index.push_back(ch);
  c.pending[key].push_back(*id);
  ++c.counts.by_engine[static_cast<std::size_t>(sig.engine) & 7];
  return 0;
}

int StoreImpl::read_vote(lmdb::Txn& txn, const codec::VoteKey& key, codec::VoteRecord* out,
                         bool* had) {
  std::string_view v;
  int rc = txn.get(dbi_.votes, codec::sv(key), &v);
  *had = rc == 0;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto d = codec::decode_vote(v);
  if (!d) return MDB_CORRUPTED;
  *out = *d;
  return 0;
}

int StoreImpl::update_activity(WriteCtx& c, SigId id, const codec::SigRecord& rec,
                               std::uint64_t old_activity, bool fresh) {
  if (!fresh && rec.activity() == old_activity) return 0;
  if (!fresh) {
    int rc = c.txn->del(dbi_.activity, codec::sv(codec::activity_key(old_activity, id)));
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  return c.txn->put(dbi_.activity, codec::sv(codec::activity_key(rec.activity(), id)),
                    std::string_view("\x01", 1));
}

int StoreImpl::vote_one(WriteCtx& c, ReporterId j, codec::ReporterRecord& jrec,
                        const sigs::Signature& sig, std::uint64_t now, bool revoke,
                        MessageEvents& ev, VoteEffect* effect) {
  lmdb::Txn& txn = *c.txn;
  const std::uint64_t key = codec::exact_key64(sig.engine, sig.value);
  SigId id = 0;
  codec::SigRecord rec;
  bool fresh = false;
  int rc = find_sig(c, sig, key, &id, &rec);
  if (rc == MDB_NOTFOUND) {
    if (revoke) {
      *effect = VoteEffect::kUnknown;
      return 0;
    }
    if ((rc = add_sig(c, sig, key, now, &id, &rec)) != 0) return rc;
    fresh = true;
  } else if (rc != 0) {
    return rc;
  }
  const std::uint64_t old_activity = fresh ? 0 : rec.activity();

  auto vk = codec::vote_key(id, j);
  codec::VoteRecord vr;
  bool had = false;
  // A new signature has no votes yet (delete_sig removes a signature's votes with it).
  if (!fresh && (rc = read_vote(txn, vk, &vr, &had)) != 0) return rc;
  using K = codec::VoteKind;
  K next;
  if (!revoke) {
    if (had && vr.kind == K::kReport) {
      *effect = VoteEffect::kUnchanged;
      return 0;
    }
    *effect = had && vr.kind == K::kRevoke ? VoteEffect::kChanged : VoteEffect::kRecorded;
    next = K::kReport;
  } else {
    if (had && (vr.kind == K::kRevoke || vr.kind == K::kWithdrawn)) {
      *effect = VoteEffect::kUnchanged;
      return 0;
    }
    if (had && vr.kind == K::kReport) {
      *effect = VoteEffect::kWithdrawn;
      next = K::kWithdrawn;
    } else {
      *effect = VoteEffect::kRecorded;
      next = K::kRevoke;
    }
  }
  if (had && vr.kind == K::kReport && rec.reports > 0) --rec.reports;
  if (had && vr.kind == K::kRevoke && rec.revokes > 0) --rec.revokes;
  if (next == K::kReport) ++rec.reports;
  if (next == K::kRevoke) ++rec.revokes;
  vr.kind = next;
  vr.time = now;
  if (next != K::kWithdrawn && !fresh) {  // nobody else voted on a new signature
    if ((rc = apply_events(c, id, j, next, &vr.flags, ev)) != 0) return rc;
  }
  if ((rc = txn.put(dbi_.votes, codec::sv(vk), codec::encode_vote(vr))) != 0) return rc;
  if (!had) ++c.counts.votes;
  rec.last_vote = std::max(rec.last_vote, now);
  if ((rc = update_activity(c, id, rec, old_activity, fresh)) != 0) return rc;
  if ((rc = txn.put(dbi_.sigs, codec::sv(codec::sig_id_key(id)), codec::encode_sig(rec))) != 0) {
    return rc;
  }
  if ((rc = federation_refresh(c, id, rec)) != 0) return rc;
  if (next == K::kReport) {
    ++jrec.reports;
  } else {
    ++jrec.revokes;
  }
  jrec.last_active = std::max(jrec.last_active, now);
  return 0;
}

int StoreImpl::apply_events(WriteCtx& c, SigId id, ReporterId j, codec::VoteKind kind,
                            std::uint8_t* flags, MessageEvents& ev) {
  const Trust tj = ev.judge_trust;
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(*c.txn, dbi_.votes, &cur);
  if (rc != 0) return rc;
  auto first = codec::vote_key(id, 0);
  auto prefix_key = codec::sig_id_key(id);
  std::string_view prefix = codec::sv(prefix_key);
  Trust max_opposing = 0;
  std::string_view k, v;
  for (rc = cur.seek(codec::sv(first), &k, &v); rc == 0 && has_prefix(k, prefix);
       rc = cur.get(&k, &v, MDB_NEXT)) {
    if (k.size() != 8) continue;
    ReporterId r = codec::get_u32(k.data() + 4);
    if (r == j) continue;
    auto vr = codec::decode_vote(v);
    if (!vr || vr->kind == codec::VoteKind::kWithdrawn) continue;
    if ((vr->flags & codec::kVotePeer) != 0) continue;  // peers neither judge nor are judged
    const bool same = vr->kind == kind;
    const Trust tr = weight(c, r);
    std::uint8_t nf = vr->flags;
    if (same && reputation::corroborates(tj) && (nf & codec::kVoteCredited) == 0) {
      auto [it, inserted] = ev.credit.try_emplace(r, false);
      if (inserted) {
        // Credit pacing: one credit per (judge, reporter) per UTC day, kCreditSlots a day.
        std::string_view rv;
        int grc = c.txn->get(dbi_.reporters, codec::sv(codec::reporter_key(r)), &rv);
        if (grc != 0 && grc != MDB_NOTFOUND) return grc;
        auto rrec = grc == 0 ? codec::decode_reporter(rv) : std::nullopt;
        it->second = rrec && reputation::may_credit(credit_log(*rrec), j, ev.day);
      }
      if (it->second) nf |= codec::kVoteCredited;  // refused: a later judge may still credit
    }
    if (!same && reputation::contradicts(tj, tr) && (nf & codec::kVotePenalised) == 0) {
      nf |= codec::kVotePenalised;
      ev.penalise.insert(r);
    }
    if (!same && reputation::contradicts(tr, tj)) max_opposing = std::max(max_opposing, tr);
    if (nf != vr->flags) {
      vr->flags = nf;
      std::string key(k);  // k points into a page the put may move
      if ((rc = cur.put(key, codec::encode_vote(*vr), MDB_CURRENT)) != 0) return rc;
    }
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  cur.close();
  if (max_opposing > 0 && (*flags & codec::kVotePenalised) == 0) {
    *flags |= codec::kVotePenalised;
    ev.judge_penalty = std::max(ev.judge_penalty, max_opposing);
  }
  return 0;
}

}  // namespace strop::storage
