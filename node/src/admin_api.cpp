// admin_api.cpp: the admin API under /admin/ (admin_api.hpp).
#include "admin_api.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "admin_api_internal.hpp"
#include "base/hex.hpp"
#include "node_common.hpp"
#include "sigs/signature.hpp"

namespace strop::node {

using admin_internal::Action;
using admin_internal::Route;
using protocol::ApiErrc;

namespace {

HttpResponse json_response(const nlohmann::ordered_json& j) {
  HttpResponse r;
  r.body = j.dump();
  return r;
}

// A delete, allow or unallow, on the offload executor.
void apply_write(SignatureService& service, Action action, const std::string& actor,
                 const sigs::Signature& s, const Done& done) {
  auto changed = admin_internal::write_signature(service, action, actor, s);
  if (!changed) return done(Api::error_response(changed.error()));
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["id"] = s.text();
  if (action == Action::kDelete) {
    j["deleted"] = *changed;
  } else {
    j["allowed"] = action == Action::kAllow;
    j["changed"] = *changed;
  }
  done(json_response(j));
}

// A reporter route's error: the reporter the path names is a resource, so "unknown" is 404
// (the native API's kUnknownReporter is about the request's signer).
HttpResponse reporter_error(const ServiceError& e) {
  if (e.code == ServiceErrc::kUnknownReporter)
    return Api::error_response(ApiErrc::kNotFound, "no such reporter");
  return Api::error_response(e);
}

// A set-trust, disable or enable, on the offload executor.
void apply_reporter_write(SignatureService& service, Action action, const std::string& actor,
                          const std::string& name, admin_internal::TrustChange trust,
                          const Done& done) {
  auto r = admin_internal::write_reporter(service, action, actor, name, trust);
  if (!r) return done(reporter_error(r.error()));
  done(json_response(reporter_json(*r)));
}

// The reporter routes, once the request is authenticated as an admin's.
void handle_reporter(SignatureService& service, const Route& route, const HttpRequest& req,
                     const std::string& actor, Done done) {
  if (route.action == Action::kReporterList) {
    const auto q = req.target.find('?');
    auto page = admin_internal::parse_reporter_query(
        q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1));
    if (!page) return done(Api::error_response(ApiErrc::kInvalid, page.error().message));
    // One more than asked for: whether there is a next page.
    auto list = service.list_reporters(page->after, page->limit + 1);
    if (!list) return done(Api::error_response(list.error()));
    const bool more = list->size() > page->limit;
    if (more) list->resize(page->limit);
    nlohmann::ordered_json j;
    j["v"] = 1;
    auto reporters = nlohmann::ordered_json::array();
    for (const auto& r : *list) reporters.push_back(reporter_json(r));
    j["reporters"] = std::move(reporters);
    j["next"] = more ? nlohmann::ordered_json(list->back().name) : nlohmann::ordered_json(nullptr);
    return done(json_response(j));
  }
  auto name = admin_internal::parse_name(route.id);
  if (!name) return done(Api::error_response(ApiErrc::kInvalid, name.error().message));
  if (route.action == Action::kReporterShow) {
    auto r = service.find_reporter(*name);
    if (!r) return done(reporter_error(r.error()));
    return done(json_response(reporter_json(*r)));
  }
  admin_internal::TrustChange trust;
  if (route.action == Action::kReporterTrust) {
    auto t = admin_internal::parse_trust_body(req.body);
    if (!t) return done(Api::error_response(ApiErrc::kInvalid, t.error().message));
    trust = *t;
  }
  // Writes wait for their commit (in fleet mode for the log and the local apply).
  service.offload([&service, action = route.action, actor, name = std::move(*name), trust,
                   done = std::move(done)] {
    try {
      apply_reporter_write(service, action, actor, name, trust, done);
    } catch (const std::exception& e) {
      logger()->error("internal error handling an admin request: {}", e.what());
      done(Api::error_response(ApiErrc::kInternal, "internal error"));
    }
  });
}

// A peer route's error: the peer the path names is a resource, so "unknown" is 404.
HttpResponse peer_error(const ServiceError& e) {
  if (e.code == ServiceErrc::kUnknownReporter)
    return Api::error_response(ApiErrc::kNotFound, "no such peer");
  return Api::error_response(e);
}

// A peer write (add, trust, disable, enable, remove), on the offload executor.
void apply_peer_write(SignatureService& service, Action action, const std::string& actor,
                      const std::string& name, const storage::PeerSpec& spec,
                      admin_internal::TrustChange trust, const Done& done) {
  if (action == Action::kPeerAdd) {
    auto p = service.add_peer(spec);
    if (!p) return done(peer_error(p.error()));
    logger()->info("admin {}: added peer {} ({}, trust {:.3f})", actor, spec.name, spec.url,
                   spec.trust);
    return done(json_response(peer_json(*p)));
  }
  // Only a peer's name: a reporter's is "no such peer" here.
  if (auto p = service.find_peer(name); !p) return done(peer_error(p.error()));
  if (action == Action::kPeerRemove) {
    auto r = service.remove_peer(name);
    if (!r) return done(peer_error(r.error()));
    logger()->info("admin {}: removed peer {}", actor, name);
    nlohmann::ordered_json j;
    j["v"] = 1;
    j["name"] = name;
    j["removed"] = true;
    return done(json_response(j));
  }
  ServiceResult<storage::Reporter> r =
      action == Action::kPeerTrust
          ? service.set_reporter_trust(name, trust.trust, true)
          : service.set_reporter_disabled(name, action == Action::kPeerDisable);
  if (!r) return done(peer_error(r.error()));
  if (action == Action::kPeerTrust) {
    logger()->info("admin {}: set trust of peer {} to {:.3f}", actor, name, trust.trust);
  } else {
    logger()->info("admin {}: {} peer {}", actor,
                   action == Action::kPeerDisable ? "disabled" : "enabled", name);
  }
  auto p = service.find_peer(name);
  if (!p) return done(peer_error(p.error()));
  done(json_response(peer_json(*p)));
}

// The peer routes, once the request is authenticated as an admin's.
void handle_peer(SignatureService& service, const Route& route, const HttpRequest& req,
                 const std::string& actor, Done done) {
  if (route.action == Action::kPeerList) {
    auto list = service.list_peers();
    if (!list) return done(Api::error_response(list.error()));
    nlohmann::ordered_json j;
    j["v"] = 1;
    auto peers = nlohmann::ordered_json::array();
    for (const auto& p : *list) peers.push_back(peer_json(p));
    j["peers"] = std::move(peers);
    return done(json_response(j));
  }
  std::string name;
  storage::PeerSpec spec;
  admin_internal::TrustChange trust;
  if (route.action == Action::kPeerAdd) {
    auto b = admin_internal::parse_peer_body(req.body);
    if (!b) return done(Api::error_response(ApiErrc::kInvalid, b.error().message));
    spec = std::move(*b);
  } else {
    auto n = admin_internal::parse_name(route.id);
    if (!n) return done(Api::error_response(ApiErrc::kInvalid, n.error().message));
    name = std::move(*n);
    if (route.action == Action::kPeerShow) {
      auto p = service.find_peer(name);
      if (!p) return done(peer_error(p.error()));
      return done(json_response(peer_json(*p)));
    }
    if (route.action == Action::kPeerTrust) {
      auto t = admin_internal::parse_trust_body(req.body);
      if (!t) return done(Api::error_response(ApiErrc::kInvalid, t.error().message));
      trust = *t;
    }
  }
  // Writes wait for their commit (in fleet mode for the log and the local apply).
  service.offload([&service, action = route.action, actor, name = std::move(name),
                   spec = std::move(spec), trust, done = std::move(done)] {
    try {
      apply_peer_write(service, action, actor, name, spec, trust, done);
    } catch (const std::exception& e) {
      logger()->error("internal error handling an admin request: {}", e.what());
      done(Api::error_response(ApiErrc::kInternal, "internal error"));
    }
  });
}

}  // namespace

