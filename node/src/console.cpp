// console.cpp: the web console's routes (console.hpp).
#include "console.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "admin_api.hpp"
#include "admin_api_internal.hpp"
#include "base/hex.hpp"
#include "console_assets.hpp"
#include "console_users.hpp"
#include "node/federation.hpp"
#include "node/fleet.hpp"
#include "node_common.hpp"
#include "protocol/codec.hpp"
#include "sigs/compute.hpp"
#include "verdict.hpp"

namespace strop::node {

namespace {

using Json = nlohmann::ordered_json;
using console::Role;
using console::Session;

constexpr std::string_view kCookieName = "strop_console";
constexpr std::size_t kShortRing = 360;  // 10 s samples: 1 h
constexpr std::size_t kLongRing = 288;   // 5 min samples: 24 h
constexpr int kLongEvery = 30;           // short samples per long sample
constexpr std::chrono::seconds kSampleInterval{10};
constexpr std::size_t kTopKCapacity = 1000;
constexpr std::size_t kTopShown = 20;
constexpr std::size_t kMaxLoginAddresses = 4096;
constexpr std::size_t kMaxReportersShown = 10000;

// The names of a sample's values, in order (the overview's series and charts).
constexpr const char* kSeriesNames[] = {"checks_per_s",      "reports_per_s", "hit_rate",
                                        "p99_check_seconds", "signatures",    "used_bytes",
                                        "commit_seconds"};

void add_security_headers(HttpResponse* r) {
  r->headers.emplace_back("Content-Security-Policy",
                          "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                          "form-action 'self'");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
}

HttpResponse json_reply(const Json& j, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse error_reply(int status, std::string message) {
  Json j;
  j["error"] = std::move(message);
  return json_reply(j, status);
}

// The query parameter `name` of a target, percent-decoded ("" when absent or malformed).
std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string v(pair.substr(eq + 1));
      std::replace(v.begin(), v.end(), '+', ' ');
      auto d = percent_decode_strict(v);
      return d ? *d : std::string();
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return "";
}

// Cumulative figures read at one instant (the sampler's deltas are taken between two).
struct Totals {
  std::uint64_t checks = 0;
  std::uint64_t spam = 0;
  std::uint64_t reports = 0;
  std::vector<std::uint64_t> check_buckets;
};

Totals read_totals(const NodeMetrics& m) {
  Totals t;
  t.checks = m.messages_checked.value();
  t.spam = m.messages_spam.value();
  t.reports = m.signatures_reported.value();
  const Histogram& h = m.latency(Op::kCheck);
  t.check_buckets.resize(Histogram::kBounds.size() + 1);
  for (std::size_t i = 0; i < t.check_buckets.size(); ++i) t.check_buckets[i] = h.bucket_count(i);
  return t;
}

const std::vector<double>& bounds() {
  static const std::vector<double> kB(Histogram::kBounds.begin(), Histogram::kBounds.end());
  return kB;
}

}  // namespace

struct Console::Impl {
  SignatureService& svc;
  storage::Store& store;
  std::function<std::int64_t()> mono_ns;
  console::SessionTable sessions;
  console::LoginThrottle throttle;
  console::SeriesRing short_ring{kShortRing};
  console::SeriesRing long_ring{kLongRing};
  console::TopK top{kTopKCapacity};
  std::string users_file;
  Fleet* fleet = nullptr;
  const FederationPuller* federation = nullptr;
  Mutex sample_mu;
  std::optional<Totals> last_short GUARDED_BY(sample_mu);
  std::optional<Totals> last_long GUARDED_BY(sample_mu);
  std::int64_t last_short_ns GUARDED_BY(sample_mu) = 0;
  std::int64_t last_long_ns GUARDED_BY(sample_mu) = 0;
  int samples GUARDED_BY(sample_mu) = 0;

