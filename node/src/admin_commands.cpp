// admin_commands.cpp: `strop-node reporter add|list|set-trust|disable`,
// `peer add|list|set-trust|disable|remove` (federation, docs/federation.md), `stats`,
// `backup DEST`, `expire`, `sig show|delete|allow|unallow`. Each opens the store in admin
// mode (no in-memory index, no sweeper), which is safe while a node serves the same
// directory: LMDB serialises the writes, and the serving node reads what they changed from
// LMDB (reporter weights through meta/reporters_gen; a signature's record, votes and
// allowlist entry at every check that matches it: docs/storage-format.md). Commands that
// read or change an existing store never create one (exit 66 when there is none); only
// `reporter add` and `sig allow` create a store in an empty data directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "admin_api.hpp"
#include "commands.hpp"
#include "node/signature_service.hpp"
#include "protocol/codec.hpp"
#include "protocol/limits.hpp"
#include "protocol/signing.hpp"
#include "sigs/compute.hpp"
#include "sigs/message.hpp"
#include "storage/store.hpp"

namespace strop::node::cli {

namespace {

int exit_code_for(const Error& e) {
  switch (e.code) {
    case Errc::kIo: return EX_IOERR;
    case Errc::kNotFound:
    case Errc::kExists:
    case Errc::kInvalidArgument:
    case Errc::kMalformed:
    case Errc::kLimitExceeded: return EX_DATAERR;
    case Errc::kUnavailable: return EX_TEMPFAIL;
    default: return EX_SOFTWARE;
  }
}

int fail(const Error& e) {
  std::fprintf(stderr, "strop-node: %s\n", e.to_string().c_str());
  return exit_code_for(e);
}

// Whether a command may create the store when the data directory holds none.
enum class Create : std::uint8_t { kNo, kYes };

// Opens the store of the effective data directory in admin mode.
std::unique_ptr<storage::Store> open_store(const CommonOptions& common, Config* out_config,
                                           int* code, Create create = Create::kNo) {
  auto cfg = load_effective_config(common, code);
  if (!cfg) return nullptr;
  storage::StoreOptions so = cfg->store;
  so.dir = cfg->data_dir;
  so.serve = false;
  so.create = create == Create::kYes;
  auto s = storage::Store::open(so);
  if (!s) {
    if (s.error().code == Errc::kNotFound) {
      std::fprintf(stderr,
                   "strop-node: no store in %s (no data.mdb): give --data DIR or node.data_dir "
                   "of a node's data directory\n",
                   so.dir.c_str());
      *code = EX_NOINPUT;
      return nullptr;
    }
    std::fprintf(stderr, "strop-node: cannot open the store in %s: %s\n", so.dir.c_str(),
                 s.error().to_string().c_str());
    *code = exit_code_for(s.error());
    return nullptr;
  }
  if (out_config) *out_config = std::move(*cfg);
  return std::move(*s);
}

// A store that applied fleet log events must change only through the log (docs/fleet.md):
// a local reporter or signature change would make it diverge from the other members.
// Returns 0 when the store is standalone, else prints why (naming the admin API `route` that
// makes the change through the log, when there is one) and returns EX_NOPERM.
// `config`, when given, counts too: a store whose configuration names the fleet's NATS servers
// is a member before it applied its first event.
int refuse_fleet_member(storage::Store& store, std::string_view route = {},
                        const Config* config = nullptr) {
  const std::uint64_t seq = store.applied_sequence();
  if (seq == 0 && (config == nullptr || config->cluster.nats_urls.empty())) return 0;
  std::fprintf(stderr,
               "strop-node: this store is a fleet member (applied log sequence %llu): a local "
               "change would diverge from the other members; make it through a node's API, "
               "which goes through the fleet's log (docs/fleet.md)\n",
               static_cast<unsigned long long>(seq));
  if (!route.empty()) {
    std::fprintf(stderr, "strop-node: use the admin API of a running member: %.*s\n",
                 static_cast<int>(route.size()), route.data());
  }
  return EX_NOPERM;
}

// rfc3339 (admin_api.hpp), "-" for a time never set.
std::string iso_time(storage::TimePoint t) {
  std::string s = rfc3339(t);
  return s.empty() ? "-" : s;
}

nlohmann::json reporter_json(const storage::Reporter& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"trust", r.trust},
          {"base_trust", r.base_trust},
          {"pinned", r.pinned},
          {"vouched", r.vouched},
          {"admin", r.admin},
          {"disabled", r.disabled},
          {"created", iso_time(r.created)},
          {"last_active", iso_time(r.last_active)},
          {"reports", r.reports},
          {"revokes", r.revokes},
          {"corroborated", r.corroborated},
          {"contradicted", r.contradicted}};
}

