// store_reporters.cpp: reporter administration, synchronous writes through the writer (see
// store_impl.hpp).

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

// ---------------------------------------------------------------------------------------
// Reporters (synchronous writes through the writer)

Result<void> StoreImpl::check_reporter_spec(const ReporterSpec& spec) const {
  if (!valid_reporter_name(spec.name)) {
    return make_error(Errc::kInvalidArgument,
                      "reporter name must be 1-64 characters of [A-Za-z0-9._@+-]");
  }
  if (spec.secret.empty() || spec.secret.size() > kMaxReporterSecret) {
    return make_error(Errc::kInvalidArgument, "reporter secret must be 1-128 bytes");
  }
  if (spec.trust && !(*spec.trust >= 0.0 && *spec.trust <= 1.0)) {
    return make_error(Errc::kInvalidArgument, "trust must be between 0 and 1");
  }
  return {};
}

Result<Reporter> StoreImpl::add_reporter(const ReporterSpec& spec) {
  STROP_TRY(check_reporter_spec(spec));
  const std::uint64_t created = to_u64(now());
  return run_sync<Reporter>(1, [spec, created](StoreImpl& s, WriteCtx& c, Result<Reporter>* out) {
    return s.apply_add_reporter(c, spec, created, out);
  });
}

int StoreImpl::apply_add_reporter(WriteCtx& c, const ReporterSpec& spec, std::uint64_t created,
                                  Result<Reporter>* out) {
  ReporterId existing = 0;
  int rc = find_reporter_id(*c.txn, spec.name, &existing);
  if (rc == 0) {
    *out = make_error(Errc::kExists, "reporter '" + spec.name + "' exists");
    return 0;
  }
  if (rc != MDB_NOTFOUND) return rc;
  ReporterId id = c.next_reporter_id++;
  codec::ReporterRecord r;
  r.base = spec.trust ? reputation::trust_from_double(*spec.trust) : reputation::kNewReporterTrust;
  if (spec.trust && spec.pinned) r.flags |= codec::kReporterPinned;
  if (spec.admin) r.flags |= codec::kReporterAdmin;
  if (spec.open_registration) r.flags |= codec::kReporterOpen;  // capped until vouched
  r.created = created;
  r.name = spec.name;
  r.secret = spec.secret;
  set_effective_trust(r);
  rc = c.txn->put(dbi_.reporters, codec::sv(codec::reporter_key(id)), codec::encode_reporter(r));
  if (rc != 0) return rc;
  rc = c.txn->put(dbi_.reporter_names, spec.name, codec::encode_id(id), MDB_NOOVERWRITE);
  if (rc != 0) return rc;
  ++c.counts.reporters;
  c.weights[id] = weight_of(r);
  c.reporters_changed = true;
  *out = to_reporter(id, r);
  return 0;
}

Result<Reporter> StoreImpl::set_trust(std::string_view name, double trust, bool pinned) {
  if (!(trust >= 0.0 && trust <= 1.0)) {
    return make_error(Errc::kInvalidArgument, "trust must be between 0 and 1");
  }
  return edit_reporter(name, [trust, pinned](codec::ReporterRecord& r) {
    r.base = reputation::trust_from_double(trust);
    r.flags &= static_cast<std::uint8_t>(~codec::kReporterOpen);  // an admin vouches for it
    if (pinned) {
      r.flags |= codec::kReporterPinned;
    } else {
      r.flags &= static_cast<std::uint8_t>(~codec::kReporterPinned);
    }
  });
}

Result<Reporter> StoreImpl::set_disabled(std::string_view name, bool disabled) {
  return edit_reporter(name, [disabled](codec::ReporterRecord& r) {
    if (disabled) {
      r.flags |= codec::kReporterDisabled;
    } else {
      r.flags &= static_cast<std::uint8_t>(~codec::kReporterDisabled);
    }
  });
}

Result<Reporter> StoreImpl::edit_reporter(std::string_view name,
                                          std::function<void(codec::ReporterRecord&)> edit) {
  std::string n(name);
  return run_sync<Reporter>(
      1, [n, edit = std::move(edit)](StoreImpl& s, WriteCtx& c, Result<Reporter>* out) {
        return s.apply_edit_reporter(c, n, edit, out);
      });
}

int StoreImpl::apply_edit_reporter(WriteCtx& c, std::string_view name,
                                   const std::function<void(codec::ReporterRecord&)>& edit,
                                   Result<Reporter>* out) {
  ReporterId id = 0;
  int rc = find_reporter_id(*c.txn, name, &id);
  if (rc == MDB_NOTFOUND) {
    *out = make_error(Errc::kNotFound, "no such reporter");
    return 0;
  }
  if (rc != 0) return rc;
  if ((rc = update_reporter(c, id, edit)) != 0) return rc;
  std::string_view v;
  if ((rc = c.txn->get(dbi_.reporters, codec::sv(codec::reporter_key(id)), &v)) != 0) return rc;
  auto r = codec::decode_reporter(v);
  if (!r) return MDB_CORRUPTED;
  c.weights[id] = weight_of(*r);  // publish the new weight even when it did not change
  c.reporters_changed = true;
  *out = to_reporter(id, *r);
  return 0;
}

}  // namespace strop::storage