  Impl(SignatureService& s, storage::Store& st, std::function<std::int64_t()> clock)
      : svc(s),
        store(st),
        mono_ns(clock ? std::move(clock) : std::function<std::int64_t()>(steady_ns)),
        sessions(s.config().console.session_idle_seconds * 1'000'000'000,
                 static_cast<std::size_t>(s.config().console.max_sessions)),
        throttle(static_cast<std::size_t>(s.config().console.login_failures_per_minute),
                 60'000'000'000, kMaxLoginAddresses),
        users_file(console::users_path(s.config().data_dir)) {}

  // ---- figures

  console::Sample make_sample(const Totals& now, const std::optional<Totals>& before,
                              std::int64_t elapsed_ns, const storage::StoreStats& st) const {
    console::Sample s;
    s.unix_seconds = svc.unix_seconds();
    const double secs = elapsed_ns > 0 ? static_cast<double>(elapsed_ns) / 1e9 : 0;
    Totals d = now;
    if (before) {
      d.checks -= before->checks;
      d.spam -= before->spam;
      d.reports -= before->reports;
      for (std::size_t i = 0; i < d.check_buckets.size(); ++i) {
        d.check_buckets[i] -= before->check_buckets[i];
      }
    }
    const bool rated = before && secs > 0;
    s.values = {rated ? static_cast<double>(d.checks) / secs : 0,
                rated ? static_cast<double>(d.reports) / secs : 0,
                d.checks ? static_cast<double>(d.spam) / static_cast<double>(d.checks) : 0,
                console::bucket_quantile(0.99, bounds(), d.check_buckets),
                static_cast<double>(st.signatures),
                static_cast<double>(st.used_bytes),
                static_cast<double>(st.last_commit_latency.count()) / 1e6};
    return s;
  }

  void sample() EXCLUDES(sample_mu) {
    const std::int64_t now = mono_ns();
    Totals t = read_totals(svc.metrics());
    auto st = store.stats();
    MutexLock lock(&sample_mu);
    short_ring.push(make_sample(t, last_short, now - last_short_ns, st));
    last_short = t;
    last_short_ns = now;
    if (samples++ % kLongEvery == 0) {
      long_ring.push(make_sample(t, last_long, now - last_long_ns, st));
      last_long = t;
      last_long_ns = now;
    }
  }

  // The figures now, each as /metrics prints its source (docs/console.md "Overview").
  Json overview() const {
    const NodeMetrics& m = svc.metrics();
    Totals t = read_totals(m);
    auto st = store.stats();
    Json now;
    now["messages_checked"] = t.checks;
    now["messages_spam"] = t.spam;
    now["hit_rate"] = t.checks ? static_cast<double>(t.spam) / static_cast<double>(t.checks) : 0.0;
    now["signatures_reported"] = t.reports;
    now["check_requests"] = m.latency(Op::kCheck).count();
    now["p99_check_seconds"] = console::bucket_quantile(0.99, bounds(), t.check_buckets);
    now["stored_signatures"] = st.signatures;
    now["store_used_bytes"] = st.used_bytes;
    now["store_map_bytes"] = st.map_bytes;
    now["reporters"] = st.reporters;
    now["writer_commits"] = st.commits;
    now["commit_seconds"] = static_cast<double>(st.last_commit_latency.count()) / 1e6;
    Json j;
    j["now"] = std::move(now);
    auto names = Json::array();
    for (const char* n : kSeriesNames) names.push_back(n);
    j["series_names"] = std::move(names);
    auto ring_json = [](const console::SeriesRing& r) {
      auto a = Json::array();
      for (const auto& s : r.snapshot()) {
        Json row = Json::array();
        row.push_back(s.unix_seconds);
        for (double v : s.values) row.push_back(v);
        a.push_back(std::move(row));
      }
      return a;
    };
    j["hour"] = ring_json(short_ring);
    j["day"] = ring_json(long_ring);
    j["sample_seconds"] = {kSampleInterval.count(), kSampleInterval.count() * kLongEvery};
    return j;
  }

  // ---- routes

  void login(const HttpRequest& req, const Done& done) {
    const std::int64_t now = mono_ns();
    const std::string addr(req.client_ip);
    if (!throttle.allowed(addr, now)) {
      auto r = error_reply(429, "too many failed logins from this address; retry in a minute");
      r.retry_after = 60;
      return done(std::move(r));
    }
    Json in = Json::parse(req.body, nullptr, false);
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string() ||
        !in.contains("password") || !in["password"].is_string()) {
      return done(error_reply(400, "expected {\"name\":..., \"password\":...}"));
    }
    const auto name = in["name"].get<std::string>();
    const auto password = in["password"].get<std::string>();
    auto users = console::load_users(users_file);
    if (!users) {
      logger()->error("console: {}", users.error().message);
      return done(error_reply(500, "cannot read the console accounts"));
    }
    const console::User* found = nullptr;
    for (const auto& u : *users) {
      if (u.name == name) found = &u;
    }
    // A missing account costs a KDF run too: the answer time does not tell names apart.
    static const std::string kDummy = *console::hash_password("dummy password");
    const bool ok = console::verify_password(password, found ? found->hash : kDummy) && found;
    if (!ok) {
      throttle.failed(addr, now);
      logger()->warn("console: failed login for {:?} from {}", name, addr);
      return done(error_reply(401, "wrong name or password"));
    }
    throttle.succeeded(addr);
    Session s = sessions.create(found->name, found->role, now);
    logger()->info("console: {} ({}) logged in from {}", s.user, console::role_name(s.role), addr);
    Json j;
    j["user"] = s.user;
    j["role"] = std::string(console::role_name(s.role));
    j["csrf"] = s.csrf;
    auto r = json_reply(j);
    r.headers.emplace_back("Set-Cookie", std::string(kCookieName) + "=" + s.id +
                                             "; HttpOnly; SameSite=Strict; Path=/ui");
    done(std::move(r));
  }

