#include "vote.hpp"

#include <sysexits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <sstream>

#include "agent_common.hpp"

namespace strop::cli {

void add_vote_options(CLI::App* sub, VoteOptions* o) {
  sub->add_option(
      "files", o->files,
      "Message files, mbox files, Maildirs or directories, - for stdin (default: stdin)");
  sub->add_flag("-q,--quiet", o->quiet, "No summary line");
  sub->add_flag("--no-progress", o->no_progress, "No progress bar, even on a terminal");
  sub->fallthrough();
}

int run_vote(VoteKind kind, const VoteOptions& o, const GlobalOptions& g) {
  const std::string cmd = kind == VoteKind::kReport ? "report" : "revoke";
  AgentContext ctx;
  int code = 0;
  if (!make_context(cmd, g, IdentityNeed::kRequired, 0, &ctx, &code)) return code;
  Collected in = collect_messages(cmd, o.files, *ctx.client);

  const std::size_t total = in.messages.size();
  Progress progress(kind == VoteKind::kReport ? "reporting" : "revoking", total, !o.no_progress);
  const bool bar = !o.no_progress && total > 1 && ::isatty(2) == 1;
  const std::size_t batch = std::max<std::size_t>(1, ctx.config.batch);
  const std::size_t chunk = bar ? std::clamp<std::size_t>(total / 20, 10, batch) : batch;

  std::size_t sent = 0;
  std::size_t signatures = 0;
  std::size_t no_sigs = 0;
  protocol::MessageVoteResult sum;
  std::vector<sigs::SignatureSet> sets;
  int node_error = 0;
  std::size_t unlistable = 0;  // reported messages the node can never list (no deciding engine)
  progress.update(0);
  for (std::size_t i = 0; i < total; i += chunk) {
    std::size_t end = std::min(total, i + chunk);
    sets.clear();
    for (std::size_t k = i; k < end; ++k) sets.push_back(in.messages[k].sigs);
    auto r = kind == VoteKind::kReport ? ctx.client->report(sets, ctx.client->default_deadline())
                                       : ctx.client->revoke(sets, ctx.client->default_deadline());
    if (!r) {
      progress.finish();
      print_error(cmd, r.error().message);
      node_error = sysexit_for(r.error().code);
      break;
    }
    no_sigs += r->skipped_empty;
    for (std::size_t k = 0; k < r->results.size(); ++k) {
      const auto& m = r->results[k];
      if (sets[k].sigs.empty()) continue;
      ++sent;
      signatures += sets[k].sigs.size();
      sum.recorded += m.recorded;
      sum.unchanged += m.unchanged;
      sum.changed += m.changed;
      sum.withdrawn += m.withdrawn;
      sum.unknown += m.unknown;
      if (!m.listable) ++unlistable;
    }
    progress.update(end);
  }
  progress.finish();

  if (!o.quiet) {
    std::ostringstream os;
    os << (kind == VoteKind::kReport ? "reported " : "revoked ") << sent << " message"
       << (sent == 1 ? "" : "s") << " (" << signatures << " signatures: ";
    if (kind == VoteKind::kReport) {
      os << sum.recorded << " new, " << sum.unchanged << " already reported, " << sum.changed
         << " changed from revoke";
    } else {
      os << sum.withdrawn << " own reports withdrawn, " << sum.recorded << " not-spam votes, "
         << sum.unchanged << " already revoked, " << sum.changed << " changed from report, "
         << sum.unknown << " unknown";
    }
    os << ")";
    if (node_error != 0 && sent < total) os << "; " << (total - sent - no_sigs) << " not sent";
    if (no_sigs > 0) os << "; " << no_sigs << " without signatures";
    if (kind == VoteKind::kReport && unlistable > 0) {
      os << "; " << unlistable << (unlistable == 1 ? " message" : " messages")
         << " will never list: no signature of an engine that decides verdicts on the node";
    }
    if (in.unreadable + in.not_mail > 0) {
      os << "; " << (in.unreadable + in.not_mail) << " input"
         << (in.unreadable + in.not_mail == 1 ? "" : "s") << " skipped";
    }
    std::cout << os.str() << "\n";
    std::cout.flush();
  }
  if (node_error != 0) return node_error;
  if (total == 0 && in.unreadable + in.not_mail == 0) {
    print_error(cmd, "no messages in the input");
    return EX_NOINPUT;
  }
  if (in.unreadable > 0) return EX_NOINPUT;
  if (in.not_mail > 0) return EX_DATAERR;
  return 0;
}

}  // namespace strop::cli
