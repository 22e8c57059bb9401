// pyzor_service.cpp: pyzord's request handling over the node's Store (pyzor_service.hpp).
#include "pyzor_service.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <sstream>

#include "base/ascii.hpp"
#include "base/hex.hpp"
#include "node_common.hpp"
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

// The reply under construction: Code, Diag, PV, Thread first, as pyzord orders them.
struct Response {
  std::vector<Field> fields;

  explicit Response(std::string thread) {
    fields = {{"Code", "200"},
              {"Diag", "OK"},
              {"PV", std::string(pz::kProtocolVersion)},
              {"Thread", std::move(thread)}};
  }
  void error(int code, std::string diag) {
    fields[0].value = std::to_string(code);
    fields[1].value = std::move(diag);
    fields.resize(4);
  }
  void add(std::string name, std::string value) {
    fields.push_back({std::move(name), std::move(value)});
  }
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
    auto bad = [&line](std::string_view why) {
      std::string message = "pyzor.access: \"";
      message.append(line).append("\": ").append(why);
      return make_error(Errc::kInvalidArgument, std::move(message));
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

// One request being answered: where the reply goes and what it will say.
struct PyzorService::Call {
  Reply reply;
  std::size_t request_bytes = 0;
  Response resp{std::string()};
};

PyzorService::PyzorService(SignatureService& service, const RazorAccounts& accounts, PyzorAcl acl)
    : service_(service),
      accounts_(accounts),
      config_(service.config().pyzor),
      acl_(std::move(acl)) {}

Result<std::unique_ptr<PyzorService>> PyzorService::create(SignatureService& service,
                                                           const RazorAccounts& accounts) {
  auto acl = PyzorAcl::parse(service.config().pyzor.access);
  if (!acl) return acl.error();
  std::optional<storage::ReporterId> anon;
  if (acl->allowed("", true, PyzorAcl::kReport) || acl->allowed("", true, PyzorAcl::kWhitelist)) {
    auto r = service.find_reporter(kPyzorAnonymousReporter);
    if (!r && r.error().code == ServiceErrc::kUnknownReporter) {
      storage::ReporterSpec spec;
      spec.name = std::string(kPyzorAnonymousReporter);
      spec.secret = random_text(43, kAlnum);
      spec.pinned = false;
      spec.open_registration = true;  // anyone: never trusted
      r = service.add_reporter_now(spec);
      if (!r && r.error().code == ServiceErrc::kNameTaken)
        r = service.find_reporter(kPyzorAnonymousReporter);
    }
    if (!r) return make_error(Errc::kInternal, "pyzor: anonymous reporter: " + r.error().message);
    anon = r->id;
  }
  std::unique_ptr<PyzorService> s(new PyzorService(service, accounts, std::move(*acl)));
  s->anonymous_id_ = anon;
  return s;
}

// Amplification bound: the source address of a datagram is not authenticated, so an error
// reply is sent only when it is no larger than its request; larger replies go only to valid
// requests that passed the per-address budget (docs/security.md).
void PyzorService::send(Call& call) {
  std::string bytes = call.resp.encode();
  if (!call.resp.ok() && bytes.size() > call.request_bytes) {
    counters_.suppressed.add();
    return call.reply(std::string());
  }
  call.reply(std::move(bytes));
}

void PyzorService::handle(std::string_view datagram, std::string_view client, Reply reply) {
  counters_.requests.add();
  Call call{std::move(reply), datagram.size()};
  auto parsed = pz::parse_message(datagram, config_.limits);
  if (!parsed) return answer_unparsable(datagram, parsed.error(), call);
  const pz::Message& m = *parsed;
  const std::string* thread = m.find("Thread");
  if (thread == nullptr) {
    // No client could pair a reply with this request (garbage, probes): answering would only
    // make the node a reflector for spoofed sources. pyzord answers 400 here.
    counters_.bad_requests.add();
    return call.reply(std::string());
  }
  call.resp = Response(*thread);
  if (!service_.admit_client(client)) {
    // Over budget: dropped without a reply (pyzord has no budget; a 503 would let a spoofed
    // flood reflect at full rate).
    counters_.rate_limited.add();
    return call.reply(std::string());
  }
  Sender sender;
  if (!authenticate(m, call, &sender)) return;  // before the PV check, as pyzord
  if (!check_version(m, call)) return;

  const std::string* op_field = m.find("Op");
  unsigned bit = PyzorAcl::op_bit(op_field ? std::string_view(*op_field) : std::string_view());
  if (!acl_.allowed(sender.user, sender.anonymous, bit)) {
    counters_.denied.add();
    call.resp.error(403, "Forbidden: User is not authorized to request the operation.");
    return send(call);
  }
  auto digests = m.find_all("Op-Digest");
  if (digests.empty() || bit == PyzorAcl::kPing) return send(call);
  if (bit == PyzorAcl::kPong) {
    call.resp.add("Count", std::to_string(pz::kPongCount));
    call.resp.add("WL-Count", "0");
    return send(call);
  }
  if (bit == PyzorAcl::kCheck || bit == PyzorAcl::kInfo)
    return answer_check(digests[0], bit == PyzorAcl::kInfo, call);
  record_vote(digests, bit == PyzorAcl::kWhitelist, std::move(sender), std::move(call));
}

// Oversized or with too many fields: answered only when a Thread can be found to pair it.
void PyzorService::answer_unparsable(std::string_view datagram, const Error& why, Call& call) {
  counters_.bad_requests.add();
  std::string_view head = datagram.substr(0, config_.limits.max_datagram_bytes);
  auto end = head.rfind('\n');
  auto partial =
      pz::parse_message(head.substr(0, end == std::string_view::npos ? 0 : end),
                        pz::Limits{config_.limits.max_datagram_bytes, 1u << 16, 1u << 16});
  const std::string* t = partial ? partial->find("Thread") : nullptr;
  if (t == nullptr) return call.reply(std::string());
  call.resp = Response(*t);
  call.resp.error(400, "Bad request: " + why.message);
  send(call);
}

// A named user's signature (pyzord's rules: known user, Time within the window, Sig over the
// request with the user's key), then the account state and the node's replay cache.
bool PyzorService::authenticate(const pz::Message& m, Call& call, Sender* sender) {
  const std::string* user_field = m.find("User");
  sender->user = user_field ? *user_field : std::string();
  sender->anonymous = sender->user.empty() || sender->user == pz::kAnonymousUser;
  if (sender->anonymous) return true;
  const std::string& user = sender->user;
  auto unauthorized = [&](std::string why) {
    counters_.auth_failed.add();
    call.resp.error(401, "Unauthorized: Signature Error: " + std::move(why));
    send(call);
    return false;
  };
  auto internal = [&](std::string why) {
    counters_.errors.add();
    call.resp.error(500, "Internal Server Error: " + std::move(why));
    send(call);
    return false;
  };
  auto rep = service_.find_reporter(user);
  if (!rep) {
    if (rep.error().code == ServiceErrc::kUnknownReporter) return unauthorized("Unknown user.");
    return internal("reporter lookup failed");
  }
  const std::string* time_field = m.find("Time");
  auto ts = time_field ? pz::parse_time(*time_field) : std::nullopt;
  if (!ts) return unauthorized("Invalid Time.");
  const std::int64_t now = service_.unix_seconds();
  const std::int64_t window = config_.time_window_seconds;
  if (*ts > now + window || *ts < now - window)
    return unauthorized("Timestamp not within allowed range.");
  auto key = accounts_.pyzor_key(*rep);
  if (!key) {
    logger()->error("pyzor: no key for reporter {}: {}", rep->name, key.error().to_string());
    return internal("account key unavailable");
  }
  std::string expect = pz::sign(pz::hash_key(*key, user), *ts, pz::signed_text(m));
  const std::string* sig = m.find("Sig");
  if (sig == nullptr || *sig != expect) return unauthorized("Invalid signature.");
  if (rep->disabled) {
    counters_.denied.add();
    call.resp.error(403, "Forbidden: the account is disabled.");
    send(call);
    return false;
  }
  // The node's one replay cache, Pyzor's nonces kept apart from native ones by their prefix
  // (the same key the store consumes durably with the votes).
  std::string nonce = "pyzor:" + *sig;
  if (auto fresh = service_.remember_nonce(user, nonce, now, *ts + window); !fresh) {
    if (fresh.error().code == ServiceErrc::kReplayed) {
      counters_.replays.add();
      return unauthorized("Replayed request.");
    }
    counters_.errors.add();
    call.resp.error(503, "Service Unavailable: too many signed requests from this user");
    send(call);
    return false;
  }
  sender->reporter = rep->id;
  sender->replay =
      storage::ReplayKey{std::move(nonce), storage::TimePoint{std::chrono::seconds{*ts + window}}};
  return true;
}

bool PyzorService::check_version(const pz::Message& m, Call& call) {
  const std::string* pv = m.find("PV");
  auto refuse = [&](int code, std::string diag) {
    counters_.bad_requests.add();
    call.resp.error(code, std::move(diag));
    send(call);
    return false;
  };
  if (pv == nullptr) return refuse(400, "Bad request: Protocol Version not specified in request");
  auto major = pz::parse_pv_major(*pv);
  if (!major) return refuse(400, "Bad request: Invalid Protocol Version");
  if (*major != pz::kProtocolMajor) return refuse(505, "Version Not Supported: ");
  return true;
}

// check: Count / WL-Count from the node's verdict; info: the stored facts (see the header).
void PyzorService::answer_check(std::string_view digest, bool info, Call& call) {
  counters_.checks.add();
  std::uint32_t count = 0;
  std::uint32_t wl_count = 0;
  const storage::Match* stored = nullptr;  // pyzor is an exact engine: at most one match
  storage::CheckOutcome out;
  if (auto sig = digest_signature(digest)) {
    auto checked = service_.check(std::span<const sigs::Signature>(&*sig, 1), "pyzor: ");
    if (!checked) {
      counters_.errors.add();
      call.resp.error(500, "Internal Server Error: storage read failed");
      return send(call);
    }
    out = std::move(*checked);
    for (const auto& x : out.matches) {
      if (stored == nullptr) stored = &x;
      if (x.confidence >= service_.threshold() && x.reports > 0) {
        count = std::max(count, x.reports);
      } else {
        wl_count = std::max(wl_count, x.revokes);
      }
    }
    if (count > 0) wl_count = 0;
  }
  if (count > 0) counters_.check_hits.add();
  if (info) {
    // As pyzord's record: Entered = the first report, Updated = the latest report,
    // WL-Entered / WL-Updated = the earliest / latest "not spam" vote, Count / WL-Count =
    // the active reports / revokes, Unix seconds, 0 = never (or not stored).
    auto secs = [](storage::TimePoint t) { return std::to_string(t.time_since_epoch().count()); };
    storage::Match none;
    const storage::Match& m = stored != nullptr ? *stored : none;
    storage::TimePoint updated = m.last_report;
    if (stored != nullptr && updated < m.first_seen) updated = m.first_seen;  // reports withdrawn
    call.resp.add("Entered", secs(m.first_seen));
    call.resp.add("Updated", secs(updated));
    call.resp.add("WL-Entered", secs(m.first_revoke));
    call.resp.add("WL-Updated", secs(m.last_revoke));
    call.resp.add("Count", std::to_string(m.reports));
    call.resp.add("WL-Count", std::to_string(m.revokes));
    return send(call);
  }
  call.resp.add("Count", std::to_string(count));
  call.resp.add("WL-Count", std::to_string(wl_count));
  send(call);
}

// report / whitelist: one store write for every digest of the packet.
void PyzorService::record_vote(const std::vector<std::string_view>& digests, bool whitelist,
                               Sender sender, Call call) {
  if (digests.size() > config_.limits.max_digests) {
    counters_.bad_requests.add();
    call.resp.error(
        400, "Bad request: more than " + std::to_string(config_.limits.max_digests) + " digests");
    return send(call);
  }
  std::optional<storage::ReporterId> who = sender.reporter ? sender.reporter : anonymous_id_;
  if (!who) {
    counters_.denied.add();
    call.resp.error(403, "Forbidden: User is not authorized to request the operation.");
    return send(call);
  }
  if (!service_.admit_reporter(sender.anonymous ? kPyzorAnonymousReporter
                                                : std::string_view(sender.user))) {
    counters_.rate_limited.add();
    return call.reply(
        std::string());  // over the per-user budget: dropped, like the per-address one
  }
  std::vector<sigs::Signature> sigs;
  sigs.reserve(digests.size());
  for (auto d : digests) {
    if (auto s = digest_signature(d)) sigs.push_back(std::move(*s));
  }
  if (sigs.empty()) return send(call);  // pyzord stores anything; nothing valid to store here
  const std::size_t n = sigs.size();
  PyzorCounters* c = &counters_;
  // The replay key goes in the same commit as the votes: refused again after a restart.
  VoteCall vote{*who, whitelist, std::move(sigs), {}, std::move(sender.replay)};
  service_.vote(std::move(vote), [call = std::move(call), c, n,
                                  whitelist](const ServiceResult<storage::VoteOutcome>& r) mutable {
    if (r) {
      (whitelist ? c->whitelisted_sigs : c->reported_sigs).add(n);
    } else if (r.error().code == ServiceErrc::kOverloaded) {
      c->errors.add();
      call.resp.error(503, "Service Unavailable: " + r.error().message);
    } else if (r.error().code == ServiceErrc::kReplayed) {
      c->replays.add();
      c->auth_failed.add();
      call.resp.error(401, "Unauthorized: Signature Error: Replayed request.");
    } else if (r.error().code == ServiceErrc::kForbidden ||
               r.error().code == ServiceErrc::kUnknownReporter) {
      c->denied.add();
      call.resp.error(403, "Forbidden: the account is disabled.");
    } else {
      c->errors.add();
      call.resp.error(500, "Internal Server Error: storage write failed");
    }
    call.reply(call.resp.encode());
  });
}

}  // namespace strop::node
