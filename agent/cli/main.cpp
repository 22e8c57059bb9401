// strop: the command-line client. See docs/cli.md.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <sysexits.h>

#include "commands.hpp"

int main(int argc, char** argv) {
  try {
    CLI::App app{"strop: compute spam signatures and check, report or revoke them at Strop nodes"};
    app.require_subcommand(1);
    strop::cli::GlobalOptions globals;
    int exit_code = 0;
    strop::cli::setup_sig(app, globals, &exit_code);
    strop::cli::setup_agent_commands(app, globals, &exit_code);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int rc = app.exit(e);
      return rc == 0 ? 0 : EX_USAGE;
    }
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << "strop: internal error: " << e.what() << "\n";
    return EX_SOFTWARE;
  }
}
