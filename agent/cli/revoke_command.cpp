// `strop revoke`: tell the nodes that messages are not spam (withdraws your own reports).
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.hpp"
#include "vote.hpp"

namespace strop::cli {

void setup_revoke(CLI::App& app, GlobalOptions& globals, int* exit_code) {
  auto o = std::make_shared<VoteOptions>();
  auto* sub = app.add_subcommand(
      "revoke", "Revoke messages: withdraw your reports, or vote \"not spam\" on others'");
  add_vote_options(sub, o.get());
  sub->footer(
      "A revoke of a message you reported withdraws your report; a revoke of a message others\n"
      "reported counts as a trust-weighted \"not spam\" vote. Same inputs, progress bar and\n"
      "exit status as `strop report`.\n"
      "Examples:\n"
      "  strop revoke ham-that-was-flagged.eml\n"
      "  strop revoke ~/Maildir/.NotSpam");
  sub->callback([o, &globals, exit_code] { *exit_code = run_vote(VoteKind::kRevoke, *o, globals); });
}

}  // namespace strop::cli
