// `strop check`: ask the nodes whether messages are known spam. Razor-style exit codes.
#include <sysexits.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "agent_common.hpp"
#include "commands.hpp"
#include "protocol/codec.hpp"

namespace strop::cli {
namespace {

constexpr int kExitSpam = 0;
constexpr int kExitNotSpam = 1;
constexpr int kExitError = 2;  // and EX_DATAERR (65) for inputs that are not mail

struct CheckOptions {
  std::vector<std::string> files;
  bool json = false;
  bool quiet = false;
  bool spam_only = false;
};

int run_check(const CheckOptions& o, const GlobalOptions& g) {
  AgentContext ctx;
  int code = 0;
  if (!make_context("check", g, IdentityNeed::kOptional, kExitError, &ctx, &code)) return code;
  Collected in = collect_messages("check", o.files, *ctx.client);
  bool any_spam = false;
  const std::size_t chunk = std::max<std::size_t>(1, ctx.config.batch);
  std::vector<sigs::SignatureSet> sets;
  for (std::size_t i = 0; i < in.messages.size(); i += chunk) {
    std::size_t end = std::min(in.messages.size(), i + chunk);
    sets.clear();
    for (std::size_t k = i; k < end; ++k) sets.push_back(in.messages[k].sigs);
    auto r = ctx.client->check(sets, ctx.client->default_deadline());
    if (!r) {
      std::cout.flush();
      print_error("check", r.error().message);
      return kExitError;
    }
    for (std::size_t k = 0; k < r->size(); ++k) {
      const auto& v = (*r)[k];
      const auto& name = in.messages[i + k].name;
      const bool spam = v.verdict == protocol::Verdict::kSpam;
      any_spam = any_spam || spam;
      if (o.quiet || (o.spam_only && !spam)) continue;
      if (o.json) {
        std::cout << protocol::encode_verdict_line(name, v) << "\n";
      } else {
        std::cout << name << ": " << (spam ? "spam" : "not spam") << " (confidence " << v.confidence
                  << ")\n";
      }
    }
  }
  std::cout.flush();
  if (any_spam) return kExitSpam;
  if (in.messages.empty() && in.unreadable + in.not_mail == 0) {
    print_error("check", "no messages in the input");
  }
  // An input that is not mail is refused as data (EX_DATAERR), as `strop report` does.
  if (in.not_mail > 0) return EX_DATAERR;
  if (in.unreadable > 0 || in.messages.empty()) return kExitError;
  return kExitNotSpam;
}

}  // namespace

void setup_check(CLI::App& app, GlobalOptions& globals, int* exit_code) {
  auto o = std::make_shared<CheckOptions>();
  auto* sub = app.add_subcommand(
      "check", "Ask the nodes whether messages are known spam (exit 0 spam, 1 not spam, 2 error)");
  sub->add_option(
      "files", o->files,
      "Message files, mbox files, Maildirs or directories, - for stdin (default: stdin)");
  sub->add_flag("--json", o->json,
                "One JSON object per message: name, verdict, confidence and the matched stored "
                "signatures (engine, id, similarity, reports, revokes)");
  sub->add_flag("-q,--quiet", o->quiet, "Print nothing; the exit code tells");
  sub->add_flag("--spam-only", o->spam_only, "Print lines for spam messages only");
  sub->fallthrough();
  sub->footer(
      "One line per message: NAME: spam|not spam (confidence 0-100).\n"
      "Exit status: 0 if any message is spam, 1 if none is, 65 if an input is not mail and\n"
      "no message is spam, 2 on other errors (node unreachable, bad configuration, an\n"
      "unreadable input).\n"
      "Examples:\n"
      "  strop check msg.eml\n"
      "  strop check --node http://strop.example.org:7420 ~/Maildir\n"
      "  strop check --json inbox.mbox\n"
      "  strop check -q - < msg.eml && echo spam      # procmail/sieve style");
  sub->callback([o, &globals, exit_code] { *exit_code = run_check(*o, globals); });
}

}  // namespace strop::cli
