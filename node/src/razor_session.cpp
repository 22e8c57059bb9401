// razor_session.cpp: the Razor2 protocol state machine over the Store (razor_session.hpp).
#include "razor_session.hpp"

#include "node_common.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>

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

int err_for(const Error& e) {
  switch (e.code) {
    case Errc::kUnavailable:
    case Errc::kRateLimited: return rz::kErrBusy;
    case Errc::kForbidden:
    case Errc::kNotFound: return rz::kErrForbidden;  // unknown (deleted) or disabled reporter
    case Errc::kInvalidArgument:
    case Errc::kMalformed: return rz::kErrBadRequest;
    case Errc::kLimitExceeded: return rz::kErrLimit;
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

RazorServiceOptions razor_service_options(const Config& c) {
  RazorServiceOptions o;
  o.razor = c.razor;
  o.threshold = c.store.threshold;
  o.open_registration = c.open_registration;
  o.ip_limit = c.ip_limit;
  o.reporter_limit = c.reporter_limit;
  o.register_limit = c.register_limit;
  o.rate_limit_entries = c.rate_limit_entries;
  if (auto l = parse_listen(c.razor.listen)) o.port = l->port;
  return o;
}

RazorService::RazorService(storage::Store& store, const RazorAccounts& accounts, RazorServiceOptions options,
                           Offload offload, std::function<std::int64_t()> mono_ns)
    : store_(store),
      accounts_(accounts),
      opt_(std::move(options)),
      offload_(std::move(offload)),
      mono_ns_(std::move(mono_ns)),
      ep4_(*sigs::razor::parse_ep4(sigs::razor::kDefaultEp4)),
      ip_limiter_(opt_.ip_limit.per_second, opt_.ip_limit.burst, opt_.rate_limit_entries),
      reporter_limiter_(opt_.reporter_limit.per_second, opt_.reporter_limit.burst, opt_.rate_limit_entries),
      register_limiter_(opt_.register_limit.per_second, opt_.register_limit.burst, opt_.rate_limit_entries) {
  if (!offload_) offload_ = [](std::function<void()> job) { job(); };
  if (!mono_ns_) mono_ns_ = steady_ns;
}

std::vector<sigs::Signature> RazorService::upload_signatures(std::string_view mail) const {
  std::vector<sigs::Signature> out;
  rz::Upload up = rz::split_upload(mail);
  if (up.parts.empty()) return out;
  for (const auto& part : up.parts) {
    auto signed_part = sigs::razor::sign_part(part, ep4_);
    if (!signed_part || signed_part->skipme) continue;
    if (!signed_part->e4.empty()) out.push_back({sigs::Engine::kRazorE4, std::move(signed_part->e4)});
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

RazorSession::RazorSession(RazorService& service, std::string client_ip, std::string local_host,
                           unsigned short local_port)
    : svc_(service), client_ip_(std::move(client_ip)), local_host_(std::move(local_host)), local_port_(local_port) {}

std::string RazorSession::greeting() const {
  // As the verified transcripts (razor2.md §12): "a=l&a=cg" parses as a=cg (identify).
  return "sn=C&srl=" + std::to_string(svc_.opt_.razor.srl) + "&a=l&a=cg&ep4=" +
         std::string(sigs::razor::kDefaultEp4) + "\r\n";
}

Sis RazorSession::state_reply() const {
  Sis s;
  s.add("ac", std::to_string(svc_.opt_.threshold))
      .add("bql", "4")
      .add("bqs", "128")
      .add("dre", "4")
      .add("ep4", std::string(sigs::razor::kDefaultEp4))
      .add("se", "88")  // engines 4 and 8
      .add("sn", "C")
      .add("srl", std::to_string(svc_.opt_.razor.srl));
  return s;
}

std::vector<Sis> RazorSession::server_list(std::string_view key) const {
  std::vector<Sis> out;
  if (!svc_.opt_.razor.advertise.empty()) {
    for (const auto& a : svc_.opt_.razor.advertise) out.push_back(Sis().add(std::string(key), a));
    return out;
  }
  std::string host = ipv4_of(local_host_);
  if (!host.empty()) out.push_back(Sis().add(std::string(key), host + ":" + std::to_string(local_port_)));
  return out;
}

void RazorSession::handle(rz::Request request, Done done) {
  auto& counters = svc_.counters_;
  counters.requests.add();
  const std::size_t n = request.queries.size();

  // Discovery is the one single query answered with a batch (one line per server).
  if (n == 1) {
    Action a = rz::classify(request.queries[0]);
    if (a == Action::kGetCsl || a == Action::kGetNsl) {
      auto list = server_list(a == Action::kGetCsl ? "csl" : "nsl");
      if (list.empty()) list.push_back(err(rz::kErrInternal));
      return done(Reply{rz::encode_reply(list), false});
    }
    if (a == Action::kRegister) return handle_register(request.queries[0], std::move(done));
  }

  auto pending = std::make_shared<Pending>();
  pending->slots.resize(n);
  pending->done = std::move(done);

  // One token per request from the client's IP bucket (cn= and a=q are free).
  bool limited = false;
  {
    bool costs = false;
    for (const auto& q : request.queries) {
      Action a = rz::classify(q);
      costs |= a != Action::kIdentify && a != Action::kQuit;
    }
    if (costs) limited = !svc_.ip_limiter_.take(client_ip_, svc_.mono_ns_()).allowed;
  }

  std::vector<std::size_t> check_slots;
  std::vector<sigs::Signature> check_sigs;
  std::vector<std::size_t> revoke_slots;
  std::vector<sigs::Signature> revoke_sigs;
  std::optional<std::size_t> upload_slot;
  std::vector<sigs::Signature> upload_sigs;

  for (std::size_t i = 0; i < n; ++i) {
    const Sis& q = request.queries[i];
    Action a = rz::classify(q);
    auto& slot = pending->slots[i];
    if (a == Action::kIdentify) continue;  // never answered
    if (a == Action::kQuit) {
      pending->close = true;
      continue;
    }
    if (limited) {
      slot = err(rz::kErrBusy);
      counters.errors.add();
      continue;
    }
    switch (a) {
      case Action::kGetState: slot = state_reply(); break;
      case Action::kGetCsl:
      case Action::kGetNsl: {
        auto list = server_list(a == Action::kGetCsl ? "csl" : "nsl");
        slot = list.empty() ? err(rz::kErrInternal) : list.front();
        break;
      }
      case Action::kCheck: {
        counters.checks.add();
        // e4 values are stored for the node's ep4 only: any other ep4 cannot match.
        std::string_view ep4 = q.get("ep4");
        bool other_ep4 = q.get("e") == "4" && q.has("ep4") && ep4 != sigs::razor::kDefaultEp4;
        auto sig = query_signature(q.get("e"), q.get("s"));
        if (!sig || other_ep4) {
          slot = Sis().add("p", "0");
        } else {
          check_slots.push_back(i);
          check_sigs.push_back(std::move(*sig));
        }
        break;
      }
      case Action::kReportCheck:
        // Always ask for the mail: the upload yields e8 and the node's own engines, which the
        // e4 alone cannot give.
        slot = reporter_ ? err(rz::kErrSendMail) : err(rz::kErrNotAuthenticated);
        break;
      case Action::kReportUpload: {
        if (!reporter_) {
          slot = err(rz::kErrNotAuthenticated);
          counters.errors.add();
          break;
        }
        if (upload_slot) {  // one upload per request (the client sends exactly one)
          slot = err(rz::kErrBadRequest);
          counters.errors.add();
          break;
        }
        counters.uploads.add();
        upload_slot = i;
        upload_sigs = svc_.upload_signatures(q.get("message"));
        break;
      }
      case Action::kRevoke: {
        if (!reporter_) {
          slot = err(rz::kErrNotAuthenticated);
          counters.errors.add();
          break;
        }
        auto sig = query_signature(q.get("e"), q.get("s"));
        if (!sig) {
          slot = err(rz::kErrBadRequest);
          counters.errors.add();
          break;
        }
        revoke_slots.push_back(i);
        revoke_sigs.push_back(std::move(*sig));
        break;
      }
      case Action::kAuthInit: {
        achal_.clear();
        std::string user(q.get("user"));
        auto rep = protocol::valid_reporter_name(user) ? svc_.store_.find_reporter(std::string_view(user))
                                                        : Result<storage::Reporter>(make_error(Errc::kNotFound, ""));
        if (!rep) {
          if (rep.error().code != Errc::kNotFound) {
            logger()->error("razor: reporter lookup failed: {}", rep.error().to_string());
            slot = err(rz::kErrInternal);
          } else {
            slot = err(rz::kErrUnknownUser);
          }
          counters.errors.add();
          break;
        }
        if (rep->disabled) {
          slot = err(rz::kErrForbidden);
          counters.errors.add();
          break;
        }
        auto pass = svc_.accounts_.razor_password(*rep);
        if (!pass) {
          logger()->error("razor: cannot open the password of reporter {}: {}", rep->name, pass.error().to_string());
          slot = err(rz::kErrInternal);
          counters.errors.add();
          break;
        }
        pending_user_ = rep->name;
        pending_pass_ = std::move(*pass);
        achal_ = random_text(16, kAlnum);
        reporter_.reset();
        slot = Sis().add("achal", achal_);
        break;
      }
      case Action::kAuth: {
        bool ok = false;
        if (!achal_.empty()) {
          std::string expect = rz::auth_response(pending_pass_, achal_);
          std::string_view got = q.get("aresp");
          ok = got.size() == expect.size() && CRYPTO_memcmp(got.data(), expect.data(), expect.size()) == 0;
        }
        OPENSSL_cleanse(pending_pass_.data(), pending_pass_.size());
        pending_pass_.clear();
        achal_.clear();
        if (ok) {
          auto rep = svc_.store_.find_reporter(std::string_view(pending_user_));
          ok = rep.ok() && !rep->disabled;
          if (ok) {
            reporter_ = rep->id;
            reporter_name_ = rep->name;
          }
        }
        if (ok) {
          counters.auth_ok.add();
          slot = res(1);
        } else {
          counters.auth_failed.add();
          logger()->info("razor: authentication failed for {} from {}", pending_user_, client_ip_);
          slot = res(0);
          if (++auth_failures_ >= kMaxAuthFailures) pending->close = true;
        }
        break;
      }
      case Action::kRegister:  // only as a single query (above)
      case Action::kGetOther:
      case Action::kUnknown:
      default:
        slot = err(rz::kErrBadRequest);
        counters.errors.add();
        break;
    }
  }

  // Checks: one Store lookup for the whole request.
  if (!check_sigs.empty()) {
    auto out = svc_.store_.check(check_sigs);
    if (!out) {
      logger()->error("razor: check failed: {}", out.error().to_string());
      for (auto i : check_slots) pending->slots[i] = err(rz::kErrInternal);
    } else {
      std::vector<const storage::Match*> best(check_sigs.size(), nullptr);
      for (const auto& m : out->matches) {
        if (m.query_index < best.size() && (!best[m.query_index] || m.confidence > best[m.query_index]->confidence)) {
          best[m.query_index] = &m;
        }
      }
      for (std::size_t k = 0; k < check_slots.size(); ++k) {
        const storage::Match* m = best[k];
        Sis s;
        if (m != nullptr && m->reports > 0 && m->confidence > 0) {
          s.add("cf", std::to_string(m->confidence)).add("p", "1");
          if (m->revokes > 0) s.add("ct", "1");  // contested: reported and revoked
          counters.check_hits.add();
        } else {
          s.add("p", "0");
        }
        pending->slots[check_slots[k]] = std::move(s);
      }
    }
  }

  // Votes: asynchronous, acknowledged after the durable commit.
  bool vote_limited = false;
  if ((upload_slot || !revoke_sigs.empty()) && reporter_) {
    vote_limited = !svc_.reporter_limiter_.take(reporter_name_, svc_.mono_ns_()).allowed;
  }
  storage::TimePoint now = svc_.store_.now();
  if (upload_slot) {
    std::size_t slot = *upload_slot;
    if (vote_limited) {
      pending->slots[slot] = err(rz::kErrBusy);
      counters.errors.add();
    } else if (upload_sigs.empty()) {
      pending->slots[slot] = res(1);  // nothing signable: accepted, nothing stored
    } else {
      pending->outstanding.fetch_add(1, std::memory_order_relaxed);
      std::size_t count = upload_sigs.size();
      RazorCounters* c = &counters;
      svc_.store_.report(*reporter_, std::move(upload_sigs), now, [pending, slot, count, c](Result<storage::VoteOutcome> r) {
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
  if (!revoke_sigs.empty()) {
    if (vote_limited) {
      for (auto i : revoke_slots) pending->slots[i] = err(rz::kErrBusy);
      counters.errors.add();
    } else {
      pending->outstanding.fetch_add(1, std::memory_order_relaxed);
      std::size_t count = revoke_sigs.size();
      RazorCounters* c = &counters;
      svc_.store_.revoke(*reporter_, std::move(revoke_sigs), now,
                         [pending, slots = std::move(revoke_slots), count, c](Result<storage::VoteOutcome> r) {
                           if (r) c->revoked_sigs.add(count);
                           if (!r) c->errors.add();
                           for (auto i : slots) pending->slots[i] = r ? res(1) : err(err_for(r.error()));
                           pending->finish_one();
                         });
    }
  }
  pending->finish_one();
}

void RazorSession::handle_register(const Sis& q, Done done) {
  auto& counters = svc_.counters_;
  auto reply = [&done](Sis s) { done(Reply{rz::make_sis(s), false}); };
  if (!svc_.opt_.open_registration) {
    counters.errors.add();
    return reply(err(rz::kErrForbidden));
  }
  if (!svc_.register_limiter_.take(client_ip_, svc_.mono_ns_()).allowed) {
    counters.errors.add();
    return reply(err(rz::kErrBusy));
  }
  std::string user(q.get("user"));
  std::string pass(q.get("pass"));
  if (user.empty()) user = "razor-" + random_text(12, "abcdefghijklmnopqrstuvwxyz0123456789");
  if (pass.empty()) pass = random_text(20, kAlnum);
  bool pass_ok = pass.size() <= kMaxRazorPassword &&
                 std::any_of(pass.begin(), pass.end(), [](char c) { return c != ' ' && c != '\t' && c != '\r' && c != '\n'; });
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
  spec.pinned = false;  // new-reporter trust, earned
  spec.open_registration = true;  // nobody vouched for it: never trusted without an admin
  storage::Store* store = &svc_.store_;
  RazorCounters* c = &counters;
  std::string ip = client_ip_;
  svc_.offload_([store, spec = std::move(spec), user, pass, done = std::move(done), c, ip]() mutable {
    Sis s;
    try {
      auto r = store->add_reporter(spec);
      if (r) {
        c->registrations.add();
        logger()->info("razor: registered reporter {} from {}", r->name, ip);
        s.add("res", "1").add("user", user).add("pass", pass);
      } else if (r.error().code == Errc::kExists) {
        s = err(rz::kErrUserExists);
      } else {
        c->errors.add();
        logger()->warn("razor: registration of {} failed: {}", user, r.error().to_string());
        s = err(err_for(r.error()));
      }
    } catch (const std::exception& e) {
      logger()->error("razor: registration failed: {}", e.what());
      s = err(rz::kErrInternal);
    }
    OPENSSL_cleanse(pass.data(), pass.size());
    done(Reply{rz::make_sis(s), false});
  });
}

}  // namespace strop::node
