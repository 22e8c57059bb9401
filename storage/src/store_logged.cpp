// store_logged.cpp: fleet mode: replicated-log events applied through the writer with their
// sequence, idempotently (see store.hpp "fleet mode" and docs/fleet.md).

#include <type_traits>

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

namespace {

// The Error a refusal of the inner write became, or none.
template <class T>
std::optional<Error> refusal(const Result<T>& r) {
  if (r) return std::nullopt;
  return r.error();
}

}  // namespace

int StoreImpl::apply_logged_op(WriteCtx& c, const LoggedOp& op, LoggedOutcome* out) {
  return std::visit(
      [&](const auto& w) -> int {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, LoggedVote>) {
          const VoteRequest& req = w.request;
          if (req.sigs.empty()) return 0;
          if (!req.message_sizes.empty()) {
            std::uint64_t total = 0;
            for (auto n : req.message_sizes) total += n;
            if (total != req.sigs.size()) {
              out->refused = make_error(Errc::kInvalidArgument,
                                        "message sizes do not add up to the signature count");
              return 0;
            }
          }
          if (req.replay &&
              (req.replay->nonce.empty() || req.replay->nonce.size() > kMaxReplayNonce)) {
            out->refused = make_error(Errc::kInvalidArgument, "replay nonce must be 1-128 bytes");
            return 0;
          }
          ReporterId id = 0;
          int rc = find_reporter_id(*c.txn, w.reporter, &id);
          if (rc == MDB_NOTFOUND) {
            out->refused = make_error(Errc::kNotFound, "no such reporter");
            return 0;
          }
          if (rc != 0) return rc;
          VoteRequest resolved = req;
          resolved.reporter = id;
          Result<VoteOutcome> r = VoteOutcome{};
          if ((rc = apply_vote(c, resolved, &r)) != 0) return rc;
          if (r) {
            out->votes = std::move(*r);
          } else {
            out->refused = r.error();
          }
          return 0;
        } else if constexpr (std::is_same_v<T, LoggedAddReporter>) {
          if (auto ok = check_reporter_spec(w.spec); !ok) {
            out->refused = ok.error();
            return 0;
          }
          Result<Reporter> r = make_error(Errc::kInternal, "not run");
          int rc = apply_add_reporter(c, w.spec, to_u64(w.created), &r);
          if (rc != 0) return rc;
          if (r) out->reporter = std::move(*r);
          out->refused = refusal(r);
          return 0;
        } else if constexpr (std::is_same_v<T, LoggedAddPeer>) {
          if (auto ok = check_peer_spec(w.spec); !ok) {
            out->refused = ok.error();
            return 0;
          }
          Result<Peer> r = make_error(Errc::kInternal, "not run");
          int rc = apply_add_peer(c, w.spec, to_u64(w.created), &r);
          if (rc != 0) return rc;
          if (r) out->peer = std::move(*r);
          out->refused = refusal(r);
          return 0;
        } else if constexpr (std::is_same_v<T, LoggedRemovePeer>) {
          Result<bool> r = false;
          int rc = apply_remove_peer(c, w.name, &r);
          if (rc != 0) return rc;
          out->refused = refusal(r);
          return 0;
        } else if constexpr (std::is_same_v<T, LoggedPeerBatch>) {
          return apply_logged_peer_batch(c, w, out);
        } else if constexpr (std::is_same_v<T, LoggedTouch>) {
          // Hits at some member, at the event's time: every member's activity moves alike.
          const std::uint64_t when = to_u64(w.now);
          for (const auto& sig : w.sigs) {
            if (sig.value.empty() || sig.value.size() > opt_.max_value_bytes) continue;
            codec::SigId id = 0;
            codec::SigRecord rec;
            int rc = find_sig(c, sig, codec::exact_key64(sig.engine, sig.value), &id, &rec);
            if (rc == MDB_NOTFOUND) continue;  // expired or deleted since the check
            if (rc != 0) return rc;
            if ((rc = touch_hit(c, id, when)) != 0) return rc;
          }
          return 0;
        } else if constexpr (std::is_same_v<T, LoggedExpire>) {
          return expire_due(c, to_u64(w.cutoff), std::max<std::size_t>(1, w.limit), &out->expired,
                            &out->more_due);
        } else if constexpr (std::is_same_v<T, LoggedSetTrust> ||
                             std::is_same_v<T, LoggedSetDisabled>) {
          std::function<void(codec::ReporterRecord&)> edit;
          if constexpr (std::is_same_v<T, LoggedSetTrust>) {
            if (!(w.trust >= 0.0 && w.trust <= 1.0)) {
              out->refused = make_error(Errc::kInvalidArgument, "trust must be between 0 and 1");
              return 0;
            }
            edit = [trust = w.trust, pinned = w.pinned](codec::ReporterRecord& r) {
              r.base = reputation::trust_from_double(trust);
              r.flags &= static_cast<std::uint8_t>(~codec::kReporterOpen);
              if (pinned) {
                r.flags |= codec::kReporterPinned;
              } else {
                r.flags &= static_cast<std::uint8_t>(~codec::kReporterPinned);
              }
            };
          } else {
            edit = [disabled = w.disabled](codec::ReporterRecord& r) {
              if (disabled) {
                r.flags |= codec::kReporterDisabled;
              } else {
                r.flags &= static_cast<std::uint8_t>(~codec::kReporterDisabled);
              }
            };
          }
          Result<Reporter> r = make_error(Errc::kInternal, "not run");
          int rc = apply_edit_reporter(c, w.name, edit, &r);
          if (rc != 0) return rc;
          if (r) out->reporter = std::move(*r);
          out->refused = refusal(r);
          return 0;
        } else {
          if (auto ok = check_admin_sigs(w.sigs); !ok) {
            out->refused = ok.error();
            return 0;
          }
          Result<std::vector<bool>> r = std::vector<bool>{};
          int rc = 0;
          if constexpr (std::is_same_v<T, LoggedSetAllowed>) {
            rc = apply_set_allowed(c, w.sigs, w.allowed, to_u64(w.now), &r);
          } else {
            rc = apply_delete_signatures(c, w.sigs, &r);
          }
          if (rc != 0) return rc;
          if (r) out->changed = std::move(*r);
          out->refused = refusal(r);
          return 0;
        }
      },
      op);
}