namespace admin_internal {

namespace {

// When `rest` is an ID followed by one of `verbs` ("/allow", ...), makes `r` that verb's POST
// route on the ID before it.
template <std::size_t N>
void take_verb(Route& r, std::string_view rest,
               const std::pair<std::string_view, Action> (&verbs)[N]) {
  for (const auto& [suffix, action] : verbs) {
    if (rest.size() > suffix.size() && rest.ends_with(suffix)) {
      r.id = rest.substr(0, rest.size() - suffix.size());
      r.action = action;
      r.method = "POST";
      return;
    }
  }
}

}  // namespace

ServiceResult<bool> write_signature(SignatureService& service, Action action,
                                    std::string_view actor, const sigs::Signature& s) {
  std::span<const sigs::Signature> one(&s, 1);
  if (action == Action::kDelete) {
    auto d = service.delete_signatures(one);
    if (!d) return d.error();
    logger()->info("admin {}: deleted signature {} ({})", actor, s.text(),
                   d->at(0) ? "done" : "not stored");
    return static_cast<bool>(d->at(0));
  }
  const bool allow = action == Action::kAllow;
  auto c = service.set_allowed(one, allow);
  if (!c) return c.error();
  logger()->info("admin {}: {} signature {}", actor, allow ? "allowed" : "unallowed", s.text());
  return static_cast<bool>(c->at(0));
}

ServiceResult<storage::Reporter> write_reporter(SignatureService& service, Action action,
                                                std::string_view actor, const std::string& name,
                                                TrustChange trust) {
  ServiceResult<storage::Reporter> r =
      action == Action::kReporterTrust
          ? service.set_reporter_trust(name, trust.trust, trust.pinned)
          : service.set_reporter_disabled(name, action == Action::kReporterDisable);
  if (!r) return r;
  if (action == Action::kReporterTrust) {
    logger()->info("admin {}: set trust of reporter {} to {:.3f}{}", actor, name, trust.trust,
                   trust.pinned ? " (pinned)" : "");
  } else {
    logger()->info("admin {}: {} reporter {}", actor,
                   action == Action::kReporterDisable ? "disabled" : "enabled", name);
  }
  return r;
}

std::optional<Route> route_of(std::string_view path, std::string_view method) {
  if (path == kReportersPath) return Route{Action::kReporterList, {}, "GET"};
  if (path.starts_with(kReporterPrefix)) {
    std::string_view rest = path.substr(kReporterPrefix.size());
    static constexpr std::pair<std::string_view, Action> kReporterVerbs[] = {
        {"/trust", Action::kReporterTrust},
        {"/disable", Action::kReporterDisable},
        {"/enable", Action::kReporterEnable}};
    Route r{Action::kReporterShow, rest, "GET"};
    take_verb(r, rest, kReporterVerbs);
    if (r.id.empty()) return std::nullopt;
    return r;
  }
  if (path == kPeersPath) {
    if (method == "POST") return Route{Action::kPeerAdd, {}, "POST"};
    return Route{Action::kPeerList, {}, "GET"};
  }
  if (path.starts_with(kPeerPrefix)) {
    std::string_view rest = path.substr(kPeerPrefix.size());
    static constexpr std::pair<std::string_view, Action> kPeerVerbs[] = {
        {"/trust", Action::kPeerTrust},
        {"/disable", Action::kPeerDisable},
        {"/enable", Action::kPeerEnable}};
    Route r{method == "DELETE" ? Action::kPeerRemove : Action::kPeerShow, rest,
            method == "DELETE" ? "DELETE" : "GET"};
    take_verb(r, rest, kPeerVerbs);
    if (r.id.empty()) return std::nullopt;
    return r;
  }
  if (!path.starts_with(kSigPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kSigPrefix.size());
  static constexpr std::pair<std::string_view, Action> kVerbs[] = {
      {"/allow", Action::kAllow}, {"/unallow", Action::kUnallow}, {"/delete", Action::kDelete}};
  Route r;
  r.id = rest;
  r.action = method == "DELETE" ? Action::kDelete : Action::kShow;
  r.method = method == "DELETE" ? "DELETE" : "GET";
  take_verb(r, rest, kVerbs);
  if (r.id.empty()) return std::nullopt;
  return r;
}

Result<sigs::Signature> parse_id(std::string_view id) {
  if (id.size() > kMaxIdChars) return make_error(Errc::kLimitExceeded, "signature id too long");
  auto text = percent_decode_strict(id);
  if (!text) return make_error(Errc::kMalformed, "malformed signature id: " + text.error().message);
  auto sig = sigs::parse_signature(*text);
  if (!sig) return make_error(Errc::kMalformed, "bad signature id: " + sig.error().message);
  return std::move(*sig);
}

Result<std::string> parse_name(std::string_view id) {
  if (id.size() > kMaxNameChars) return make_error(Errc::kLimitExceeded, "reporter name too long");
  auto name = percent_decode_strict(id);
  if (!name)
    return make_error(Errc::kMalformed, "malformed reporter name: " + name.error().message);
  const bool ok = !name->empty() && name->size() <= storage::kMaxReporterName &&
                  std::all_of(name->begin(), name->end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '+' ||
                           c == '-';
                  });
  if (!ok) return make_error(Errc::kMalformed, "bad reporter name");
  return std::move(*name);
}

Result<ReporterPage> parse_reporter_query(std::string_view query) {
  if (query.size() > kMaxQueryChars) return make_error(Errc::kLimitExceeded, "query too long");
  ReporterPage page;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = part.find('=');
    const std::string_view key = part.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    if (key == "limit") {
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec == std::errc::result_out_of_range) {
        n = kMaxReporterPage;
      } else if (ec != std::errc{} || end != value.data() + value.size() || n == 0) {
        return make_error(Errc::kMalformed, "limit must be a positive number");
      }
      page.limit = static_cast<std::size_t>(std::min<std::uint64_t>(n, kMaxReporterPage));
    } else if (key == "after") {
      auto after = percent_decode_strict(value);
      if (!after) return make_error(Errc::kMalformed, "malformed after: " + after.error().message);
      page.after = std::move(*after);
    }
  }
  return page;
}

