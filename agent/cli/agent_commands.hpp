// agent_commands.hpp: the node-facing subcommands (check, report, revoke, register):
// check_command.cpp, vote_commands.cpp (report and revoke) and register_command.cpp, all
// registered by setup_agent_commands (commands.hpp).
#pragma once

#include "commands.hpp"

namespace strop::cli {

void setup_check(CLI::App& app, GlobalOptions& globals, int* exit_code);
// `strop report` and `strop revoke` (vote_commands.cpp).
void setup_vote_commands(CLI::App& app, GlobalOptions& globals, int* exit_code);
void setup_register(CLI::App& app, GlobalOptions& globals, int* exit_code);

}  // namespace strop::cli