// Writes `text` to `path` with mode 0600 (it holds a secret); missing parent directories are
// created with mode 0700 (e.g. ~/.config/strop/ for the CLI's default identity path).
Result<void> write_private_file(const std::string& path, const std::string& text) {
  std::string dir;
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return make_error(Errc::kIo, "cannot create directory " + dir + ": " + std::strerror(errno));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::kIo, "cannot create " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return make_error(Errc::kIo, "cannot write " + path + ": " + std::strerror(e));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return make_error(Errc::kIo, "cannot write " + path);
  return {};
}

// ---- reporter add

struct AddOptions {
  std::string name;
  std::optional<double> trust;
  std::string out;
  std::string node_url;
  bool admin = false;
  bool earned = false;
};

int run_add(const CommonOptions& common, const AddOptions& o) {
  if (!protocol::valid_reporter_name(o.name)) {
    std::fprintf(
        stderr,
        "strop-node: bad reporter name (1..64 of [A-Za-z0-9._@+-], not starting with . or -)\n");
    return EX_USAGE;
  }
  if (o.trust && !(*o.trust >= 0.0 && *o.trust <= 1.0)) {
    std::fprintf(stderr, "strop-node: --trust must be within 0..1\n");
    return EX_USAGE;
  }
  int code = 0;
  Config c;
  auto store = open_store(common, &c, &code, Create::kYes);
  if (!store) return code;
  if (int refused = refuse_fleet_member(*store)) return refused;
  storage::ReporterSpec spec;
  spec.name = o.name;
  spec.secret = protocol::make_secret();
  spec.trust = o.trust;
  spec.pinned = o.trust.has_value() && !o.earned;
  spec.admin = o.admin;
  auto r = store->add_reporter(spec);
  if (!r) return fail(r.error());
  protocol::Identity id{o.node_url.empty() ? base_url(c) : o.node_url, r->name, spec.secret};
  std::string text = protocol::encode(id);
  if (o.out.empty() || o.out == "-") {
    std::cout << text;
  } else {
    if (auto w = write_private_file(o.out, text); !w) return fail(w.error());
    std::fprintf(stderr, "reporter %s added (trust %.3f%s); identity written to %s\n",
                 r->name.c_str(), r->trust, r->pinned ? ", pinned" : "", o.out.c_str());
  }
  return 0;
}

// ---- reporter list

int run_list(const CommonOptions& common, bool json) {
  int code = 0;
  auto store = open_store(common, nullptr, &code);
  if (!store) return code;
  auto list = store->list_reporters();
  if (!list) return fail(list.error());
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *list) arr.push_back(reporter_json(r));
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  // VOUCHED "no": an open registration, capped below trusted until an admin's set-trust
  // (docs/reputation.md "Open registrations and vouching").
  std::printf("%-6s %-24s %6s %6s %-6s %-7s %-5s %-8s %8s %8s %s\n", "ID", "NAME", "TRUST", "BASE",
              "PINNED", "VOUCHED", "ADMIN", "STATE", "REPORTS", "REVOKES", "LAST-ACTIVE");
  for (const auto& r : *list) {
    std::printf("%-6u %-24s %6.3f %6.3f %-6s %-7s %-5s %-8s %8llu %8llu %s\n", r.id, r.name.c_str(),
                r.trust, r.base_trust, r.pinned ? "yes" : "no", r.vouched ? "yes" : "no",
                r.admin ? "yes" : "no", r.disabled ? "disabled" : "active",
                static_cast<unsigned long long>(r.reports),
                static_cast<unsigned long long>(r.revokes), iso_time(r.last_active).c_str());
  }
  return 0;
}

// ---- reporter set-trust / disable

