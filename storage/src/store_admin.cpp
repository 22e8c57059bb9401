// store_admin.cpp: signature administration (see store.hpp "signature administration" and
// store_impl.hpp): what the store knows of a signature, deleting one, the allowlist.
//
// Admin processes (serve = false) may run these while a node serves the same directory: the
// writes go straight to LMDB in one write transaction (LMDB serialises it with the node's
// writer), and the node sees them at its next read of the records concerned, because a check
// reads every candidate's record, votes and allowlist entry from LMDB (docs/storage-format.md
// "Signature administration across processes").

#include <algorithm>

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

using codec::SigId;

int StoreImpl::find_allowed(lmdb::Txn& txn, sigs::Engine engine, std::string_view value,
                            std::uint64_t* since) {
  std::string_view v;
  int rc = txn.get(dbi_.allowed, codec::sv(codec::allow_key(engine, value)), &v);
  if (rc != 0) return rc;
  auto rec = codec::decode_allow(v);
  // A corrupt entry or another value under the same hash: not allowed.
  if (!rec || rec->value != value) return MDB_NOTFOUND;
  *since = rec->since;
  return 0;
}

bool StoreImpl::allowlist_empty(lmdb::Txn& txn) {
  MDB_stat st{};
  if (txn.stat(dbi_.allowed, &st) != 0) return false;  // look entries up, to be safe
  return st.ms_entries == 0;
}

int StoreImpl::locate_sigs(lmdb::Txn& txn, WriteCtx* c, std::span<const sigs::Signature> sigs,
                           std::vector<Located>* out) {
  out->assign(sigs.size(), Located{});
  if (opt_.serve && index_ready_.load(std::memory_order_acquire)) {
    for (std::size_t i = 0; i < sigs.size(); ++i) {
      const auto& s = sigs[i];
      const std::uint64_t key = codec::exact_key64(s.engine, s.value);
      if (c != nullptr) {
        int rc = find_sig(*c, s, key, &(*out)[i].id, &(*out)[i].rec);
        if (rc == MDB_NOTFOUND) (*out)[i].id = 0;
        if (rc != 0 && rc != MDB_NOTFOUND) return rc;
        continue;
      }
      std::vector<std::uint32_t> ids;
      index_->find_exact(key, &ids);
      for (SigId id : ids) {
        std::string_view v;
        int rc = txn.get(dbi_.sigs, codec::sv(codec::sig_id_key(id)), &v);
        if (rc == MDB_NOTFOUND) continue;
        if (rc != 0) return rc;
        auto rec = codec::decode_sig(v);
        if (!rec || rec->engine != s.engine || rec->value != s.value) continue;
        (*out)[i] = Located{id, std::move(*rec)};
        break;
      }
    }
    return 0;
  }
  // Admin mode: one pass over every record.
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(txn, dbi_.sigs, &cur);
  if (rc != 0) return rc;
  std::size_t left = sigs.size();
  std::string_view k, v;
  for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0 && left > 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    auto p = codec::peek_sig(v);
    if (!p || k.size() != 4) continue;
    for (std::size_t i = 0; i < sigs.size(); ++i) {
      if ((*out)[i].id != 0 || sigs[i].engine != p->engine || sigs[i].value != p->value) continue;
      auto rec = codec::decode_sig(v);
      if (!rec) continue;
      (*out)[i] = Located{codec::get_u32(k.data()), std::move(*rec)};
      --left;
    }
  }
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int StoreImpl::describe_stored(lmdb::Txn& txn, const Located& loc, SignatureInfo* info) {
  const codec::SigRecord& rec = loc.rec;
  info->stored = true;
  info->first_seen = from_u64(rec.first_seen);
  info->last_seen = from_u64(std::max(rec.last_vote, rec.last_hit));
  lmdb::Cursor vc;
  int rc = lmdb::Cursor::open(txn, dbi_.votes, &vc);
  if (rc != 0) return rc;
  const auto prefix_key = codec::sig_id_key(loc.id);
  const std::string_view prefix = codec::sv(prefix_key);
  std::vector<reputation::Vote> votes;
  std::vector<std::uint8_t> hops;  // per vote: federation hops (0 for local reporters)
  std::string_view k, v;
  for (rc = vc.seek(codec::sv(codec::vote_key(loc.id, 0)), &k, &v);
       rc == 0 && has_prefix(k, prefix); rc = vc.get(&k, &v, MDB_NEXT)) {
    auto vr = codec::decode_vote(v);
    if (!vr || vr->kind == codec::VoteKind::kWithdrawn || k.size() != 8) continue;
    SignatureVote entry;
    entry.reporter = codec::get_u32(k.data() + 4);
    entry.revoke = vr->kind == codec::VoteKind::kRevoke;
    entry.time = from_u64(vr->time);
    hops.push_back((vr->flags & codec::kVotePeer) != 0 ? vr->hop : 0);
    info->votes.push_back(std::move(entry));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  vc.close();
  refresh_weights(txn);
  {
    ReaderMutexLock wl(&trust_mu_);
    for (std::size_t i = 0; i < info->votes.size(); ++i) {
      auto& entry = info->votes[i];
      reputation::Trust w = hop_weight(
          entry.reporter < weights_.size() ? weights_[entry.reporter] : reputation::Trust{0},
          hops[i]);
      entry.weight = reputation::trust_to_double(w);
      votes.push_back({w, entry.revoke});
      (entry.revoke ? info->revokes : info->reports) += 1;
    }
  }
  for (auto& entry : info->votes) {
    if (auto r = read_reporter(txn, entry.reporter)) entry.name = r->name;
  }
  info->confidence = reputation::confidence(votes);
  return 0;
}

Result<void> StoreImpl::check_admin_sigs(std::span<const sigs::Signature> sigs) const {
  for (const auto& s : sigs) {
    if (s.value.empty() || s.value.size() > opt_.max_value_bytes || !valid_engine(s.engine)) {
      return make_error(Errc::kInvalidArgument,
                        "signature value empty, too long or of an unknown engine: " +
                            std::string(sigs::engine_name(s.engine)));
    }
  }
  return {};
}

Result<std::vector<SignatureInfo>> StoreImpl::signature_info(
    std::span<const sigs::Signature> sigs) {
  auto rt = begin_read();
  if (!rt) return rt.error();
  lmdb::Txn& txn = rt->txn();
  std::vector<Located> found;
  if (int rc = locate_sigs(txn, nullptr, sigs, &found); rc != 0) {
    return lmdb::to_error(rc, "find signatures");
  }
  std::vector<SignatureInfo> out(sigs.size());
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    SignatureInfo& info = out[i];
    info.sig = sigs[i];
    std::uint64_t since = 0;
    int rc = find_allowed(txn, sigs[i].engine, sigs[i].value, &since);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::to_error(rc, "read allowlist");
    info.allowed = rc == 0;
    info.allowed_since = from_u64(since);
    if (found[i].id == 0) continue;
    if ((rc = describe_stored(txn, found[i], &info)) != 0) {
      return lmdb::to_error(rc, "read votes");
    }
  }
  return out;
}

