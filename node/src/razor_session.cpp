// razor_session.cpp: the Razor2 protocol state machine over the Store (razor_session.hpp).
#include "razor_session.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "node_common.hpp"
#include "protocol/limits.hpp"
#include "sigs/compute.hpp"

namespace strop::node {

namespace rz = protocol::razor;
using rz::Action;
using rz::Sis;

namespace {

Sis err(int code) {
  Sis s;
  s.add("err", std::to_string(code));
  return s;
}

Sis res(int v) {
  Sis s;
  s.add("res", std::to_string(v));
  return s;
}

// The err= code of a service refusal.
int err_for(const ServiceError& e) {
  switch (e.code) {
    case ServiceErrc::kOverloaded:
    case ServiceErrc::kRateLimited: return rz::kErrBusy;
    case ServiceErrc::kForbidden:
    case ServiceErrc::kUnknownReporter: return rz::kErrForbidden;  // unknown (deleted) or disabled
    case ServiceErrc::kInvalid: return rz::kErrBadRequest;
    case ServiceErrc::kLimitExceeded: return rz::kErrLimit;
    case ServiceErrc::kNameTaken: return rz::kErrUserExists;
    default: return rz::kErrInternal;
  }
}

// The Strop signature of a razor query's (e, s); nullopt for other engines or a bad value.
std::optional<sigs::Signature> query_signature(std::string_view e, std::string_view s) {
  sigs::Engine engine;
  if (e == "4") {
    engine = sigs::Engine::kRazorE4;
  } else if (e == "8") {
    engine = sigs::Engine::kRazorE8;
  } else {
    return std::nullopt;
  }
  std::string text(sigs::engine_name(engine));
  text += ':';
  text.append(s);
  auto parsed = sigs::parse_signature(text);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

// "127.0.0.1" from "::ffff:127.0.0.1"; "" for other IPv6 addresses (the client ignores them).
std::string ipv4_of(const std::string& host) {
  if (host.starts_with("::ffff:") && host.find('.') != std::string::npos) return host.substr(7);
  if (host.find(':') != std::string::npos) return "";
  return host;
}

}  // namespace

RazorService::RazorService(SignatureService& service, const RazorAccounts& accounts)
    : service_(service),
      accounts_(accounts),
      ep4_(*sigs::razor::parse_ep4(sigs::razor::kDefaultEp4)) {}

std::vector<sigs::Signature> RazorService::upload_signatures(std::string_view mail) const {
  std::vector<sigs::Signature> out;
  rz::Upload up = rz::split_upload(mail);
  if (up.parts.empty()) return out;
  for (const auto& part : up.parts) {
    auto signed_part = sigs::razor::sign_part(part, ep4_);
    if (!signed_part || signed_part->skipme) continue;
    if (!signed_part->e4.empty())
      out.push_back({sigs::Engine::kRazorE4, std::move(signed_part->e4)});
    for (auto& e8 : signed_part->e8) out.push_back({sigs::Engine::kRazorE8, std::move(e8)});
  }
  // A boundary that occurs nowhere in the mail.
  std::string boundary;
  do {
    boundary = "=_strop_" + random_text(16, kAlnum);
  } while (mail.find(boundary) != std::string_view::npos);
  std::string rebuilt = rz::rebuild_message(up, boundary);
  sigs::Options o;
  o.engines = sigs::EngineMask::native();
  o.engines.add(sigs::Engine::kPyzor);
  if (auto set = sigs::compute(rebuilt, o)) {
    for (auto& s : set->sigs) out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---- session ----------------------------------------------------------------------------

// Replies of one request, completed by the synchronous part and any store callbacks.
struct RazorSession::Pending {
  std::vector<std::optional<Sis>> slots;  // nullopt: the query gets no reply (cn=, a=q)
  std::atomic<int> outstanding{1};        // the synchronous part holds one
  bool close = false;
  Done done;

  void finish_one() {
    if (outstanding.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::vector<Sis> out;
    out.reserve(slots.size());
    for (auto& s : slots) {
      if (s) out.push_back(std::move(*s));
    }
    done(Reply{rz::encode_reply(out), close});
  }
};

// The queries of one request that need the service: checks (one lookup), an upload and
// revokes (one write each).
struct RazorSession::Work {
  std::vector<std::size_t> check_slots;
  std::vector<sigs::Signature> check_sigs;
  std::vector<std::size_t> revoke_slots;
  std::vector<sigs::Signature> revoke_sigs;
  std::optional<std::size_t> upload_slot;
  std::vector<sigs::Signature> upload_sigs;
};

RazorSession::RazorSession(RazorService& service, std::string client_ip, std::string local_host,
                           unsigned short local_port)
    : svc_(service),
      client_ip_(std::move(client_ip)),
      local_host_(std::move(local_host)),
      local_port_(local_port) {}

std::string RazorSession::greeting() const {
  // As the verified transcripts (razor2.md §12): "a=l&a=cg" parses as a=cg (identify).
  return "sn=C&srl=" + std::to_string(svc_.config().srl) +
         "&a=l&a=cg&ep4=" + std::string(sigs::razor::kDefaultEp4) + "\r\n";
}

Sis RazorSession::state_reply() const {
  Sis s;
  s.add("ac", std::to_string(svc_.service_.threshold()))
      .add("bql", "4")
      .add("bqs", "128")
      .add("dre", "4")
      .add("ep4", std::string(sigs::razor::kDefaultEp4))
      .add("se", "88")  // engines 4 and 8
      .add("sn", "C")
      .add("srl", std::to_string(svc_.config().srl));
  return s;
}

std::vector<Sis> RazorSession::server_list(std::string_view key) const {
  std::vector<Sis> out;
  if (!svc_.config().advertise.empty()) {
    for (const auto& a : svc_.config().advertise) out.push_back(Sis().add(std::string(key), a));
    return out;
  }
  std::string host = ipv4_of(local_host_);
  if (!host.empty())
    out.push_back(Sis().add(std::string(key), host + ":" + std::to_string(local_port_)));
  return out;
}

void RazorSession::handle(rz::Request request, Done done) {
  svc_.counters_.requests.add();
  if (handle_alone(request, done)) return;

  auto pending = std::make_shared<Pending>();
  pending->slots.resize(request.queries.size());
  pending->done = std::move(done);
  const bool limited = over_budget(request);
  Work work;
  for (std::size_t i = 0; i < request.queries.size(); ++i) {
    const Sis& q = request.queries[i];
    Action a = rz::classify(q);
    if (a == Action::kIdentify) continue;  // never answered
    if (a == Action::kQuit) {
      pending->close = true;
      continue;
    }
    if (limited) {
      pending->slots[i] = err(rz::kErrBusy);
      svc_.counters_.errors.add();
      continue;
    }
    pending->slots[i] = answer(q, i, *pending, work);
  }
  run_checks(work, *pending);
  run_votes(work, pending);
  pending->finish_one();
}

// Discovery is the one single query answered with a batch (one line per server); a
// registration waits for a commit.
bool RazorSession::handle_alone(const rz::Request& request, Done& done) {
  if (request.queries.size() != 1) return false;
  Action a = rz::classify(request.queries[0]);
  if (a == Action::kGetCsl || a == Action::kGetNsl) {
    auto list = server_list(a == Action::kGetCsl ? "csl" : "nsl");
    if (list.empty()) list.push_back(err(rz::kErrInternal));
    done(Reply{rz::encode_reply(list), false});
    return true;
  }
  if (a == Action::kRegister) {
    handle_register(request.queries[0], std::move(done));
    return true;
  }
  return false;
}

// One token per request from the client's address budget (cn= and a=q are free).
bool RazorSession::over_budget(const rz::Request& request) {
  bool costs = false;
  for (const auto& q : request.queries) {
    Action a = rz::classify(q);
    costs |= a != Action::kIdentify && a != Action::kQuit;
  }
  return costs && !svc_.service_.admit_client(client_ip_);
}

// The reply of one query, or nullopt when `work` collected it for run_checks/run_votes.
std::optional<Sis> RazorSession::answer(const Sis& q, std::size_t i, Pending& pending, Work& work) {
  Action a = rz::classify(q);
  switch (a) {
    case Action::kGetState: return state_reply();
    case Action::kGetCsl:
    case Action::kGetNsl: {
      auto list = server_list(a == Action::kGetCsl ? "csl" : "nsl");
      return list.empty() ? err(rz::kErrInternal) : list.front();
    }
    case Action::kCheck: return collect_check(q, i, work);
    case Action::kReportCheck:
      // Always ask for the mail: the upload yields e8 and the node's own engines, which the
      // e4 alone cannot give.
      return reporter_ ? err(rz::kErrSendMail) : err(rz::kErrNotAuthenticated);
    case Action::kReportUpload: return collect_upload(q, i, work);
    case Action::kRevoke: return collect_revoke(q, i, work);
    case Action::kAuthInit: return auth_init(q);
    case Action::kAuth: return auth_response(q, pending);
    case Action::kRegister:  // only as a single query (handle_alone)
    case Action::kGetOther:
    case Action::kUnknown:
    default: return refuse(rz::kErrBadRequest);
  }
}

std::optional<Sis> RazorSession::collect_check(const Sis& q, std::size_t i, Work& work) {
  svc_.counters_.checks.add();
  // e4 values are stored for the node's ep4 only: any other ep4 cannot match.
  std::string_view ep4 = q.get("ep4");
  bool other_ep4 = q.get("e") == "4" && q.has("ep4") && ep4 != sigs::razor::kDefaultEp4;
  auto sig = query_signature(q.get("e"), q.get("s"));
  if (!sig || other_ep4) return Sis().add("p", "0");
  work.check_slots.push_back(i);
  work.check_sigs.push_back(std::move(*sig));
  return std::nullopt;
}

Sis RazorSession::refuse(int code) {
  svc_.counters_.errors.add();
  return err(code);
}

std::optional<Sis> RazorSession::collect_upload(const Sis& q, std::size_t i, Work& work) {
  if (!reporter_) return refuse(rz::kErrNotAuthenticated);
  // One upload per request (the client sends exactly one).
  if (work.upload_slot) return refuse(rz::kErrBadRequest);
  svc_.counters_.uploads.add();
  work.upload_slot = i;
  work.upload_sigs = svc_.upload_signatures(q.get("message"));
  return std::nullopt;
}

std::optional<Sis> RazorSession::collect_revoke(const Sis& q, std::size_t i, Work& work) {
  if (!reporter_) return refuse(rz::kErrNotAuthenticated);
  auto sig = query_signature(q.get("e"), q.get("s"));
  if (!sig) return refuse(rz::kErrBadRequest);
  work.revoke_slots.push_back(i);
  work.revoke_sigs.push_back(std::move(*sig));
  return std::nullopt;
}

// a=ai: look the user up and hand out a challenge.
Sis RazorSession::auth_init(const Sis& q) {
  auto& counters = svc_.counters_;
  achal_.clear();
  auto rep = svc_.service_.find_reporter(q.get("user"));
  if (!rep) {
    counters.errors.add();
    return err(rep.error().code == ServiceErrc::kUnknownReporter ? rz::kErrUnknownUser
                                                                 : rz::kErrInternal);
  }
  if (rep->disabled) {
    counters.errors.add();
    return err(rz::kErrForbidden);
  }
  auto pass = svc_.accounts_.razor_password(*rep);
  if (!pass) {
    logger()->error("razor: cannot open the password of reporter {}: {}", rep->name,
                    pass.error().to_string());
    counters.errors.add();
    return err(rz::kErrInternal);
  }
  pending_user_ = rep->name;
  pending_pass_ = std::move(*pass);
  achal_ = random_text(16, kAlnum);
  reporter_.reset();
  return Sis().add("achal", achal_);
}

// a=auth: the challenge's response; the connection is closed after kMaxAuthFailures.
Sis RazorSession::auth_response(const Sis& q, Pending& pending) {
  bool ok = false;
  if (!achal_.empty()) {
    std::string expect = rz::auth_response(pending_pass_, achal_);
    std::string_view got = q.get("aresp");
    ok =
        got.size() == expect.size() && CRYPTO_memcmp(got.data(), expect.data(), expect.size()) == 0;
  }
  OPENSSL_cleanse(pending_pass_.data(), pending_pass_.size());
  pending_pass_.clear();
  achal_.clear();
  if (ok) {
    auto rep = svc_.service_.find_reporter(pending_user_);
    ok = rep.has_value() && !rep->disabled;
    if (ok) {
      reporter_ = rep->id;
      reporter_name_ = rep->name;
    }
  }
  if (ok) {
    svc_.counters_.auth_ok.add();
    return res(1);
  }
  svc_.counters_.auth_failed.add();
  logger()->info("razor: authentication failed for {} from {}", pending_user_, client_ip_);
  if (++auth_failures_ >= kMaxAuthFailures) pending.close = true;
  return res(0);
}

// Checks: one lookup for the whole request; each query answered from its best match.
void RazorSession::run_checks(Work& work, Pending& pending) {
  if (work.check_sigs.empty()) return;
  auto out = svc_.service_.check(work.check_sigs, "razor: ");
  if (!out) {
    for (auto i : work.check_slots) pending.slots[i] = err(rz::kErrInternal);
    return;
  }
  std::vector<const storage::Match*> best(work.check_sigs.size(), nullptr);
  for (const auto& m : out->matches) {
    if (m.query_index < best.size() &&
        (!best[m.query_index] || m.confidence > best[m.query_index]->confidence)) {
      best[m.query_index] = &m;
    }
  }
  for (std::size_t k = 0; k < work.check_slots.size(); ++k) {
    const storage::Match* m = best[k];
    Sis s;
    if (m != nullptr && m->reports > 0 && m->confidence > 0) {
      s.add("cf", std::to_string(m->confidence)).add("p", "1");
      if (m->revokes > 0) s.add("ct", "1");  // contested: reported and revoked
      svc_.counters_.check_hits.add();
    } else {
      s.add("p", "0");
    }
    pending.slots[work.check_slots[k]] = std::move(s);
  }
}

// Votes: asynchronous, acknowledged after the durable commit.
void RazorSession::run_votes(Work& work, const std::shared_ptr<Pending>& pending) {
  auto& counters = svc_.counters_;
  bool vote_limited = false;
  if ((work.upload_slot || !work.revoke_sigs.empty()) && reporter_) {
    vote_limited = !svc_.service_.admit_reporter(reporter_name_);
  }
  RazorCounters* c = &counters;
  if (work.upload_slot) {
    std::size_t slot = *work.upload_slot;
    if (vote_limited) {
      pending->slots[slot] = err(rz::kErrBusy);
      counters.errors.add();
    } else if (work.upload_sigs.empty()) {
      pending->slots[slot] = res(1);  // nothing signable: accepted, nothing stored
    } else {
      pending->outstanding.fetch_add(1, std::memory_order_relaxed);
      std::size_t count = work.upload_sigs.size();
      svc_.service_.vote({*reporter_, false, std::move(work.upload_sigs), {}, std::nullopt},
                         [pending, slot, count, c](const ServiceResult<storage::VoteOutcome>& r) {
                           if (r) {
                             c->reported_sigs.add(count);
                             pending->slots[slot] = res(1);
                           } else {
                             c->errors.add();
                             pending->slots[slot] = err(err_for(r.error()));
                           }
                           pending->finish_one();
                         });
    }
  }
  if (work.revoke_sigs.empty()) return;
  if (vote_limited) {
    for (auto i : work.revoke_slots) pending->slots[i] = err(rz::kErrBusy);
    counters.errors.add();
    return;
  }
  pending->outstanding.fetch_add(1, std::memory_order_relaxed);
  std::size_t count = work.revoke_sigs.size();
  svc_.service_.vote({*reporter_, true, std::move(work.revoke_sigs), {}, std::nullopt},
                     [pending, slots = std::move(work.revoke_slots), count,
                      c](const ServiceResult<storage::VoteOutcome>& r) {
                       if (r) c->revoked_sigs.add(count);
                       if (!r) c->errors.add();
                       for (auto i : slots)
                         pending->slots[i] = r ? res(1) : err(err_for(r.error()));
                       pending->finish_one();
                     });
}

void RazorSession::handle_register(const Sis& q, Done done) {
  auto& counters = svc_.counters_;
  auto reply = [&done](const Sis& s) { done(Reply{rz::make_sis(s), false}); };
  if (!svc_.service_.open_registration()) {
    counters.errors.add();
    return reply(err(rz::kErrForbidden));
  }
  if (!svc_.service_.admit_registration(client_ip_)) {
    counters.errors.add();
    return reply(err(rz::kErrBusy));
  }
  std::string user(q.get("user"));
  std::string pass(q.get("pass"));
  if (user.empty()) user = "razor-" + random_text(12, "abcdefghijklmnopqrstuvwxyz0123456789");
  if (pass.empty()) pass = random_text(20, kAlnum);
  bool pass_ok =
      pass.size() <= kMaxRazorPassword && std::any_of(pass.begin(), pass.end(), [](char c) {
        return c != ' ' && c != '\t' && c != '\r' && c != '\n';
      });
  if (!protocol::valid_reporter_name(user) || !pass_ok) {
    counters.errors.add();
    return reply(err(rz::kErrBadRequest));
  }
  auto sealed = svc_.accounts_.seal(user, pass);
  if (!sealed) {
    logger()->error("razor: cannot seal a password: {}", sealed.error().to_string());
    counters.errors.add();
    return reply(err(rz::kErrInternal));
  }
  storage::ReporterSpec spec;
  spec.name = user;
  spec.secret = std::move(*sealed);
  spec.pinned = false;            // new-reporter trust, earned
  spec.open_registration = true;  // nobody vouched for it: never trusted without an admin
  RazorCounters* c = &counters;
  svc_.service_.add_reporter(
      std::move(spec), [user, pass, done = std::move(done), c,
                        ip = client_ip_](ServiceResult<storage::Reporter> r) mutable {
        Sis s;
        if (r) {
          c->registrations.add();
          logger()->info("razor: registered reporter {} from {}", r->name, ip);
          s.add("res", "1").add("user", user).add("pass", pass);
        } else if (r.error().code == ServiceErrc::kNameTaken) {
          s = err(rz::kErrUserExists);
        } else {
          c->errors.add();
          logger()->warn("razor: registration of {} failed: {}", user, r.error().message);
          s = err(err_for(r.error()));
        }
        OPENSSL_cleanse(pass.data(), pass.size());
        done(Reply{rz::make_sis(s), false});
      });
}

}  // namespace strop::node
