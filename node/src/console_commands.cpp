// console_commands.cpp: `strop-node console-user add NAME [--read-only] --password-file F`,
// `console-user list [--json]` and `console-user remove NAME`: the web console's accounts
// (console_users.hpp, docs/console.md). They change the accounts file in the data directory;
// a running node reads it at each login (a removed account's open sessions last until they
// expire or the node restarts).
#include <sysexits.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "console_users.hpp"

namespace strop::node::cli {

namespace {

struct ConsoleUserOptions {
  std::string name;
  bool read_only = false;
  std::string password_file;
  bool json = false;
};

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "strop-node: %s\n", message.c_str());
  return code;
}

// The password: the file's first line (a trailing newline is not part of it).
std::optional<std::string> read_password(const std::string& path) {
  std::ifstream in(path == "-" ? "/dev/stdin" : path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> users_file(const CommonOptions& common, int* code) {
  auto cfg = load_effective_config(common, code);
  if (!cfg) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::is_directory(cfg->data_dir, ec)) {
    std::filesystem::create_directories(cfg->data_dir, ec);
    if (ec) {
      *code =
          fail("cannot create data directory " + cfg->data_dir + ": " + ec.message(), EX_CANTCREAT);
      return std::nullopt;
    }
    std::filesystem::permissions(cfg->data_dir, std::filesystem::perms::owner_all, ec);
  }
  return console::users_path(cfg->data_dir);
}

int run_add(const CommonOptions& common, const ConsoleUserOptions& o) {
  if (!console::valid_user_name(o.name)) {
    return fail("console user name must be 1-64 characters of a-z 0-9 . _ -", EX_USAGE);
  }
  int code = 0;
  auto path = users_file(common, &code);
  if (!path) return code;
  auto password = read_password(o.password_file);
  if (!password) return fail("cannot read the password file " + o.password_file, EX_NOINPUT);
  auto hash = console::hash_password(*password);
  if (!hash) return fail(hash.error().message, EX_DATAERR);
  auto users = console::load_users(*path);
  if (!users) return fail(users.error().message, EX_DATAERR);
  const console::Role role = o.read_only ? console::Role::kReadOnly : console::Role::kAdmin;
  bool replaced = false;
  for (auto& u : *users) {
    if (u.name == o.name) {
      u.role = role;
      u.hash = *hash;
      replaced = true;
    }
  }
  if (!replaced) {
    if (users->size() >= console::kMaxUsers) return fail("too many console users", EX_DATAERR);
    users->push_back({o.name, role, *hash});
  }
  if (auto s = console::save_users(*path, *users); !s) return fail(s.error().message, EX_IOERR);
  std::printf("%s console user %s (%s)\n", replaced ? "updated" : "added", o.name.c_str(),
              std::string(console::role_name(role)).c_str());
  return 0;
}

int run_list(const CommonOptions& common, const ConsoleUserOptions& o) {
  int code = 0;
  auto path = users_file(common, &code);
  if (!path) return code;
  auto users = console::load_users(*path);
  if (!users) return fail(users.error().message, EX_DATAERR);
  if (o.json) {
    auto a = nlohmann::json::array();
    for (const auto& u : *users) {
      a.push_back({{"name", u.name}, {"role", std::string(console::role_name(u.role))}});
    }
    std::cout << a.dump() << "\n";
    return 0;
  }
  for (const auto& u : *users) {
    std::printf("%s %s\n", u.name.c_str(), std::string(console::role_name(u.role)).c_str());
  }
  return 0;
}

int run_remove(const CommonOptions& common, const ConsoleUserOptions& o) {
  int code = 0;
  auto path = users_file(common, &code);
  if (!path) return code;
  auto users = console::load_users(*path);
  if (!users) return fail(users.error().message, EX_DATAERR);
  auto n = std::erase_if(*users, [&](const console::User& u) { return u.name == o.name; });
  if (n == 0) return fail("no console user " + o.name, EX_DATAERR);
  if (auto s = console::save_users(*path, *users); !s) return fail(s.error().message, EX_IOERR);
  std::printf("removed console user %s\n", o.name.c_str());
  return 0;
}

}  // namespace

void setup_console_user(CLI::App& app, const std::shared_ptr<CommonOptions>& common,
                        int* exit_code) {
  auto* cmd = app.add_subcommand("console-user", "Web console accounts (docs/console.md)");
  cmd->require_subcommand(1);
  auto o = std::make_shared<ConsoleUserOptions>();
  auto* add = cmd->add_subcommand("add", "Add an account, or change its password and role");
  add->add_option("name", o->name, "Account name (a-z 0-9 . _ -, 1-64)")->required();
  add->add_flag("--read-only", o->read_only, "May look, not act (default: admin)");
  add->add_option("--password-file", o->password_file,
                  "File whose first line is the password (- for stdin)")
      ->required();
  add->callback([common, o, exit_code] { *exit_code = run_add(*common, *o); });
  auto* list = cmd->add_subcommand("list", "List the accounts and their roles");
  list->add_flag("--json", o->json, "As a JSON array");
  list->callback([common, o, exit_code] { *exit_code = run_list(*common, *o); });
  auto* remove = cmd->add_subcommand("remove", "Remove an account");
  remove->add_option("name", o->name, "Account name")->required();
  remove->callback([common, o, exit_code] { *exit_code = run_remove(*common, *o); });
}

}  // namespace strop::node::cli
