// main.cpp: `strop-node`, the site signature node. Wires the subcommands (commands.hpp) and
// holds the one top-level catch. Exit codes: 0 OK, <sysexits.h> otherwise.
#include <sysexits.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace strop::node::cli;
  int exit_code = 0;
  try {
    CLI::App app{"strop-node: the Strop site signature node"};
    app.fallthrough();  // --data/--config may follow the subcommand
    app.require_subcommand(1);
    auto common = std::make_shared<CommonOptions>();
    app.add_option("--config", common->config_file, "TOML configuration file");
    app.add_option("--data", common->data_dir, "Data directory (overrides node.data_dir; default /var/lib/strop)");
    app.set_version_flag("--version", std::string(strop::node::kNodeVersion));
    setup_serve(app, common, &exit_code);
    setup_reporter(app, common, &exit_code);
    setup_stats(app, common, &exit_code);
    setup_backup(app, common, &exit_code);
    setup_expire(app, common, &exit_code);
    setup_pyzor_account(app, common, &exit_code);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int rc = app.exit(e);
      return rc == 0 ? 0 : EX_USAGE;
    }
    return exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strop-node: fatal: %s\n", e.what());
    return EX_SOFTWARE;
  }
}
