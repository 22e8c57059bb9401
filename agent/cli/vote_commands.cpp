// `strop report` and `strop revoke`: one subcommand each over the same inputs and options
// (vote.hpp); report votes "spam" on each message, revoke withdraws or votes "not spam".
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.hpp"
#include "vote.hpp"

namespace strop::cli {

namespace {

struct VoteCommand {
  VoteKind kind;
  const char* name;
  const char* description;
  const char* footer;
};

constexpr VoteCommand kVoteCommands[] = {
    {VoteKind::kReport, "report", "Report messages as spam (signed with your reporter identity)",
     "Computes every signature of each message (native and Razor/Pyzor) and reports them.\n"
     "Reporting the same message again changes nothing (idempotent per reporter).\n"
     "A bad input is reported on stderr and skipped; the rest are sent. On a terminal a\n"
     "progress bar shows batches; a summary line ends the run.\n"
     "Exit status: 0 all sent; 65 some input was not mail; 66 some input was unreadable;\n"
     "69 node unreachable; 75 timeout or rate-limited; 77 authentication failed;\n"
     "78 configuration (no identity, bad node URL).\n"
     "Examples:\n"
     "  strop report spam.eml\n"
     "  strop report ~/Maildir/.Junk\n"
     "  strop --identity ~/alice.json report spam.mbox"},
    {VoteKind::kRevoke, "revoke",
     "Revoke messages: withdraw your reports, or vote \"not spam\" on others'",
     "A revoke of a message you reported withdraws your report; a revoke of a message others\n"
     "reported counts as a trust-weighted \"not spam\" vote. Same inputs, progress bar and\n"
     "exit status as `strop report`.\n"
     "Examples:\n"
     "  strop revoke ham-that-was-flagged.eml\n"
     "  strop revoke ~/Maildir/.NotSpam"},
};

}  // namespace

void setup_vote_commands(CLI::App& app, GlobalOptions& globals, int* exit_code) {
  for (const VoteCommand& c : kVoteCommands) {
    auto o = std::make_shared<VoteOptions>();
    auto* sub = app.add_subcommand(c.name, c.description);
    add_vote_options(sub, o.get());
    sub->footer(c.footer);
    sub->callback(
        [o, &globals, exit_code, kind = c.kind] { *exit_code = run_vote(kind, *o, globals); });
  }
}

}  // namespace strop::cli