  Json signature(const sigs::Signature& sig) {
    auto views = svc.describe(std::span<const sigs::Signature>(&sig, 1));
    if (!views) throw std::runtime_error(views.error().message);
    return signature_json(views->at(0));
  }

  void sig_action(std::string_view verb, const Session& s, const HttpRequest& req,
                  const Done& done) {
    Json in = Json::parse(req.body, nullptr, false);
    if (!in.is_object() || !in.contains("id") || !in["id"].is_string()) {
      return done(error_reply(400, "expected {\"id\":\"engine:value\"}"));
    }
    auto sig = admin_internal::parse_id(in["id"].get<std::string>());
    if (!sig) return done(error_reply(400, sig.error().message));
    const std::string actor = "console:" + s.user;
    svc.offload([this, verb = std::string(verb), actor, sig = std::move(*sig), done] {
      try {
        const auto action = verb == "delete"  ? admin_internal::Action::kDelete
                            : verb == "allow" ? admin_internal::Action::kAllow
                                              : admin_internal::Action::kUnallow;
        auto changed = admin_internal::write_signature(svc, action, actor, sig);
        if (!changed) return done(error_reply(503, changed.error().message));
        Json j;
        j["id"] = sig.text();
        if (action == admin_internal::Action::kDelete) {
          j["deleted"] = *changed;
        } else {
          j["allowed"] = action == admin_internal::Action::kAllow;
          j["changed"] = *changed;
        }
        j["signature"] = signature(sig);
        done(json_reply(j));
      } catch (const std::exception& e) {
        logger()->error("console: internal error: {}", e.what());
        done(error_reply(500, "internal error"));
      }
    });
  }

  // POST /ui/api/reporter/trust {"name","trust"}, /reporter/disable and /reporter/enable
  // {"name"}: the admin API's SignatureService calls (through the log in fleet mode).
  void reporter_action(std::string_view verb, const Session& s, const HttpRequest& req,
                       const Done& done) {
    Json in = Json::parse(req.body, nullptr, false);
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string()) {
      return done(error_reply(400, "expected {\"name\":...}"));
    }
    double trust = 0;
    if (verb == "trust") {
      if (!in.contains("trust") || !in["trust"].is_number()) {
        return done(error_reply(400, "expected {\"name\":..., \"trust\":0.0-1.0}"));
      }
      trust = in["trust"].get<double>();
    }
    const std::string actor = "console:" + s.user;
    svc.offload([this, verb = std::string(verb), actor, name = in["name"].get<std::string>(), trust,
                 done] {
      try {
        const auto action = verb == "trust"     ? admin_internal::Action::kReporterTrust
                            : verb == "disable" ? admin_internal::Action::kReporterDisable
                                                : admin_internal::Action::kReporterEnable;
        auto r = admin_internal::write_reporter(svc, action, actor, name, {trust, true});
        if (!r) {
          const int status = r.error().code == ServiceErrc::kUnknownReporter ? 404
                             : r.error().code == ServiceErrc::kInvalid       ? 400
                                                                             : 503;
          return done(error_reply(status, r.error().message));
        }
        done(json_reply(Json{{"name", r->name}, {"trust", r->trust}, {"disabled", r->disabled}}));
      } catch (const std::exception& e) {
        logger()->error("console: internal error: {}", e.what());
        done(error_reply(500, "internal error"));
      }
    });
  }

