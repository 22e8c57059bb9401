// main.cpp: `strop-node`, the site signature node. Wires the subcommands (commands.hpp) and
// holds the one top-level catch. Without a subcommand it takes --version ("strop-node
// <version>") and --print-config (the effective config as TOML, as `serve --print-config`).
// Exit codes: 0 OK, <sysexits.h> otherwise.
#include <sysexits.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "strop/version.hpp"

int main(int argc, char** argv) {
  using namespace strop::node::cli;
  int exit_code = 0;
  try {
    CLI::App app{"strop-node: the Strop site signature node"};
    app.fallthrough();             // --data/--config may follow the subcommand
    app.require_subcommand(0, 1);  // none only with --version or --print-config (below)
    auto common = std::make_shared<CommonOptions>();
    app.add_option("--config", common->config_file, "TOML configuration file");
    app.add_option("--data", common->data_dir,
                   "Data directory (overrides node.data_dir; default /var/lib/strop)");
    auto* print = app.add_flag("--print-config", common->print_config,
                               "Print the effective configuration as TOML and exit");
    app.set_version_flag("--version", "strop-node " + std::string(strop::kVersion));
    setup_serve(app, common, &exit_code);
    setup_reporter(app, common, &exit_code);
    setup_peer(app, common, &exit_code);
    setup_sig(app, common, &exit_code);
    setup_stats(app, common, &exit_code);
    setup_backup(app, common, &exit_code);
    setup_expire(app, common, &exit_code);
    setup_pyzor_account(app, common, &exit_code);
    setup_console_user(app, common, &exit_code);
    // The printed config is serve's; the admin commands refuse --print-config (exit 64).
    for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() != "serve") sub->excludes(print);
    }
    try {
      app.parse(argc, argv);
      if (app.get_subcommands().empty() && !common->print_config) {
        throw CLI::RequiredError("A subcommand");
      }
    } catch (const CLI::ParseError& e) {
      int rc = app.exit(e);
      return rc == 0 ? 0 : EX_USAGE;
    }
    if (app.get_subcommands().empty()) {
      auto c = load_effective_config(*common, &exit_code);
      return c ? print_effective_config(*c) : exit_code;
    }
    return exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strop-node: fatal: %s\n", e.what());
    return EX_SOFTWARE;
  }
}