// By value: the completion keeps a copy and the enqueue-failure path still calls `done`.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void StoreImpl::apply_logged(LoggedWrite w, LoggedCallback done) {
  if (w.seq == 0) {
    done(make_error(Errc::kInvalidArgument, "log sequence 0"));
    return;
  }
  if (!opt_.serve) {
    done(make_error(Errc::kUnavailable, "log events are applied by the serving node"));
    return;
  }
  std::size_t cost = 1;
  if (const auto* v = std::get_if<LoggedVote>(&w.op))
    cost = std::max<std::size_t>(1, v->request.sigs.size());
  if (const auto* b = std::get_if<LoggedPeerBatch>(&w.op))
    cost = std::max<std::size_t>(1, b->entries.size());
  if (const auto* t = std::get_if<LoggedTouch>(&w.op))
    cost = std::max<std::size_t>(1, t->sigs.size());
  if (const auto* x = std::get_if<LoggedExpire>(&w.op)) cost = std::max<std::size_t>(1, x->limit);
  auto state = std::make_shared<std::optional<LoggedOutcome>>();
  auto op = std::make_unique<Op>();
  op->cost = cost;
  op->apply = [state, w = std::move(w)](StoreImpl& s, WriteCtx& c) {
    state->reset();
    LoggedOutcome out;
    if (w.seq <= c.applied_seq) {
      out.skipped = true;
      state->emplace(std::move(out));
      return 0;
    }
    int rc = s.apply_logged_op(c, w.op, &out);
    if (rc != 0) return rc;
    c.applied_seq = w.seq;
    c.applied_seq_changed = true;
    state->emplace(std::move(out));
    return 0;
  };
  op->complete = complete_from(state, done, "log event");
  auto q = enqueue(std::move(op));
  if (!q) done(q.error());
}

std::uint64_t StoreImpl::applied_sequence() { return applied_seq_.load(); }

}  // namespace strop::storage