  void top_signatures(const Done& done) {
    auto items = top.top(kTopShown);
    auto a = Json::array();
    for (const auto& it : items) {
      Json o;
      o["id"] = it.key;
      o["matched"] = it.count;
      o["overcount"] = it.error;
      auto sig = sigs::parse_signature(it.key);
      if (sig) {
        Json v = signature(*sig);
        o["confidence"] = v["confidence"];
        o["listed"] = v["listed"];
        o["reporters"] = v["reporters"].size();
        o["revokers"] = v["revokers"].size();
        o["first_seen"] = v["first_seen"];
        o["last_seen"] = v["last_seen"];
      }
      a.push_back(std::move(o));
    }
    Json j;
    j["since_start"] = true;
    j["matches_counted"] = top.total();
    j["capacity"] = kTopKCapacity;
    j["signatures"] = std::move(a);
    done(json_reply(j));
  }

  void check(const HttpRequest& req, const Done& done) {
    if (req.body.empty()) return done(error_reply(400, "no message"));
    sigs::Options o;
    o.engines = sigs::EngineMask::all();  // what `strop check` sends by default
    auto set = sigs::compute(req.body, o);
    if (!set) return done(error_reply(422, "not a mail message: " + set.error().message));
    auto out = svc.check(set->sigs, "console: ");
    if (!out) return done(error_reply(503, out.error().message));
    const auto v = message_verdict(std::move(*out), "");
    Json j;
    j["strop_check_json"] = protocol::encode_verdict_line("-", v);
    j["verdict"] = Json::parse(j["strop_check_json"].get<std::string>());
    j["threshold"] = svc.threshold();
    j["signatures_computed"] = set->sigs.size();
    done(json_reply(j));
  }

  void reporters(const Done& done) {
    auto list = svc.list_reporters("", kMaxReportersShown);
    if (!list) return done(error_reply(503, list.error().message));
    auto a = Json::array();
    for (const auto& r : *list) a.push_back(reporter_json(r));
    Json j;
    j["reporters"] = std::move(a);
    done(json_reply(j));
  }