Result<std::vector<bool>> StoreImpl::delete_signatures(std::span<const sigs::Signature> sigs) {
  STROP_TRY(check_admin_sigs(sigs));
  std::vector<sigs::Signature> targets(sigs.begin(), sigs.end());
  const std::size_t cost = targets.size();
  return run_sync<std::vector<bool>>(
      cost,
      [targets = std::move(targets)](StoreImpl& s, WriteCtx& c, Result<std::vector<bool>>* out) {
        return s.apply_delete_signatures(c, targets, out);
      });
}

int StoreImpl::apply_delete_signatures(WriteCtx& c, const std::vector<sigs::Signature>& targets,
                                       Result<std::vector<bool>>* out) {
  std::vector<Located> found;
  if (int rc = locate_sigs(*c.txn, &c, targets, &found); rc != 0) return rc;
  std::vector<bool> deleted(targets.size(), false);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    if (found[i].id != 0) {
      // (the same signature twice in one request: deleted once)
      std::string_view v;
      int rc = c.txn->get(dbi_.sigs, codec::sv(codec::sig_id_key(found[i].id)), &v);
      if (rc == 0) {
        if ((rc = delete_sig(c, found[i].id, found[i].rec)) != 0) return rc;
        deleted[i] = true;
      } else if (rc != MDB_NOTFOUND) {
        return rc;
      }
    }
    std::uint64_t since = 0;
    int rc = find_allowed(*c.txn, t.engine, t.value, &since);
    if (rc == 0) {
      rc = c.txn->del(dbi_.allowed, codec::sv(codec::allow_key(t.engine, t.value)));
      if (rc != 0) return rc;
      deleted[i] = true;
    } else if (rc != MDB_NOTFOUND) {
      return rc;
    }
  }
  *out = std::move(deleted);
  return 0;
}

Result<std::vector<bool>> StoreImpl::set_allowed(std::span<const sigs::Signature> sigs,
                                                 bool allowed) {
  STROP_TRY(check_admin_sigs(sigs));
  std::vector<sigs::Signature> targets(sigs.begin(), sigs.end());
  const std::uint64_t now_s = to_u64(now());
  const std::size_t cost = targets.size();
  return run_sync<std::vector<bool>>(
      cost, [targets = std::move(targets), allowed, now_s](StoreImpl& s, WriteCtx& c,
                                                           Result<std::vector<bool>>* out) {
        return s.apply_set_allowed(c, targets, allowed, now_s, out);
      });
}

int StoreImpl::apply_set_allowed(WriteCtx& c, const std::vector<sigs::Signature>& targets,
                                 bool allowed, std::uint64_t now_s,
                                 Result<std::vector<bool>>* out) {
  std::vector<bool> changed(targets.size(), false);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    std::uint64_t since = 0;
    int rc = find_allowed(*c.txn, t.engine, t.value, &since);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    const bool was = rc == 0;
    if (was == allowed) continue;
    const auto key = codec::allow_key(t.engine, t.value);
    rc = allowed ? c.txn->put(dbi_.allowed, codec::sv(key), codec::encode_allow(now_s, t.value))
                 : c.txn->del(dbi_.allowed, codec::sv(key));
    if (rc != 0) return rc;
    changed[i] = true;
  }
  *out = std::move(changed);
  return 0;
}

}  // namespace strop::storage
