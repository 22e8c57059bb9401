// `strop report`: report messages as spam to the nodes, signed with the reporter identity.
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.hpp"
#include "vote.hpp"

namespace strop::cli {

void setup_report(CLI::App& app, GlobalOptions& globals, int* exit_code) {
  auto o = std::make_shared<VoteOptions>();
  auto* sub = app.add_subcommand(
      "report", "Report messages as spam (signed with your reporter identity)");
  add_vote_options(sub, o.get());
  sub->footer(
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
      "  strop --identity ~/alice.json report spam.mbox");
  sub->callback([o, &globals, exit_code] { *exit_code = run_vote(VoteKind::kReport, *o, globals); });
}

}  // namespace strop::cli
