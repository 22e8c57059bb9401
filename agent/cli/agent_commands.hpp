// agent_commands.hpp: the node-facing subcommands (check, report, revoke, register), one
// source file each (<name>_command.cpp), registered by setup_agent_commands (commands.hpp).
#pragma once

#include "commands.hpp"

namespace strop::cli {

void setup_check(CLI::App& app, GlobalOptions& globals, int* exit_code);
void setup_report(CLI::App& app, GlobalOptions& globals, int* exit_code);
void setup_revoke(CLI::App& app, GlobalOptions& globals, int* exit_code);
void setup_register(CLI::App& app, GlobalOptions& globals, int* exit_code);

}  // namespace strop::cli
