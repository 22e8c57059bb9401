// policy.hpp: the verdict: what happens to a message, given what the stages found.
//
// decide() is a pure function of a ScanOutcome and PolicyOptions. Precedence: a virus →
// the virus action; a stage that failed under a fail-closed (tempfail) policy → tempfail; a
// message too large to scan under a reject/tempfail oversize policy → that; score at or
// above reject_threshold → the spam action; at or above tag_threshold → tag; else accept.
// Stages that failed under a fail-open policy are listed in Decision::skipped (the milter
// says so in an X-Strop-Skipped header). Thread-safe, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strop::milter {

enum class Action { kAccept, kTag, kReject, kDiscard, kQuarantine, kTempfail };

// "accept", "tag", "reject", "discard", "quarantine", "tempfail".
const char* action_name(Action a);
Result<Action> parse_action(std::string_view text);

enum class FailMode { kTempfail, kAccept };  // fail-closed, fail-open
const char* fail_mode_name(FailMode m);
Result<FailMode> parse_fail_mode(std::string_view text);  // "tempfail" | "accept"

enum class Stage { kClamd, kLookup, kSpamd };
const char* stage_name(Stage s);  // "clamd", "lookup", "spamd"

struct PolicyOptions {
  double tag_threshold = 5.0;                // Default: 5 (X-Spam-Flag: YES)
  double reject_threshold = 15.0;            // Default: 15 (spam_action)
  Action virus_action = Action::kReject;     // Default: reject (554 5.7.1 Virus found: NAME)
  Action spam_action = Action::kReject;      // Default: reject (550 5.7.1)
  Action oversize_action = Action::kAccept;  // Default: accept, with X-Strop-Skipped
  // Default: fail-open, so mail flows (with X-Strop-Skipped) when clamd is absent or down;
  // sites that must never pass unscanned mail set clamd.on_failure = "tempfail".
  FailMode clamd_failure = FailMode::kAccept;
  FailMode lookup_failure = FailMode::kAccept;                     // Default: fail-open
  FailMode spamd_failure = FailMode::kAccept;                      // Default: fail-open
  std::string virus_reply = "Virus found: %v";                     // %v = virus name
  std::string spam_reply = "Message rejected as spam (score %s)";  // %s = score
  std::string tempfail_reply = "Message scanning temporarily unavailable, try again later";

  FailMode failure_mode(Stage s) const;
};

struct StageFailure {
  Stage stage = Stage::kClamd;
  std::string reason;     // short, e.g. "timeout", "unavailable: connect ...: refused"
  bool oversize = false;  // the message was too large for the stage (not a fault)
};

struct ScanOutcome {
  std::optional<std::string> virus;
  std::vector<StageFailure> failures;
  double score = 0;
};

struct Decision {
  Action action = Action::kAccept;
  std::string rcode;  // reject/tempfail: "554", "550", "451"
  std::string xcode;  // "5.7.1", "4.7.1"
  std::string text;   // reply text, already sanitised and %-escaped for smfi_setreply
  bool spam_flag = false;
  std::vector<std::string> skipped;  // "clamd (timeout)", ...
  std::string reason;                // for logs and the quarantine sidecar
};

Decision decide(const ScanOutcome& outcome, const PolicyOptions& options);

// Score as written in headers and logs: at most two decimals, no trailing zeros
// ("1000", "2.5", "-0.25").
std::string format_score(double score);

}  // namespace strop::milter