Result<storage::PeerSpec> parse_peer_body(std::string_view body) {
  if (body.size() > kMaxPeerBody) return make_error(Errc::kLimitExceeded, "body too long");
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return make_error(
        Errc::kMalformed,
        R"(body must be {"name":"site","url":"http://...","secret":"...","trust":0.3})");
  }
  storage::PeerSpec spec;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"name", &spec.name},
                          {"url", &spec.url},
                          {"secret", &spec.secret}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
      return make_error(Errc::kMalformed, std::string(key) + " must be a string");
    *out = it->get<std::string>();
  }
  if (spec.secret.size() < kMinPeerSecret || spec.secret.size() > kMaxPeerSecret) {
    return make_error(Errc::kMalformed, "a peering secret must be 16-128 bytes");
  }
  if (auto t = j.find("trust"); t != j.end()) {
    if (!t->is_number()) return make_error(Errc::kMalformed, "trust must be a number");
    spec.trust = t->get<double>();
  }
  return spec;
}

Result<TrustChange> parse_trust_body(std::string_view body) {
  if (body.size() > kMaxTrustBody) return make_error(Errc::kLimitExceeded, "body too long");
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(Errc::kMalformed, R"(body must be {"trust":0.0..1.0})");
  auto trust = j.find("trust");
  if (trust == j.end() || !trust->is_number())
    return make_error(Errc::kMalformed, "trust must be a number");
  TrustChange t;
  t.trust = trust->get<double>();
  if (auto pinned = j.find("pinned"); pinned != j.end()) {
    if (!pinned->is_boolean()) return make_error(Errc::kMalformed, "pinned must be true or false");
    t.pinned = pinned->get<bool>();
  }
  return t;
}

}  // namespace admin_internal

