// commands.hpp: the `strop` CLI's subcommands. One source file per subcommand
// (<name>_command.cpp), each with setup_<name>(app, globals) that adds the subcommand, binds
// its options and installs a callback that sets *exit_code. main.cpp wires them.
// Exit codes: check is razor-style (0 spam, 1 not spam, 2 error); others use <sysexits.h>.
#pragma once

#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace strop::cli {

// Options shared by every subcommand (contract: --node, --identity, --timeout, --config,
// --print-config). Precedence: flag > environment (STROP_NODE, STROP_IDENTITY) > config file.
struct GlobalOptions {
  std::vector<std::string> nodes;  // --node URL (repeatable)
  std::string identity;            // --identity FILE
  double timeout_s = 0;            // --timeout SECONDS; 0 = from config / default
  std::string config;              // --config FILE
  bool print_config = false;       // --print-config
};

void setup_sig(CLI::App& app, GlobalOptions& globals, int* exit_code);
// Registered by the agent commands (check, report, revoke, register) when present.
void setup_agent_commands(CLI::App& app, GlobalOptions& globals, int* exit_code);

// `strop --print-config` without a subcommand: prints the effective agent config as TOML on
// stdout. Returns 0, or EX_CONFIG after printing "strop: <error>" on stderr.
int run_print_config(const GlobalOptions& globals);

}  // namespace strop::cli
