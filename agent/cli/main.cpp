// strop: the command-line client. See docs/cli.md. Without a subcommand it takes --version
// ("strop <version>") and --print-config (the effective agent config as TOML).
#include <sysexits.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "commands.hpp"
#include "strop/version.hpp"

int main(int argc, char** argv) {
  try {
    CLI::App app{"strop: compute spam signatures and check, report or revoke them at Strop nodes"};
    app.require_subcommand(0, 1);  // none only with --version or --print-config (below)
    app.set_version_flag("--version", "strop " + std::string(strop::kVersion));
    strop::cli::GlobalOptions globals;
    int exit_code = 0;
    strop::cli::setup_sig(app, globals, &exit_code);
    strop::cli::setup_agent_commands(app, globals, &exit_code);
    try {
      app.parse(argc, argv);
      if (app.get_subcommands().empty() && !globals.print_config) {
        throw CLI::RequiredError("A subcommand");
      }
    } catch (const CLI::ParseError& e) {
      int rc = app.exit(e);
      return rc == 0 ? 0 : EX_USAGE;
    }
    if (app.get_subcommands().empty()) return strop::cli::run_print_config(globals);
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << "strop: internal error: " << e.what() << "\n";
    return EX_SOFTWARE;
  }
}
