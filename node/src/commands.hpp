// commands.hpp (private to strop-node): the subcommands of `strop-node`, one file each
// (serve_command.cpp, admin_commands.cpp), in the CLI11 setup_x()/run_x() pattern.
// Exit codes follow <sysexits.h>. Called from main() only.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "node/config.hpp"

namespace strop::node::cli {

// Options every command takes.
struct CommonOptions {
  std::string config_file;    // --config FILE
  std::string data_dir;       // --data DIR (overrides node.data_dir)
  bool print_config = false;  // --print-config: alone or with serve (main.cpp)
};

// Loads the configuration: defaults < --config file < flags. Prints the error and returns
// nullopt (exit code in *exit_code) on failure.
std::optional<Config> load_effective_config(const CommonOptions& common, int* exit_code);

// Validates `c` and prints it as TOML on stdout. Returns 0, or EX_CONFIG after printing the
// error on stderr.
int print_effective_config(const Config& c);

// Sets up the "node" (and "storage") spdlog loggers: stderr or syslog (LOG_MAIL).
void setup_logging(const Config& c);

void setup_serve(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
void setup_reporter(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
// `peer add|list|set-trust|disable|remove` (admin_commands.cpp; docs/federation.md).
void setup_peer(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
// `sig show|delete|allow|unallow (ID... | --message FILE)` (admin_commands.cpp).
void setup_sig(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
void setup_stats(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
void setup_backup(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
void setup_expire(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code);
// `console-user add|list|remove` (console_commands.cpp; docs/console.md).
void setup_console_user(CLI::App& app, const std::shared_ptr<CommonOptions>& common,
                        int* exit_code);
void setup_pyzor_account(CLI::App& app, const std::shared_ptr<CommonOptions>& common,
                         int* exit_code);

}  // namespace strop::node::cli
