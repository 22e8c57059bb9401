// `strop register`: create a reporter identity at a node and store it (mode 0600).
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "agent/identity.hpp"
#include "agent_common.hpp"
#include "commands.hpp"
#include "protocol/limits.hpp"

namespace strop::cli {
namespace {

struct RegisterOptions {
  std::string user;
  std::optional<double> trust;
  std::string out;
  bool force = false;
};

// "<login>@<host>", reduced to the characters a reporter name allows.
std::string default_user() {
  std::string login;
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') {
    login = u;
  } else if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr) {
    login = pw->pw_name;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string name = login.empty() ? "reporter" : login;
  if (host[0] != '\0') name += std::string("@") + host;
  std::string clean;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    clean += ok ? c : '_';
  }
  while (!clean.empty() && (clean.front() == '.' || clean.front() == '-')) clean.erase(0, 1);
  if (clean.size() > protocol::kMaxReporterNameLength)
    clean.resize(protocol::kMaxReporterNameLength);
  return clean.empty() ? "reporter" : clean;
}

int run_register(const RegisterOptions& o, const GlobalOptions& g) {
  if (o.trust && (*o.trust < 0 || *o.trust > 1)) {
    print_error("register", "--trust: must be between 0 and 1");
    return EX_USAGE;
  }
  if (o.trust && o.out.empty()) {
    print_error("register",
                "--trust registers someone else's identity with your admin identity: "
                "give --out FILE for the new identity");
    return EX_USAGE;
  }
  AgentContext ctx;
  int code = 0;
  IdentityNeed need = o.trust ? IdentityNeed::kRequired : IdentityNeed::kNone;
  if (!make_context("register", g, need, 0, &ctx, &code)) return code;

  const std::string path = o.out.empty()
                               ? ctx.config.identity
                               : expand_home(o.out, [](const char* n) { return std::getenv(n); });
  if (path.empty()) {
    print_error("register", "nowhere to store the identity: give --out FILE or --identity FILE");
    return EX_CONFIG;
  }
  std::error_code ec;
  if (!o.force && std::filesystem::exists(path, ec)) {
    std::string who;
    if (auto old = agent::load_identity(path))
      who = " (reporter " + old->reporter + " at " + old->node + ")";
    print_error("register", "identity file " + path + " exists" + who +
                                "; use --force to replace it, or --out FILE");
    return EX_CANTCREAT;
  }
  const std::string name = o.user.empty() ? default_user() : o.user;
  auto id = ctx.client->register_reporter(name, o.trust, ctx.client->default_deadline());
  if (!id) {
    print_error("register", id.error().message);
    return sysexit_for(id.error().code);
  }
  auto saved = agent::save_identity(path, *id);
  if (!saved) {
    print_error("register", saved.error().message + " (the reporter " + id->reporter +
                                " was registered; its secret is lost, register another name)");
    return EX_CANTCREAT;
  }
  std::cout << "registered reporter " << id->reporter << " at node " << id->node
            << "; identity saved to " << path << " (mode 0600)\n";
  return 0;
}

}  // namespace

void setup_register(CLI::App& app, GlobalOptions& globals, int* exit_code) {
  auto o = std::make_shared<RegisterOptions>();
  auto* sub = app.add_subcommand(
      "register", "Register a reporter at a node and store its identity file (mode 0600)");
  sub->add_option("-u,--user", o->user,
                  "Reporter name: 1-64 of A-Z a-z 0-9 . _ @ + - (default: LOGIN@HOSTNAME)");
  sub->add_option("--trust", o->trust,
                  "Starting trust 0..1 for the new reporter; needs an admin identity "
                  "(--identity) and --out")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("-o,--out", o->out,
                  "Where to store the new identity (default: the configured identity path, "
                  "~/.config/strop/identity.json)");
  sub->add_flag("-f,--force", o->force, "Replace an existing identity file");
  sub->fallthrough();
  sub->footer(
      "Works when the node allows open registration; otherwise ask the node's admin to run\n"
      "`strop-node reporter add NAME --out FILE` and use that file with --identity.\n"
      "The identity file holds the reporter's secret: keep it private (it is written 0600).\n"
      "Exit status: 0 registered; 73 name taken or file exists; 77 registration closed;\n"
      "69 node unreachable; 75 timeout or rate-limited.\n"
      "Examples:\n"
      "  strop --node http://127.0.0.1:7420 register --user alice\n"
      "  strop --identity admin.json register --user bob --trust 0.8 --out bob.json");
  sub->callback([o, &globals, exit_code] { *exit_code = run_register(*o, globals); });
}

}  // namespace strop::cli