int run_set_trust(const CommonOptions& common, const std::string& name, double trust, bool earned) {
  if (!(trust >= 0.0 && trust <= 1.0)) {
    std::fprintf(stderr, "strop-node: trust must be within 0..1\n");
    return EX_USAGE;
  }
  int code = 0;
  auto store = open_store(common, nullptr, &code);
  if (!store) return code;
  if (int refused = refuse_fleet_member(*store)) return refused;
  auto r = store->set_trust(name, trust, !earned);
  if (!r) return fail(r.error());
  std::printf("%s: trust %.3f (%s)\n", r->name.c_str(), r->trust,
              r->pinned ? "pinned" : "earned from this base");
  return 0;
}

int run_disable(const CommonOptions& common, const std::string& name, bool enable) {
  int code = 0;
  auto store = open_store(common, nullptr, &code);
  if (!store) return code;
  if (int refused = refuse_fleet_member(*store)) return refused;
  auto r = store->set_disabled(name, !enable);
  if (!r) return fail(r.error());
  std::printf("%s: %s\n", r->name.c_str(), r->disabled ? "disabled" : "enabled");
  return 0;
}

// ---- peer add / list / set-trust / disable / remove (docs/federation.md "Peers")

struct PeerAddOptions {
  std::string name;
  std::string url;
  double trust = 0.3;
  std::string secret_file;
};

// The peering secret: the whole file less one trailing newline, 16..128 bytes.
Result<std::string> read_peer_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kNotFound, "cannot read " + path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.size() < 16 || s.size() > storage::kMaxReporterSecret) {
    return make_error(
        Errc::kInvalidArgument,
        path + ": a peering secret must be 16-128 bytes (e.g. `openssl rand -hex 32`)");
  }
  return s;
}

int run_peer_add(const CommonOptions& common, const PeerAddOptions& o) {
  if (!(o.trust >= 0.0 && o.trust <= 1.0)) {
    std::fprintf(stderr, "strop-node: trust must be within 0..1\n");
    return EX_USAGE;
  }
  auto secret = read_peer_secret(o.secret_file);
  if (!secret) {
    std::fprintf(stderr, "strop-node: %s\n", secret.error().message.c_str());
    return secret.error().code == Errc::kNotFound ? EX_NOINPUT : EX_DATAERR;
  }
  int code = 0;
  Config c;
  auto store = open_store(common, &c, &code, Create::kYes);
  if (!store) return code;
  if (int refused = refuse_fleet_member(
          *store, R"(POST /admin/peers {"name":...,"url":...,"secret":...,"trust":...})", &c))
    return refused;
  auto p = store->add_peer({o.name, o.url, *secret, o.trust});
  if (!p) return fail(p.error());
  std::printf("peer %s added (trust %.3f, %s)\n", p->reporter.name.c_str(), p->reporter.trust,
              p->url.c_str());
  return 0;
}

int run_peer_list(const CommonOptions& common, bool json) {
  int code = 0;
  auto store = open_store(common, nullptr, &code);
  if (!store) return code;
  auto list = store->list_peers();
  if (!list) return fail(list.error());
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : *list) {
      arr.push_back({{"name", p.reporter.name},
                     {"url", p.url},
                     {"trust", p.reporter.trust},
                     {"disabled", p.reporter.disabled},
                     {"cursor", p.cursor},
                     {"applied", p.applied},
                     {"last_success", iso_time(p.last_success)}});
    }
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  std::printf("%-32s %6s %-8s %10s %10s %-25s %s\n", "NAME", "TRUST", "STATE", "CURSOR", "APPLIED",
              "LAST-SUCCESS", "URL");
  for (const auto& p : *list) {
    std::printf("%-32s %6.3f %-8s %10llu %10llu %-25s %s\n", p.reporter.name.c_str(),
                p.reporter.trust, p.reporter.disabled ? "disabled" : "active",
                static_cast<unsigned long long>(p.cursor),
                static_cast<unsigned long long>(p.applied), iso_time(p.last_success).c_str(),
                p.url.c_str());
  }
  return 0;
}

// set-trust, disable/enable, remove: only on a peer (a reporter's name is refused).
int run_peer_edit(const CommonOptions& common, const std::string& name, std::string_view route,
                  const std::function<int(storage::Store&)>& edit) {
  int code = 0;
  Config c;
  auto store = open_store(common, &c, &code);
  if (!store) return code;
  if (int refused = refuse_fleet_member(*store, route, &c)) return refused;
  auto p = store->find_peer(name);
  if (!p) return fail(p.error());
  return edit(*store);
}

