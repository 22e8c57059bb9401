// pyzor_commands.cpp: `strop-node pyzor-account NAME [--server HOST:PORT]`: prints the line
// a pyzor client puts in its accounts file (~/.pyzor/accounts) to act as reporter NAME:
// "HOST : PORT : NAME : ,KEY" (pyzor's "salt,key" with an empty salt; the salt is never
// used for signing). The key is derived from the reporter's credential
// (RazorAccounts::pyzor_key), so it needs the node key file for reporters registered over
// Razor2. Opens the store in admin mode, like the other admin commands.
#include <sysexits.h>

#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "node/razor_accounts.hpp"
#include "protocol/pyzor_wire.hpp"
#include "storage/store.hpp"

namespace strop::node::cli {

namespace {

struct PyzorAccountOptions {
  std::string name;
  std::string server;
};

int run_pyzor_account(const CommonOptions& common, const PyzorAccountOptions& o) {
  int code = 0;
  auto cfg = load_effective_config(common, &code);
  if (!cfg) return code;
  std::string server = o.server;
  if (server.empty()) {
    auto l = listener_enabled(cfg->pyzor.listen) ? parse_listen(cfg->pyzor.listen)
                                                 : Result<ListenAddress>(ListenAddress{});
    std::string host =
        l && !l->host.empty() && l->host != "0.0.0.0" && l->host != "::" ? l->host : "127.0.0.1";
    unsigned port = l && l->port ? l->port : protocol::pyzor::kDefaultPort;
    server = host + ":" + std::to_string(port);
  }
  auto addr = parse_listen(server);
  if (!addr) {
    std::fprintf(stderr, "strop-node: --server: %s\n", addr.error().message.c_str());
    return EX_USAGE;
  }
  storage::StoreOptions so = cfg->store;
  so.dir = cfg->data_dir;
  so.serve = false;
  auto store = storage::Store::open(so);
  if (!store) {
    std::fprintf(stderr, "strop-node: cannot open the store in %s: %s\n", so.dir.c_str(),
                 store.error().to_string().c_str());
    return store.error().code == Errc::kIo ? EX_IOERR : EX_CONFIG;
  }
  auto rep = (*store)->find_reporter(std::string_view(o.name));
  if (!rep) {
    std::fprintf(stderr, "strop-node: %s\n", rep.error().to_string().c_str());
    return rep.error().code == Errc::kNotFound ? EX_DATAERR : EX_SOFTWARE;
  }
  std::optional<NodeKey> key;
  if (RazorAccounts::is_sealed(rep->secret)) {
    auto k = NodeKey::load(razor_key_path(*cfg), false);
    if (!k) {
      std::fprintf(stderr, "strop-node: %s\n", k.error().message.c_str());
      return EX_NOINPUT;
    }
    key = *k;
  }
  RazorAccounts accounts(key);
  auto pk = accounts.pyzor_key(*rep);
  if (!pk) {
    std::fprintf(stderr, "strop-node: %s\n", pk.error().to_string().c_str());
    return EX_DATAERR;
  }
  std::cout << addr->host << " : " << addr->port << " : " << rep->name << " : ," << *pk << "\n";
  return 0;
}

}  // namespace

void setup_pyzor_account(CLI::App& app, const std::shared_ptr<CommonOptions>& common,
                         int* exit_code) {
  auto o = std::make_shared<PyzorAccountOptions>();
  auto* sub = app.add_subcommand("pyzor-account",
                                 "Print a reporter's line for a pyzor client's accounts file");
  sub->add_option("NAME", o->name, "Reporter name")->required();
  sub->add_option(
      "--server", o->server,
      "HOST:PORT the client sends to (default: from pyzor.listen, else 127.0.0.1:24441)");
  sub->callback([common, o, exit_code] { *exit_code = run_pyzor_account(*common, *o); });
}

}  // namespace strop::node::cli
