#include "milter/policy.hpp"

#include <fmt/format.h>

#include <cmath>

#include "milter/text.hpp"

namespace strop::milter {
namespace {

// Expands %v (virus) and %s (score) in a reply template, keeps printable ASCII only and
// doubles '%' (smfi_setreply treats a single '%' as a format character).
std::string reply_text(std::string_view tmpl, std::string_view virus, std::string_view score) {
  std::string expanded;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '%' && i + 1 < tmpl.size()) {
      char k = tmpl[i + 1];
      if (k == 'v' || k == 's' || k == '%') {
        expanded += k == 'v' ? std::string(virus) : k == 's' ? std::string(score) : "%";
        ++i;
        continue;
      }
    }
    expanded += tmpl[i];
  }
  std::string clean = sanitize(expanded, 400);
  std::string out;
  for (char c : clean) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

}  // namespace

const char* action_name(Action a) {
  switch (a) {
    case Action::kAccept: return "accept";
    case Action::kTag: return "tag";
    case Action::kReject: return "reject";
    case Action::kDiscard: return "discard";
    case Action::kQuarantine: return "quarantine";
    case Action::kTempfail: return "tempfail";
  }
  return "?";
}

Result<Action> parse_action(std::string_view text) {
  for (Action a : {Action::kAccept, Action::kTag, Action::kReject, Action::kDiscard,
                   Action::kQuarantine, Action::kTempfail}) {
    if (text == action_name(a)) return a;
  }
  return make_error(Errc::kInvalidArgument,
                    "unknown action '" + std::string(text) +
                        "' (accept, tag, reject, discard, quarantine, tempfail)");
}

const char* fail_mode_name(FailMode m) { return m == FailMode::kTempfail ? "tempfail" : "accept"; }

Result<FailMode> parse_fail_mode(std::string_view text) {
  if (text == "tempfail" || text == "closed") return FailMode::kTempfail;
  if (text == "accept" || text == "open") return FailMode::kAccept;
  return make_error(Errc::kInvalidArgument,
                    "unknown failure mode '" + std::string(text) + "' (tempfail, accept)");
}

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::kClamd: return "clamd";
    case Stage::kLookup: return "lookup";
    case Stage::kSpamd: return "spamd";
  }
  return "?";
}

FailMode PolicyOptions::failure_mode(Stage s) const {
  switch (s) {
    case Stage::kClamd: return clamd_failure;
    case Stage::kLookup: return lookup_failure;
    case Stage::kSpamd: return spamd_failure;
  }
  return FailMode::kTempfail;
}

std::string format_score(double score) {
  if (!std::isfinite(score)) return "0";
  std::string s = fmt::format("{:.2f}", score);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

Decision decide(const ScanOutcome& outcome, const PolicyOptions& options) {
  Decision d;
  const std::string score = format_score(outcome.score);
  auto apply = [&](Action a, bool virus) {
    d.action = a;
    switch (a) {
      case Action::kReject:
        d.rcode = virus ? "554" : "550";
        d.xcode = "5.7.1";
        d.text = virus ? reply_text(options.virus_reply, *outcome.virus, score)
                       : reply_text(options.spam_reply, "", score);
        break;
      case Action::kTempfail:
        d.rcode = "451";
        d.xcode = "4.7.1";
        d.text = reply_text(options.tempfail_reply, outcome.virus.value_or(""), score);
        break;
      case Action::kTag: d.spam_flag = true; break;
      default: break;
    }
  };
  for (const auto& f : outcome.failures) {
    if (options.failure_mode(f.stage) == FailMode::kAccept || f.oversize) {
      d.skipped.push_back(std::string(stage_name(f.stage)) + " (" + sanitize(f.reason, 120) + ")");
    }
  }
  if (outcome.virus) {
    d.reason = "virus " + sanitize(*outcome.virus, 120);
    apply(options.virus_action == Action::kAccept || options.virus_action == Action::kTag
              ? Action::kReject
              : options.virus_action,
          true);
    return d;
  }
  for (const auto& f : outcome.failures) {
    if (!f.oversize && options.failure_mode(f.stage) == FailMode::kTempfail) {
      d.reason = std::string(stage_name(f.stage)) + " failed: " + sanitize(f.reason, 120);
      apply(Action::kTempfail, false);
      return d;
    }
  }
  for (const auto& f : outcome.failures) {
    if (f.oversize && (options.oversize_action == Action::kReject ||
                       options.oversize_action == Action::kTempfail)) {
      d.reason = std::string(stage_name(f.stage)) + ": message too large to scan";
      apply(options.oversize_action, false);
      if (d.action == Action::kReject) {
        d.rcode = "552";
        d.xcode = "5.3.4";
        d.text = "Message too large to scan";
      }
      return d;
    }
  }
  if (outcome.score >= options.reject_threshold) {
    d.reason = "score " + score + " >= " + format_score(options.reject_threshold);
    apply(options.spam_action, false);
    if (options.spam_action == Action::kQuarantine || options.spam_action == Action::kDiscard) {
      d.spam_flag = true;
    }
    return d;
  }
  if (outcome.score >= options.tag_threshold) {
    d.reason = "score " + score + " >= " + format_score(options.tag_threshold);
    apply(Action::kTag, false);
    return d;
  }
  d.reason = "score " + score;
  d.action = Action::kAccept;
  return d;
}

}  // namespace strop::milter
