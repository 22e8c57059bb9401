// vote.hpp: the shared body of `strop report` and `strop revoke`: read the inputs, compute
// signatures, send them in batches signed with the reporter identity, draw a progress bar on
// a terminal, print summary counts. Not thread-safe; CLI main thread only.
#pragma once

#include <string>
#include <vector>

#include "commands.hpp"

namespace strop::cli {

struct VoteOptions {
  std::vector<std::string> files;
  bool quiet = false;        // no summary line
  bool no_progress = false;  // no progress bar even on a terminal
};

enum class VoteKind { kReport, kRevoke };

// Returns the exit code: 0 when every message was sent; EX_DATAERR / EX_NOINPUT when some
// inputs were skipped (the rest are sent); the sysexits code of the node error otherwise.
int run_vote(VoteKind kind, const VoteOptions& options, const GlobalOptions& globals);

// Adds the options shared by report and revoke to `sub`.
void add_vote_options(CLI::App* sub, VoteOptions* options);

}  // namespace strop::cli