std::string rfc3339(storage::TimePoint t) {
  if (t.time_since_epoch().count() <= 0) return "";
  std::time_t tt = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::ordered_json time_json(storage::TimePoint t) {
  std::string s = rfc3339(t);
  return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

nlohmann::ordered_json signature_json(const SignatureView& v) {
  const storage::SignatureInfo& i = v.info;
  nlohmann::ordered_json j;
  j["id"] = i.sig.text();
  j["engine"] = std::string(sigs::engine_name(i.sig.engine));
  j["stored"] = i.stored;
  j["listed"] = v.listed;
  j["decides"] = v.decides;
  j["allowed"] = i.allowed;
  j["allowed_since"] = time_json(i.allowed_since);
  j["confidence"] = i.confidence;
  j["reports"] = i.reports;
  j["revokes"] = i.revokes;
  j["first_seen"] = time_json(i.first_seen);
  j["last_seen"] = time_json(i.last_seen);
  auto reporters = nlohmann::ordered_json::array();
  auto revokers = nlohmann::ordered_json::array();
  for (const auto& vote : i.votes) {
    nlohmann::ordered_json o;
    o["name"] = vote.name;
    o["trust"] = vote.weight;
    o["time"] = time_json(vote.time);
    (vote.revoke ? revokers : reporters).push_back(std::move(o));
  }
  j["reporters"] = std::move(reporters);
  j["revokers"] = std::move(revokers);
  return j;
}

nlohmann::ordered_json peer_json(const storage::Peer& p) {
  nlohmann::ordered_json j;
  j["name"] = p.reporter.name;
  j["url"] = p.url;
  j["trust"] = p.reporter.trust;
  j["disabled"] = p.reporter.disabled;
  j["cursor"] = p.cursor;
  j["applied"] = p.applied;
  j["last_success"] = time_json(p.last_success);
  return j;
}

nlohmann::ordered_json reporter_json(const storage::Reporter& r) {
  nlohmann::ordered_json j;
  j["name"] = r.name;
  j["trust"] = r.trust;
  j["base_trust"] = r.base_trust;
  j["pinned"] = r.pinned;
  j["disabled"] = r.disabled;
  j["admin"] = r.admin;
  j["peer"] = r.peer;
  j["open_registration"] = !r.vouched;
  j["reports"] = r.reports;
  j["revokes"] = r.revokes;
  j["corroborated"] = r.corroborated;
  j["contradicted"] = r.contradicted;
  j["created"] = time_json(r.created);
  j["last_active"] = time_json(r.last_active);
  return j;
}

void handle_admin(SignatureService& service, const HttpRequest& req, Done done) {
  try {
    auto r = admin_internal::route_of(req.target.substr(0, req.target.find('?')), req.method);
    if (!r) {
      return done(Api::error_response(ApiErrc::kNotFound, "no such admin endpoint"));
    }
    if (req.method != r->method) {
      auto resp = Api::error_response(ApiErrc::kMethodNotAllowed,
                                      "use " + std::string(r->method) + " for this endpoint");
      resp.allow = r->action == Action::kShow || r->action == Action::kDelete ||
                           r->action == Action::kPeerShow || r->action == Action::kPeerRemove
                       ? std::string("GET, DELETE")
                   : r->action == Action::kPeerList || r->action == Action::kPeerAdd
                       ? std::string("GET, POST")
                       : std::string(r->method);
      return done(std::move(resp));
    }
    if (auto budget = service.admit_client(req.client_ip); !budget) {
      return done(Api::error_response(budget.error()));
    }
    auto who = service.authenticate(req.auth, req.method, req.target, req.body);
    if (!who) return done(Api::error_response(who.error()));
    if (!who->reporter.admin) {
      return done(
          Api::error_response(ApiErrc::kForbidden, "only admin reporters may use the admin API"));
    }
    if (admin_internal::reporter_action(r->action)) {
      return handle_reporter(service, *r, req, who->reporter.name, std::move(done));
    }
    if (admin_internal::peer_action(r->action)) {
      return handle_peer(service, *r, req, who->reporter.name, std::move(done));
    }
    auto sig = admin_internal::parse_id(r->id);
    if (!sig) return done(Api::error_response(ApiErrc::kInvalid, sig.error().message));

    if (r->action == Action::kShow) {
      auto views = service.describe(std::span<const sigs::Signature>(&*sig, 1));
      if (!views) return done(Api::error_response(views.error()));
      return done(json_response(signature_json(views->at(0))));
    }
    // Writes wait for their commit: off the I/O thread.
    const Action action = r->action;
    const std::string actor = who->reporter.name;
    service.offload([&service, action, actor, s = std::move(*sig), done = std::move(done)] {
      try {
        apply_write(service, action, actor, s, done);
      } catch (const std::exception& e) {
        logger()->error("internal error handling an admin request: {}", e.what());
        done(Api::error_response(ApiErrc::kInternal, "internal error"));
      }
    });
  } catch (const std::exception& e) {
    logger()->error("internal error handling an admin request: {}", e.what());
    done(Api::error_response(ApiErrc::kInternal, "internal error"));
  }
}

}  // namespace strop::node
