// admin_api.cpp: the admin API under /admin/ (admin_api.hpp).
#include "admin_api.hpp"

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
using protocol::ApiErrc;

namespace {

HttpResponse json_response(const nlohmann::ordered_json& j) {
  HttpResponse r;
  r.body = j.dump();
  return r;
}

nlohmann::ordered_json time_json(storage::TimePoint t) {
  std::string s = rfc3339(t);
  return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

// A delete, allow or unallow, on the offload executor.
void apply_write(SignatureService& service, Action action, const std::string& actor,
                 const sigs::Signature& s, const Done& done) {
  std::span<const sigs::Signature> one(&s, 1);
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["id"] = s.text();
  if (action == Action::kDelete) {
    auto d = service.delete_signatures(one);
    if (!d) return done(Api::error_response(d.error()));
    j["deleted"] = d->at(0);
    logger()->info("admin {}: deleted signature {} ({})", actor, s.text(),
                   d->at(0) ? "done" : "not stored");
  } else {
    const bool allow = action == Action::kAllow;
    auto c = service.set_allowed(one, allow);
    if (!c) return done(Api::error_response(c.error()));
    j["allowed"] = allow;
    j["changed"] = c->at(0);
    logger()->info("admin {}: {} signature {}", actor, allow ? "allowed" : "unallowed", s.text());
  }
  done(json_response(j));
}

}  // namespace

namespace admin_internal {

std::optional<Route> route_of(std::string_view path, std::string_view method) {
  if (!path.starts_with(kSigPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kSigPrefix.size());
  static constexpr std::pair<std::string_view, Action> kVerbs[] = {
      {"/allow", Action::kAllow}, {"/unallow", Action::kUnallow}, {"/delete", Action::kDelete}};
  Route r;
  r.id = rest;
  r.action = method == "DELETE" ? Action::kDelete : Action::kShow;
  r.method = method == "DELETE" ? "DELETE" : "GET";
  for (const auto& [suffix, action] : kVerbs) {
    if (rest.size() > suffix.size() && rest.ends_with(suffix)) {
      r.id = rest.substr(0, rest.size() - suffix.size());
      r.action = action;
      r.method = "POST";
      break;
    }
  }
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

void handle_admin(SignatureService& service, const HttpRequest& req, Done done) {
  try {
    auto r = admin_internal::route_of(req.target.substr(0, req.target.find('?')), req.method);
    if (!r) {
      return done(Api::error_response(ApiErrc::kNotFound, "no such admin endpoint"));
    }
    if (req.method != r->method) {
      auto resp = Api::error_response(ApiErrc::kMethodNotAllowed,
                                      "use " + std::string(r->method) + " for this endpoint");
      resp.allow = r->action == Action::kShow || r->action == Action::kDelete
                       ? std::string("GET, DELETE")
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
