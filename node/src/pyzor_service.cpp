// pyzor_service.cpp: pyzord's request handling over the node's Store (pyzor_service.hpp).
#include "pyzor_service.hpp"

#include "node_common.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <sstream>

#include "base/ascii.hpp"
#include "base/hex.hpp"
#include "protocol/limits.hpp"

namespace strop::node {

namespace pz = protocol::pyzor;
using pz::Field;

namespace {

std::string lower_trim(std::string_view s) { return to_lower(trim(s, " \t\r\n")); }

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// A pyzor digest as a Strop signature (40 hex digits, lowercased); nullopt otherwise.
std::optional<sigs::Signature> digest_signature(std::string_view d) {
  if (d.size() != 40) return std::nullopt;
  std::string v = to_lower(d);
  if (!is_lower_hex(v)) return std::nullopt;
  return sigs::Signature{sigs::Engine::kPyzor, std::move(v)};
}

std::int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The reply under construction: Code, Diag, PV, Thread first, as pyzord orders them.
struct Response {
  std::vector<Field> fields;

  explicit Response(std::string thread) {
    fields = {{"Code", "200"}, {"Diag", "OK"}, {"PV", std::string(pz::kProtocolVersion)}, {"Thread", std::move(thread)}};
  }
  void error(int code, std::string diag) {
    fields[0].value = std::to_string(code);
    fields[1].value = std::move(diag);
    fields.resize(4);
  }
  void add(std::string name, std::string value) { fields.push_back({std::move(name), std::move(value)}); }
  bool ok() const { return fields[0].value == "200"; }
  std::string encode() const { return pz::encode_message(fields); }
};

}  // namespace

// ---- ACL ----------------------------------------------------------------------------------

unsigned PyzorAcl::op_bit(std::string_view op) {
  if (op == "check") return kCheck;
  if (op == "report") return kReport;
  if (op == "whitelist") return kWhitelist;
  if (op == "info") return kInfo;
  if (op == "ping") return kPing;
  if (op == "pong") return kPong;
  return 0;
}

Result<PyzorAcl> PyzorAcl::parse(const std::vector<std::string>& lines) {
  PyzorAcl acl;
  for (const auto& line : lines) {
    std::vector<std::string_view> parts;
    std::string_view rest = line;
    for (;;) {
      auto c = rest.find(':');
      parts.push_back(rest.substr(0, c));
      if (c == std::string_view::npos) break;
      rest.remove_prefix(c + 1);
    }
    auto bad = [&line](std::string why) {
      return make_error(Errc::kInvalidArgument, "pyzor.access: \"" + line + "\": " + why);
    };
    if (parts.size() != 3) return bad("want \"ops : users : allow|deny\"");
    Rule r;
    std::string ops = lower_trim(parts[0]);
    std::string users(parts[1]);
    std::string verdict = lower_trim(parts[2]);
    if (verdict == "allow") {
      r.allow = true;
    } else if (verdict != "deny") {
      return bad("the last field must be allow or deny");
    }
    if (ops == "all") {
      r.ops = kAllOps;
    } else {
      for (const auto& w : words(ops)) {
        unsigned b = op_bit(w);
        if (b == 0) return bad("unknown operation \"" + w + "\"");
        r.ops |= b;
      }
    }
    if (r.ops == 0) return bad("no operation");
    auto u = words(users);
    if (u.size() == 1 && lower_trim(u[0]) == "all") {
      r.all_users = true;
    } else {
      if (u.empty()) return bad("no user");
      r.users = std::move(u);
    }
    acl.rules_.push_back(std::move(r));
  }
  return acl;
}

bool PyzorAcl::allowed(std::string_view user, bool anonymous, unsigned bit) const {
  if (bit == 0) return false;
  bool allow = false;  // the implicit final rule: all : all : deny
  for (const auto& r : rules_) {
    if (!(r.ops & bit)) continue;
    bool match = r.all_users && !anonymous;
    if (!match) {
      for (const auto& u : r.users) {
        if (anonymous ? u == pz::kAnonymousUser : u == user) {
          match = true;
          break;
        }
      }
    }
    if (match) allow = r.allow;
  }
  return allow;
}

// ---- service ------------------------------------------------------------------------------

PyzorServiceOptions pyzor_service_options(const Config& c) {
  PyzorServiceOptions o;
  o.pyzor = c.pyzor;
  o.threshold = c.store.threshold;
  o.ip_limit = c.ip_limit;
  o.reporter_limit = c.reporter_limit;
  o.rate_limit_entries = c.rate_limit_entries;
  o.replay_cache_per_user = c.nonce_cache_per_reporter;
  return o;
}

PyzorService::PyzorService(storage::Store& store, const RazorAccounts& accounts, PyzorServiceOptions options,
                           Clocks clocks, PyzorAcl acl)
    : store_(store),
      accounts_(accounts),
      opt_(std::move(options)),
      clocks_(std::move(clocks)),
      acl_(std::move(acl)),
      ip_limiter_(opt_.ip_limit.per_second, opt_.ip_limit.burst, opt_.rate_limit_entries),
      reporter_limiter_(opt_.reporter_limit.per_second, opt_.reporter_limit.burst, opt_.rate_limit_entries),
      replays_(opt_.pyzor.replay_cache_entries, opt_.replay_cache_per_user) {
  if (!clocks_.unix_seconds) clocks_.unix_seconds = system_seconds;
  if (!clocks_.mono_ns) clocks_.mono_ns = steady_ns;
}

Result<std::unique_ptr<PyzorService>> PyzorService::create(storage::Store& store, const RazorAccounts& accounts,
                                                           PyzorServiceOptions options, Clocks clocks) {
  auto acl = PyzorAcl::parse(options.pyzor.access);
  if (!acl) return acl.error();
  std::optional<storage::ReporterId> anon;
  if (acl->allowed("", true, PyzorAcl::kReport) || acl->allowed("", true, PyzorAcl::kWhitelist)) {
    auto r = store.find_reporter(kPyzorAnonymousReporter);
    if (!r && r.error().code == Errc::kNotFound) {
      storage::ReporterSpec spec;
      spec.name = std::string(kPyzorAnonymousReporter);
      spec.secret = random_text(43, kAlnum);
      spec.pinned = false;
      spec.open_registration = true;  // anyone: never trusted
      r = store.add_reporter(spec);
      if (!r && r.error().code == Errc::kExists) r = store.find_reporter(kPyzorAnonymousReporter);
    }
    if (!r) return r.error();
    anon = r->id;
  }
  std::unique_ptr<PyzorService> s(new PyzorService(store, accounts, std::move(options), std::move(clocks), std::move(*acl)));
  s->anonymous_id_ = anon;
  return s;
}

void PyzorService::handle(std::string_view datagram, std::string_view client, Reply reply) {
  counters_.requests.add();
  // Amplification bound: the source address of a datagram is not authenticated, so an error
  // reply is sent only when it is no larger than its request; larger replies go only to
  // valid requests that passed the per-address budget (docs/security.md).
  const std::size_t request_bytes = datagram.size();
  auto answer = [this, request_bytes, &reply](const Response& r) {
    std::string bytes = r.encode();
    if (!r.ok() && bytes.size() > request_bytes) {
      counters_.suppressed.add();
      return reply(std::string());
    }
    reply(std::move(bytes));
  };
  auto parsed = pz::parse_message(datagram, opt_.pyzor.limits);
  if (!parsed) {
    // Oversized or with too many fields: answered only when a Thread can be found to pair it.
    counters_.bad_requests.add();
    std::string_view head = datagram.substr(0, opt_.pyzor.limits.max_datagram_bytes);
    auto partial = pz::parse_message(head.substr(0, head.rfind('\n') == std::string_view::npos ? 0 : head.rfind('\n')),
                                     pz::Limits{opt_.pyzor.limits.max_datagram_bytes, 1u << 16, 1u << 16});
    const std::string* t = partial ? partial->find("Thread") : nullptr;
    if (t == nullptr) return reply(std::string());
    Response r(*t);
    r.error(400, "Bad request: " + parsed.error().message);
    return answer(r);
  }
  const pz::Message& m = *parsed;
  const std::string* thread = m.find("Thread");
  if (thread == nullptr) {
    // No client could pair a reply with this request (garbage, probes): answering would only
    // make the node a reflector for spoofed sources. pyzord answers 400 here.
    counters_.bad_requests.add();
    return reply(std::string());
  }
  Response resp(*thread);

  if (!ip_limiter_.take(client, clocks_.mono_ns()).allowed) {
    // Over budget: dropped without a reply (pyzord has no budget; a 503 would let a spoofed
    // flood reflect at full rate).
    counters_.rate_limited.add();
    return reply(std::string());
  }

  // Authentication (before the PV check, as pyzord).
  const std::string* user_field = m.find("User");
  std::string user = user_field ? *user_field : std::string();
  bool anonymous = user.empty() || user == pz::kAnonymousUser;
  std::optional<storage::ReporterId> reporter;
  std::optional<storage::ReplayKey> replay;  // signed requests: consumed durably by writes
  if (!anonymous) {
    auto unauthorized = [&](std::string why) {
      counters_.auth_failed.add();
      resp.error(401, "Unauthorized: Signature Error: " + std::move(why));
      answer(resp);
    };
    auto rep = protocol::valid_reporter_name(user) ? store_.find_reporter(std::string_view(user))
                                                    : Result<storage::Reporter>(make_error(Errc::kNotFound, ""));
    if (!rep) {
      if (rep.error().code == Errc::kNotFound) return unauthorized("Unknown user.");
      logger()->error("pyzor: reporter lookup failed: {}", rep.error().to_string());
      counters_.errors.add();
      resp.error(500, "Internal Server Error: reporter lookup failed");
      return answer(resp);
    }
    const std::string* time_field = m.find("Time");
    auto ts = time_field ? pz::parse_time(*time_field) : std::nullopt;
    if (!ts) return unauthorized("Invalid Time.");
    std::int64_t now = clocks_.unix_seconds();
    std::int64_t window = opt_.pyzor.time_window_seconds;
    if (*ts > now + window || *ts < now - window) return unauthorized("Timestamp not within allowed range.");
    auto key = accounts_.pyzor_key(*rep);
    if (!key) {
      logger()->error("pyzor: no key for reporter {}: {}", rep->name, key.error().to_string());
      counters_.errors.add();
      resp.error(500, "Internal Server Error: account key unavailable");
      return answer(resp);
    }
    std::string expect = pz::sign(pz::hash_key(*key, user), *ts, pz::signed_text(m));
    const std::string* sig = m.find("Sig");
    if (sig == nullptr || *sig != expect) return unauthorized("Invalid signature.");
    if (rep->disabled) {
      counters_.denied.add();
      resp.error(403, "Forbidden: the account is disabled.");
      return answer(resp);
    }
    switch (replays_.insert(user, *sig, now, *ts + window)) {
      case NonceCache::Outcome::kFresh:
      case NonceCache::Outcome::kUntracked:  // reports/whitelists are still checked durably
        break;
      case NonceCache::Outcome::kReplay:
        counters_.replays.add();
        return unauthorized("Replayed request.");
      case NonceCache::Outcome::kFull:
        counters_.errors.add();
        resp.error(503, "Service Unavailable: too many signed requests from this user");
        return answer(resp);
    }
    reporter = rep->id;
    replay = storage::ReplayKey{"pyzor:" + *sig, storage::TimePoint{std::chrono::seconds{*ts + window}}};
  }

  const std::string* pv = m.find("PV");
  if (pv == nullptr) {
    counters_.bad_requests.add();
    resp.error(400, "Bad request: Protocol Version not specified in request");
    return answer(resp);
  }
  auto major = pz::parse_pv_major(*pv);
  if (!major) {
    counters_.bad_requests.add();
    resp.error(400, "Bad request: Invalid Protocol Version");
    return answer(resp);
  }
  if (*major != pz::kProtocolMajor) {
    counters_.bad_requests.add();
    resp.error(505, "Version Not Supported: ");
    return answer(resp);
  }

  const std::string* op_field = m.find("Op");
  std::string op = op_field ? *op_field : std::string();
  unsigned bit = PyzorAcl::op_bit(op);
  if (!acl_.allowed(user, anonymous, bit)) {
    counters_.denied.add();
    resp.error(403, "Forbidden: User is not authorized to request the operation.");
    return answer(resp);
  }

  auto digests = m.find_all("Op-Digest");
  if (digests.empty() || bit == PyzorAcl::kPing) return answer(resp);

  if (bit == PyzorAcl::kPong) {
    resp.add("Count", std::to_string(pz::kPongCount));
    resp.add("WL-Count", "0");
    return answer(resp);
  }

  if (bit == PyzorAcl::kCheck || bit == PyzorAcl::kInfo) {
    counters_.checks.add();
    std::uint32_t count = 0;
    std::uint32_t wl_count = 0;
    if (auto sig = digest_signature(digests[0])) {
      auto out = store_.check(std::span<const sigs::Signature>(&*sig, 1));
      if (!out) {
        logger()->error("pyzor: check failed: {}", out.error().to_string());
        counters_.errors.add();
        resp.error(500, "Internal Server Error: storage read failed");
        return answer(resp);
      }
      for (const auto& x : out->matches) {
        if (x.confidence >= opt_.threshold && x.reports > 0) {
          count = std::max(count, x.reports);
        } else {
          wl_count = std::max(wl_count, x.revokes);
        }
      }
      if (count > 0) wl_count = 0;
    }
    if (count > 0) counters_.check_hits.add();
    if (bit == PyzorAcl::kInfo) {
      // The Store keeps no per-digest timestamps for pyzor's fields: 0 means "unknown".
      resp.add("Entered", "0");
      resp.add("Updated", "0");
      resp.add("WL-Entered", "0");
      resp.add("WL-Updated", "0");
    }
    resp.add("Count", std::to_string(count));
    resp.add("WL-Count", std::to_string(wl_count));
    return answer(resp);
  }

  // report / whitelist: one store write for every digest of the packet.
  bool whitelist = bit == PyzorAcl::kWhitelist;
  if (digests.size() > opt_.pyzor.limits.max_digests) {
    counters_.bad_requests.add();
    resp.error(400, "Bad request: more than " + std::to_string(opt_.pyzor.limits.max_digests) + " digests");
    return answer(resp);
  }
  storage::ReporterId who = 0;
  if (reporter) {
    who = *reporter;
  } else if (anonymous_id_) {
    who = *anonymous_id_;
  } else {
    counters_.denied.add();
    resp.error(403, "Forbidden: User is not authorized to request the operation.");
    return answer(resp);
  }
  if (!reporter_limiter_.take(anonymous ? std::string_view(kPyzorAnonymousReporter) : std::string_view(user),
                              clocks_.mono_ns())
           .allowed) {
    counters_.rate_limited.add();
    return reply(std::string());  // over the per-user budget: dropped, like the per-address one
  }
  std::vector<sigs::Signature> sigs;
  sigs.reserve(digests.size());
  for (auto d : digests) {
    if (auto s = digest_signature(d)) sigs.push_back(std::move(*s));
  }
  if (sigs.empty()) return answer(resp);  // pyzord stores anything; nothing valid to store here
  std::size_t n = sigs.size();
  PyzorCounters* c = &counters_;
  auto done = [resp = std::move(resp), reply = std::move(reply), c, n, whitelist](Result<storage::VoteOutcome> r) mutable {
    if (r) {
      (whitelist ? c->whitelisted_sigs : c->reported_sigs).add(n);
    } else if (r.error().code == Errc::kUnavailable) {
      c->errors.add();
      resp.error(503, "Service Unavailable: " + r.error().message);
    } else if (r.error().code == Errc::kReplayed) {
      c->replays.add();
      c->auth_failed.add();
      resp.error(401, "Unauthorized: Signature Error: Replayed request.");
    } else if (r.error().code == Errc::kForbidden || r.error().code == Errc::kNotFound) {
      c->denied.add();
      resp.error(403, "Forbidden: the account is disabled.");
    } else {
      c->errors.add();
      resp.error(500, "Internal Server Error: storage write failed");
    }
    reply(resp.encode());
  };
  storage::VoteRequest vr;
  vr.reporter = who;
  vr.revoke = whitelist;
  vr.sigs = std::move(sigs);
  vr.replay = std::move(replay);  // in the same commit as the votes: refused again after a restart
  vr.now = storage::TimePoint{std::chrono::seconds{clocks_.unix_seconds()}};
  store_.vote(std::move(vr), std::move(done));
}

}  // namespace strop::node