  void network(const Done& done) {
    Json j;
    const bool standalone = fleet == nullptr && federation == nullptr;
    j["mode"] = standalone ? "standalone" : (fleet ? "fleet" : "federation");
    if (fleet != nullptr) {
      auto& fm = fleet->metrics();
      const std::uint64_t applied = store.applied_sequence();
      const auto head =
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, fm.head_sequence.value()));
      Json f;
      f["node_id"] = fleet->origin();
      f["connected"] = fm.connected.value() == 1;
      f["applied_sequence"] = applied;
      f["head_sequence"] = head;
      f["lag"] = head > applied ? head - applied : 0;
      f["published"] = fm.published.value();
      f["publish_failures"] = fm.publish_failures.value();
      f["gaps"] = fm.gaps.value();
      auto members = Json::array();
      for (const auto& m : fleet->members()) {
        Json o;
        o["id"] = m.id;
        o["applied_sequence"] = m.applied;
        o["lag"] = m.lag;
        o["age_seconds"] = m.age_seconds;
        o["self"] = m.self;
        members.push_back(std::move(o));
      }
      f["members"] = std::move(members);
      j["fleet"] = std::move(f);
    }
    if (federation != nullptr) {
      auto stats = federation->peer_stats();
      auto peers = store.list_peers();
      auto a = Json::array();
      if (peers) {
        for (const auto& p : *peers) {
          Json o = peer_json(p);
          auto it = stats.find(p.reporter.name);
          o["lag"] = it == stats.end() ? 0 : it->second.lag_entries;
          o["errors"] = it == stats.end() ? 0 : it->second.errors;
          o["last_error"] = it == stats.end() ? std::string() : it->second.last_error;
          a.push_back(std::move(o));
        }
      }
      j["federation"] = {{"site", svc.config().store.federation_site}, {"peers", std::move(a)}};
    }
    done(json_reply(j));
  }

  void api(const HttpRequest& req, const BrowserFields& fields, std::string_view route,
           const Done& done) {
    const bool post = req.method == "POST";
    if (!post && req.method != "GET") return done(error_reply(405, "use GET or POST"));
    if (route == "login") {
      if (!post) return done(error_reply(405, "use POST"));
      return login(req, done);
    }
    std::optional<Session> s;
    if (auto id = console::cookie_value(fields.cookie, kCookieName); !id.empty()) {
      s = sessions.find(id, mono_ns());
    }
    if (route == "me") {
      Json j;
      j["logged_in"] = s.has_value();
      if (s) {
        j["user"] = s->user;
        j["role"] = std::string(console::role_name(s->role));
        j["csrf"] = s->csrf;
      }
      return done(json_reply(j));
    }
    if (!s) return done(error_reply(401, "log in first"));
    if (post && !console::csrf_ok(*s, fields.csrf_token)) {
      return done(error_reply(403, "missing or wrong X-CSRF-Token"));
    }
    if (route == "logout" && post) {
      sessions.remove(s->id);
      auto r = json_reply(Json{{"logged_in", false}});
      r.headers.emplace_back("Set-Cookie", std::string(kCookieName) +
                                               "=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0");
      return done(std::move(r));
    }
    if (route == "check" && post) return check(req, done);
    if (!post) {
      if (route == "overview") return done(json_reply(overview()));
      if (route == "top") return top_signatures(done);
      if (route == "reporters") return reporters(done);
      if (route == "network") return network(done);
      if (route == "sig") {
        auto sig = admin_internal::parse_id(query_param(req.target, "id"));
        if (!sig) return done(error_reply(400, sig.error().message));
        return done(json_reply(signature(*sig)));
      }
      return done(error_reply(404, "no such console endpoint"));
    }
    // Actions: admin accounts only.
    if (s->role != Role::kAdmin) return done(error_reply(403, "read-only account"));
    for (std::string_view verb : {"trust", "disable", "enable"}) {
      if (route == std::string("reporter/") + std::string(verb)) {
        return reporter_action(verb, *s, req, done);
      }
    }
    for (std::string_view verb : {"allow", "unallow", "delete"}) {
      if (route == std::string("sig/") + std::string(verb)) return sig_action(verb, *s, req, done);
    }
    return done(error_reply(404, "no such console endpoint"));
  }

  void asset(const HttpRequest& req, const BrowserFields& fields, std::string_view path,
             const Done& done) {
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = error_reply(405, "use GET");
      r.allow = "GET, HEAD";
      return done(std::move(r));
    }
    if (path.empty()) path = "index.html";
    for (const auto& a : console_assets()) {
      if (a.path != path) continue;
      HttpResponse r;
      r.content_type = std::string(a.content_type);
      r.headers.emplace_back("ETag", std::string(a.etag));
      r.headers.emplace_back("Cache-Control", "no-cache");
      if (fields.if_none_match == a.etag) {
        r.status = 304;
      } else {
        r.body = std::string(a.body);
      }
      return done(std::move(r));
    }
    done(error_reply(404, "no such console page"));
  }
};

Console::Console(SignatureService& service, storage::Store& store,
                 std::function<std::int64_t()> mono_ns)
    : impl_(std::make_unique<Impl>(service, store, std::move(mono_ns))) {
  service.set_on_listed_match([impl = impl_.get()](std::string_view id) { impl->top.add(id); });
}

Console::~Console() { stop(); }

void Console::start() {
  impl_->fleet = fleet_;
  impl_->federation = federation_;
  sample();
  sampler_ = std::thread([this] {
    for (;;) {
      {
        MutexLock lock(&stop_mu_);
        if (stop_cv_.wait_for(&stop_mu_, kSampleInterval,
                              [this]() REQUIRES(stop_mu_) { return stopping_; })) {
          return;
        }
      }
      sample();
    }
  });
}

void Console::stop() {
  {
    MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void Console::sample() { impl_->sample(); }

void Console::handle(const HttpRequest& req, const BrowserFields& fields, Done done) {
  // Every console response carries the security headers.
  Done wrapped = [done = std::move(done)](HttpResponse r) {
    add_security_headers(&r);
    done(std::move(r));
  };
  try {
    std::string_view path = req.target.substr(0, req.target.find('?'));
    if (path == "/ui") {
      HttpResponse r;
      r.status = 301;
      r.headers.emplace_back("Location", "/ui/");
      return wrapped(std::move(r));
    }
    path.remove_prefix(4);  // "/ui/"
    if (path.starts_with("api/")) return impl_->api(req, fields, path.substr(4), wrapped);
    impl_->asset(req, fields, path, wrapped);
  } catch (const std::exception& e) {
    logger()->error("console: internal error: {}", e.what());
    wrapped(error_reply(500, "internal error"));
  }
}

}  // namespace strop::node
