// pipeline.hpp: what happens at end of message. Given the buffered message and its
// envelope, run in order, each with its own deadline inside one overall budget: MIME parse,
// ClamAV (VirusScanner), signature lookup at the node (SignatureLookup), spamd (SpamScorer),
// rule scoring (RuleSet), the verdict (policy.hpp), optional auto-report, header edits
// (headers.hpp) and quarantine. A stage that is not configured is simply absent (null).
//
// Pipeline::run() is const and thread-safe as long as the stage objects are (the real
// clients are); it blocks for at most the budget plus the (bounded) local CPU work.
// set_rules() swaps the rule set for messages that start after it (SIGHUP), from any thread.
// Each remote stage's outcome is recorded in Metrics::health. The Pipeline does not own the
// stage objects or the Metrics; they must outlive it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.hpp"
#include "base/thread_annotations.hpp"
#include "milter/clamd.hpp"
#include "milter/headers.hpp"
#include "milter/lookup.hpp"
#include "milter/metrics.hpp"
#include "milter/policy.hpp"
#include "milter/rules.hpp"
#include "milter/spamc.hpp"
#include "sigs/message.hpp"

namespace strop::milter {

struct Envelope {
  std::string queue_id;
  std::string client_addr, client_name, helo;
  std::string mail_from;
  std::vector<std::string> rcpts;
};

enum class QuarantineMethod { kDirectory, kHold };
Result<QuarantineMethod> parse_quarantine_method(std::string_view text);  // directory|hold
const char* quarantine_method_name(QuarantineMethod m);

struct PipelineOptions {
  std::chrono::milliseconds budget{20000};         // Default: 20 s for everything
  std::chrono::milliseconds clamd_timeout{10000};  // Default: 10 s
  std::chrono::milliseconds lookup_timeout{1500};  // Default: 1.5 s
  std::chrono::milliseconds spamd_timeout{10000};  // Default: 10 s
  std::chrono::milliseconds report_timeout{2000};  // Default: 2 s
  std::size_t clamd_max_bytes = 25u << 20;         // Default: 25 MiB (keep <= StreamMaxLength)
  std::size_t spamd_max_bytes = 500u << 10;        // Default: 500 KiB (spamc's -s)
  double report_threshold = 0;                     // Default: 0 = no auto-report by score
  std::vector<std::string> spam_traps;             // Default: none (bare, lowercase)
  QuarantineMethod quarantine_method = QuarantineMethod::kDirectory;
  std::string quarantine_dir = "/var/spool/strop-milter/quarantine";
  PolicyOptions policy;
  HeaderOptions headers;
  EvalLimits eval;
  sigs::MimeLimits mime;
};

struct StageReport {
  MetricStage stage = MetricStage::kParse;
  double ms = 0;
  std::string status;  // "ok", "virus", "disabled", "skipped: ...", "error: ..."
};

struct PipelineResult {
  Decision decision;
  RuleResult rules;
  std::optional<std::string> virus;
  std::optional<LookupVerdict> lookup;
  std::vector<std::string> spamd_symbols;
  std::vector<StageReport> stages;
  std::vector<HeaderEdit> edits;  // apply in order (accept, tag, hold)
  bool hold = false;              // ask the MTA to hold the message (smfi_quarantine)
  std::string quarantine_id;      // directory quarantine: the files' id
  bool reported = false;          // auto-reported to the node
  double total_ms = 0;
};

class Pipeline {
 public:
  Pipeline(PipelineOptions options, RuleSet rules, VirusScanner* scanner, SignatureLookup* lookup,
           SpamScorer* spamd, Metrics* metrics);

  // `truncated`: the buffer stopped storing (message larger than the buffer limit).
  PipelineResult run(const Envelope& env, std::string_view message,
                     const std::vector<SeenHeader>& headers, bool truncated) const;

  const PipelineOptions& options() const { return options_; }

  // The rules for messages from now on (a reloaded rules file). Thread-safe.
  void set_rules(RuleSet rules) EXCLUDES(rules_mu_);
  std::shared_ptr<const RuleSet> rules() const EXCLUDES(rules_mu_);

 private:
  void record(PipelineResult* r, MetricStage stage, Clock::time_point start,
              std::string status) const;
  // The stage's health after a call: ok, or failing with `e` (not for a message too large).
  void health(Stage stage, const Error* e) const;

  PipelineOptions options_;
  mutable Mutex rules_mu_;
  std::shared_ptr<const RuleSet> rules_ GUARDED_BY(rules_mu_);
  VirusScanner* scanner_;
  SignatureLookup* lookup_;
  SpamScorer* spamd_;
  Metrics* metrics_;
};

// One log line for a message (without the logger's own prefix):
// "queue=ID verdict=tag score=6.5 rules=A,B stages=parse:0.1ms,clamd:1.2ms,... from=<..>
//  rcpts=2 size=1234 reason=..." — never any body content; envelope values sanitised.
std::string format_log_line(const Envelope& env, const PipelineResult& r, std::size_t size);

}  // namespace strop::milter
