// agent_common.hpp: what the node-facing subcommands (check, report, revoke, register) share:
// building a Client from the effective config, reading inputs into signature sets, the
// progress bar, exit codes and one-line error messages.
// Not thread-safe; used from the CLI's main thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "agent/client.hpp"
#include "base/result.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "sigs/signature.hpp"

namespace strop::cli {

// Prints "strop <cmd>: <message>" on stderr.
void print_error(const std::string& cmd, const std::string& message);

// The sysexits code for a failed node operation (69 unavailable, 75 timeout/rate limit,
// 77 authentication/forbidden, 76 bad answer, 78 configuration, 65 data, 70 internal).
int sysexit_for(Errc code);

enum class IdentityNeed {
  kNone,      // do not load one
  kOptional,  // load it when the file exists (an explicitly given file must load)
  kRequired,  // fail when there is none
};

struct AgentContext {
  AgentConfig config;
  std::unique_ptr<agent::Client> client;
};

// Loads the config, the identity and creates the client. When --print-config is set, prints
// the config to stdout and returns nullptr in *ctx with *exit_code = 0. On failure prints
// the error and sets *exit_code to `error_code` (check) or the sysexits code. Returns true
// when the command should go on.
bool make_context(const std::string& cmd, const GlobalOptions& globals, IdentityNeed need,
                  int error_code, AgentContext* ctx, int* exit_code);

struct CollectedMessage {
  std::string name;
  sigs::SignatureSet sigs;
};

struct Collected {
  std::vector<CollectedMessage> messages;
  std::size_t unreadable = 0;  // inputs that could not be read (EX_NOINPUT)
  std::size_t not_mail = 0;    // inputs or messages that are not mail, or too large (EX_DATAERR)
};

// Reads every message of `files` ("-" or none = stdin) and computes its signatures with the
// client's engines. Each bad input is reported on stderr ("strop <cmd>: NAME: reason") and
// skipped.
Collected collect_messages(const std::string& cmd, const std::vector<std::string>& files,
                           const agent::Client& client);

// A one-line progress bar on stderr, drawn only when stderr is a terminal and `total` > 1.
class Progress {
 public:
  Progress(std::string verb, std::size_t total, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::size_t done);
  void finish();  // erases the bar

 private:
  std::string verb_;
  std::size_t total_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace strop::cli
