// Registers the global options (unless main already did) and the node-facing subcommands.
#include "agent_commands.hpp"

#include <sysexits.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.hpp"
#include "config.hpp"

namespace strop::cli {

void setup_agent_commands(CLI::App& app, GlobalOptions& globals, int* exit_code) {
  if (app.get_option_no_throw("--node") == nullptr) {
    app.add_option("--node", globals.nodes,
                   "Node URL, e.g. http://127.0.0.1:7420 or https://strop.example.org, or "
                   "udp://HOST:PORT for checks over strop-udp/1 (repeatable: tried in order, "
                   "failover to the next; env STROP_NODE)");
    app.add_option("--identity", globals.identity,
                   "Reporter identity file (default ~/.config/strop/identity.json; env "
                   "STROP_IDENTITY)");
    app.add_option("--timeout", globals.timeout_s,
                   "Seconds allowed for each request to the nodes, failover included "
                   "(default 10)");
    app.add_option("--config", globals.config,
                   "Agent config file (TOML; default ~/.config/strop/agent.toml, then "
                   "/etc/strop/agent.toml)");
    app.add_flag("--print-config", globals.print_config,
                 "Print the effective configuration and exit");
  }
  if (app.get_footer().empty()) {
    app.footer(
        "Precedence: flags > environment (STROP_NODE, STROP_IDENTITY) > config file > defaults.\n"
        "Global options go before or after the subcommand: strop --node URL check msg.eml.\n"
        "See docs/cli.md.");
  }
  setup_check(app, globals, exit_code);
  setup_vote_commands(app, globals, exit_code);
  setup_register(app, globals, exit_code);
}

int run_print_config(const GlobalOptions& globals) {
  auto cfg = load_agent_config(globals);
  if (!cfg) {
    std::cerr << "strop: " << cfg.error().message << "\n";
    return EX_CONFIG;
  }
  std::cout << render_config(*cfg);
  return 0;
}

}  // namespace strop::cli