// ---- stats / backup / expire

int run_stats(const CommonOptions& common, bool json) {
  int code = 0;
  auto store = open_store(common, nullptr, &code);
  if (!store) return code;
  auto s = store->stats();
  nlohmann::json by_engine = nlohmann::json::object();
  for (auto e : sigs::kAllEngines)
    by_engine[std::string(sigs::engine_name(e))] =
        s.signatures_by_engine[static_cast<std::size_t>(e)];
  nlohmann::json j = {{"signatures", s.signatures},
                      {"signatures_by_engine", by_engine},
                      {"votes", s.votes},
                      {"reporters", s.reporters},
                      {"map_bytes", s.map_bytes},
                      {"used_bytes", s.used_bytes},
                      {"applied_sequence", s.applied_sequence}};
  if (json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("signatures  %llu\n", static_cast<unsigned long long>(s.signatures));
  for (auto e : sigs::kAllEngines) {
    std::printf(
        "  %-10s %llu\n", std::string(sigs::engine_name(e)).c_str(),
        static_cast<unsigned long long>(s.signatures_by_engine[static_cast<std::size_t>(e)]));
  }
  std::printf(
      "votes       %llu\nreporters   %llu\nmap bytes   %llu\nused bytes  %llu\n",
      static_cast<unsigned long long>(s.votes), static_cast<unsigned long long>(s.reporters),
      static_cast<unsigned long long>(s.map_bytes), static_cast<unsigned long long>(s.used_bytes));
  std::printf("applied sequence %llu\n", static_cast<unsigned long long>(s.applied_sequence));
  return 0;
}

int run_backup(const CommonOptions& common, const std::string& dest) {
  int code = 0;
  auto store = open_store(common, nullptr, &code);
  if (!store) return code;
  auto r = store->backup(dest);
  if (!r) {
    std::fprintf(stderr, "strop-node: backup to %s failed: %s\n", dest.c_str(),
                 r.error().to_string().c_str());
    return r.error().code == Errc::kExists || r.error().code == Errc::kIo
               ? EX_CANTCREAT
               : exit_code_for(r.error());
  }
  std::printf("backup written to %s\n", dest.c_str());
  return 0;
}

int run_expire(const CommonOptions& common) {
  int code = 0;
  Config c;
  auto store = open_store(common, &c, &code);
  if (!store) return code;
  // In a fleet the elected member's sweep deletes, through the log (docs/fleet.md).
  if (int refused = refuse_fleet_member(*store, {}, &c)) return refused;
  auto r = store->expire(store->now());
  if (!r) return fail(r.error());
  std::printf("expired %llu signatures\n", static_cast<unsigned long long>(*r));
  return 0;
}

// ---- sig show / delete / allow / unallow

enum class SigAction : std::uint8_t { kShow, kDelete, kAllow, kUnallow };

struct SigOptions {
  std::vector<std::string> ids;
  std::string message;
  std::string engines = "all";
  bool json = false;
};

// The signatures a sig command acts on: the IDs given, or those of the message in FILE.
std::optional<std::vector<sigs::Signature>> sig_targets(const SigOptions& o, int* code) {
  if (o.ids.empty() == o.message.empty()) {
    std::fprintf(stderr, "strop-node: give signature IDs or --message FILE (not both)\n");
    *code = EX_USAGE;
    return std::nullopt;
  }
  std::vector<sigs::Signature> out;
  for (const auto& id : o.ids) {
    auto sig = sigs::parse_signature(id);
    if (!sig) {
      std::fprintf(stderr,
                   "strop-node: %s: not a signature (engine:value, as `strop sig` "
                   "prints): %s\n",
                   id.c_str(), sig.error().message.c_str());
      *code = EX_DATAERR;
      return std::nullopt;
    }
    out.push_back(std::move(*sig));
  }
  if (o.message.empty()) return out;
  auto mask = sigs::EngineMask::parse(o.engines);
  if (!mask) {
    std::fprintf(stderr, "strop-node: --engines: %s\n", mask.error().message.c_str());
    *code = EX_USAGE;
    return std::nullopt;
  }
  std::ifstream in(o.message, std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {
    std::fprintf(stderr, "strop-node: %s: cannot read: %s\n", o.message.c_str(),
                 std::strerror(errno));
    *code = EX_NOINPUT;
    return std::nullopt;
  }
  if (!sigs::looks_like_mail(raw)) {
    std::fprintf(stderr,
                 "strop-node: %s: not a mail message (no RFC 5322 header block with From, Date, "
                 "Message-ID, Received or Subject)\n",
                 o.message.c_str());
    *code = EX_DATAERR;
    return std::nullopt;
  }
  sigs::Options so;
  so.engines = *mask;
  auto set = sigs::compute(raw, so);
  if (!set) {
    std::fprintf(
        stderr, "strop-node: %s: %s\n", o.message.c_str(),
        set.error().code == Errc::kNotMail ? "not a mail message" : set.error().message.c_str());
    *code = EX_DATAERR;
    return std::nullopt;
  }
  if (set->sigs.empty()) {
    std::fprintf(stderr, "strop-node: %s: the message has no signatures\n", o.message.c_str());
    *code = EX_DATAERR;
    return std::nullopt;
  }
  return std::move(set->sigs);
}

void print_view(const SignatureView& v) {
  const auto& i = v.info;
  auto when = [](storage::TimePoint t) {
    std::string s = rfc3339(t);
    return s.empty() ? std::string("unknown") : s;
  };
  std::printf("%s\n", i.sig.text().c_str());
  std::printf("  stored      %s\n", i.stored ? "yes" : "no");
  std::printf("  listed      %s\n", v.listed     ? "yes"
                                    : i.allowed  ? "no (allowed)"
                                    : !v.decides ? "no (engine does not decide)"
                                    : i.stored   ? "no (below the threshold)"
                                                 : "no");
  std::printf("  allowed     %s\n",
              i.allowed ? ("yes, since " + when(i.allowed_since)).c_str() : "no");
  if (!i.stored) return;
  std::printf("  confidence  %d\n", i.confidence);
  std::printf("  first seen  %s\n", when(i.first_seen).c_str());
  std::printf("  last seen   %s\n", when(i.last_seen).c_str());
  for (bool revoke : {false, true}) {
    std::printf("  %s %u\n", revoke ? "revokers   " : "reporters  ",
                revoke ? i.revokes : i.reports);
    for (const auto& vote : i.votes) {
      if (vote.revoke != revoke) continue;
      std::printf("    %-24s trust %.3f  %s\n", vote.name.empty() ? "?" : vote.name.c_str(),
                  vote.weight, when(vote.time).c_str());
    }
  }
}

int run_sig(const CommonOptions& common, SigAction action, const SigOptions& o) {
  int code = 0;
  auto targets = sig_targets(o, &code);
  if (!targets) return code;
  Config c;
  auto store =
      open_store(common, &c, &code, action == SigAction::kAllow ? Create::kYes : Create::kNo);
  if (!store) return code;
  if (action != SigAction::kShow) {
    if (int refused = refuse_fleet_member(*store)) return refused;
  }
  // The node's policy (which signature lists) is the SignatureService's: use it here too.
  NodeMetrics metrics;
  SignatureService service(c, *store, metrics);
  auto report_error = [](const ServiceError& e) {
    std::fprintf(stderr, "strop-node: %s\n", e.message.c_str());
    return e.code == ServiceErrc::kInvalid || e.code == ServiceErrc::kLimitExceeded ? EX_DATAERR
           : e.code == ServiceErrc::kOverloaded                                     ? EX_TEMPFAIL
                                                                                    : EX_SOFTWARE;
  };
  switch (action) {
    case SigAction::kShow: {
      auto views = service.describe(*targets);
      if (!views) return report_error(views.error());
      for (const auto& v : *views) {
        if (o.json) {
          std::cout << signature_json(v).dump() << "\n";
        } else {
          print_view(v);
        }
      }
      return 0;
    }
    case SigAction::kDelete: {
      auto r = service.delete_signatures(*targets);
      if (!r) return report_error(r.error());
      for (std::size_t i = 0; i < targets->size(); ++i) {
        std::printf("%s %s\n", (*r)[i] ? "deleted" : "not stored", (*targets)[i].text().c_str());
      }
      return 0;
    }
    case SigAction::kAllow:
    case SigAction::kUnallow: {
      const bool allow = action == SigAction::kAllow;
      auto r = service.set_allowed(*targets, allow);
      if (!r) return report_error(r.error());
      for (std::size_t i = 0; i < targets->size(); ++i) {
        const char* what = allow ? ((*r)[i] ? "allowed" : "already allowed")
                                 : ((*r)[i] ? "unallowed" : "was not allowed");
        std::printf("%s %s\n", what, (*targets)[i].text().c_str());
      }
      return 0;
    }
  }
  return EX_SOFTWARE;
}

}  // namespace

void setup_sig(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto* sig = app.add_subcommand(
      "sig", "Look up, delete or allowlist signatures (works while a node serves the data)");
  sig->require_subcommand(1);
  struct Verb {
    const char* name;
    const char* help;
    SigAction action;
  };
  const Verb verbs[] = {{"show",
                         "What the store knows of each signature: listed, confidence, reporters, "
                         "revokers, first/last seen, allowed",
                         SigAction::kShow},
                        {"delete", "Delete each signature entirely (its votes and allowlist entry)",
                         SigAction::kDelete},
                        {"allow", "Allowlist each signature: it never lists, whatever is reported",
                         SigAction::kAllow},
                        {"unallow", "Take each signature off the allowlist", SigAction::kUnallow}};
  for (const auto& verb : verbs) {
    auto o = std::make_shared<SigOptions>();
    auto* sub = sig->add_subcommand(verb.name, verb.help);
    sub->add_option("ID", o->ids, "Signatures as `strop sig` prints them (engine:value)");
    sub->add_option("--message", o->message,
                    "Act on every signature of the message in FILE instead");
    sub->add_option("--engines", o->engines,
                    "With --message: engines to compute (default: all; see `strop sig`)");
    if (verb.action == SigAction::kShow)
      sub->add_flag("--json", o->json, "One JSON object per signature");
    const SigAction action = verb.action;
    sub->callback([common, o, action, exit_code] { *exit_code = run_sig(*common, action, *o); });
  }
}

void setup_reporter(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto* rep =
      app.add_subcommand("reporter", "Manage reporters (identities that report and revoke)");
  rep->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  auto* a = rep->add_subcommand("add", "Create a reporter and write its identity file");
  a->add_option("NAME", add->name, "Reporter name")->required();
  a->add_option("--trust", add->trust,
                "Trust 0.0..1.0 (pinned unless --earned; default: new-reporter trust)");
  a->add_option("--out", add->out,
                "Write the identity file (JSON, mode 0600) here; default: stdout");
  a->add_option("--node-url", add->node_url,
                "Node URL written into the identity file (default: from listen/TLS)");
  a->add_flag("--admin", add->admin, "May register other reporters through the API");
  a->add_flag("--earned", add->earned,
              "With --trust: a starting point the model may change, not pinned");
  a->callback([common, add, exit_code] { *exit_code = run_add(*common, *add); });

  auto list_json = std::make_shared<bool>(false);
  auto* l = rep->add_subcommand("list", "List reporters");
  l->add_flag("--json", *list_json, "JSON output");
  l->callback([common, list_json, exit_code] { *exit_code = run_list(*common, *list_json); });

  struct TrustOpts {
    std::string name;
    double trust = 0;
    bool earned = false;
  };
  auto t = std::make_shared<TrustOpts>();
  auto* st = rep->add_subcommand("set-trust", "Set a reporter's trust (pinned unless --earned)");
  st->add_option("NAME", t->name, "Reporter name")->required();
  st->add_option("T", t->trust, "Trust 0.0..1.0")->required();
  st->add_flag("--earned", t->earned, "Make T the base the model earns from instead of pinning it");
  st->callback([common, t, exit_code] {
    *exit_code = run_set_trust(*common, t->name, t->trust, t->earned);
  });

  struct DisableOpts {
    std::string name;
    bool enable = false;
  };
  auto d = std::make_shared<DisableOpts>();
  auto* dis = rep->add_subcommand(
      "disable", "Disable a reporter: it can no longer authenticate; its votes count 0");
  dis->add_option("NAME", d->name, "Reporter name")->required();
  dis->add_flag("--enable", d->enable, "Re-enable instead");
  dis->callback([common, d, exit_code] { *exit_code = run_disable(*common, d->name, d->enable); });
}

void setup_peer(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto* peer = app.add_subcommand(
      "peer", "Manage federation peers (other sites whose listings this node pulls)");
  peer->require_subcommand(1);

  auto add = std::make_shared<PeerAddOptions>();
  auto* a = peer->add_subcommand("add", "Add a peer (run it on both sides with the same secret)");
  a->add_option("NAME", add->name, "The peer's site name (its federation.site)")->required();
  a->add_option("--url", add->url, "The peer node's API URL, e.g. http://192.0.2.7:8080")
      ->required();
  a->add_option("--trust", add->trust, "This site's trust in the peer, 0.0..1.0 (default 0.3)");
  a->add_option("--secret-file", add->secret_file, "File holding the peering secret")->required();
  a->callback([common, add, exit_code] { *exit_code = run_peer_add(*common, *add); });

  auto list_json = std::make_shared<bool>(false);
  auto* l = peer->add_subcommand("list", "List peers with their cursor and trust");
  l->add_flag("--json", *list_json, "JSON output");
  l->callback([common, list_json, exit_code] { *exit_code = run_peer_list(*common, *list_json); });

  struct TrustOpts {
    std::string name;
    double trust = 0;
  };
  auto t = std::make_shared<TrustOpts>();
  auto* st = peer->add_subcommand("set-trust", "Set this site's trust in a peer");
  st->add_option("NAME", t->name, "Peer name")->required();
  st->add_option("T", t->trust, "Trust 0.0..1.0")->required();
  st->callback([common, t, exit_code] {
    if (!(t->trust >= 0.0 && t->trust <= 1.0)) {
      std::fprintf(stderr, "strop-node: trust must be within 0..1\n");
      *exit_code = EX_USAGE;
      return;
    }
    *exit_code =
        run_peer_edit(*common, t->name, "POST /admin/peer/" + t->name + R"(/trust {"trust":T})",
                      [&](storage::Store& s) {
                        auto r = s.set_trust(t->name, t->trust, true);
                        if (!r) return fail(r.error());
                        std::printf("%s: trust %.3f\n", r->name.c_str(), r->trust);
                        return 0;
                      });
  });

  struct NameOpts {
    std::string name;
    bool enable = false;
  };
  auto d = std::make_shared<NameOpts>();
  auto* dis = peer->add_subcommand(
      "disable", "Disable a peer: it can no longer pull, its votes count 0, it is not pulled");
  dis->add_option("NAME", d->name, "Peer name")->required();
  dis->add_flag("--enable", d->enable, "Re-enable instead");
  dis->callback([common, d, exit_code] {
    *exit_code = run_peer_edit(
        *common, d->name, "POST /admin/peer/" + d->name + (d->enable ? "/enable" : "/disable"),
        [&](storage::Store& s) {
          auto r = s.set_disabled(d->name, !d->enable);
          if (!r) return fail(r.error());
          std::printf("%s: %s\n", r->name.c_str(), r->disabled ? "disabled" : "enabled");
          return 0;
        });
  });

  auto rm = std::make_shared<NameOpts>();
  auto* r = peer->add_subcommand(
      "remove",
      "Remove a peer: it is no longer pulled and its votes count 0 (the name stays taken)");
  r->add_option("NAME", rm->name, "Peer name")->required();
  r->callback([common, rm, exit_code] {
    *exit_code =
        run_peer_edit(*common, rm->name, "DELETE /admin/peer/" + rm->name, [&](storage::Store& s) {
          auto res = s.remove_peer(rm->name);
          if (!res) return fail(res.error());
          std::printf("%s: removed\n", rm->name.c_str());
          return 0;
        });
  });
}

void setup_stats(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  auto* s = app.add_subcommand("stats", "Print store statistics");
  s->add_flag("--json", *json, "JSON output");
  s->callback([common, json, exit_code] { *exit_code = run_stats(*common, *json); });
}

void setup_backup(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto dest = std::make_shared<std::string>();
  auto* b =
      app.add_subcommand("backup", "Write a consistent, compacted copy of the live store to DEST");
  b->add_option("DEST", *dest, "Destination directory (created; must not already hold a store)")
      ->required();
  b->callback([common, dest, exit_code] { *exit_code = run_backup(*common, *dest); });
}

void setup_expire(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto* e = app.add_subcommand(
      "expire", "Delete signatures neither reported nor hit for storage.expire_after_seconds");
  e->callback([common, exit_code] { *exit_code = run_expire(*common); });
}

}  // namespace strop::node::cli
