#include "milter/pipeline.hpp"

#include <fmt/format.h>

#include "milter/bypass.hpp"
#include "milter/quarantine.hpp"
#include "milter/text.hpp"
#include "sigs/compute.hpp"

namespace strop::milter {

Result<QuarantineMethod> parse_quarantine_method(std::string_view text) {
  if (text == "directory") return QuarantineMethod::kDirectory;
  if (text == "hold") return QuarantineMethod::kHold;
  return make_error(Errc::kInvalidArgument,
                    "unknown quarantine method '" + std::string(text) + "' (directory, hold)");
}

const char* quarantine_method_name(QuarantineMethod m) {
  return m == QuarantineMethod::kDirectory ? "directory" : "hold";
}

Pipeline::Pipeline(PipelineOptions options, RuleSet rules, VirusScanner* scanner,
                   SignatureLookup* lookup, SpamScorer* spamd, Metrics* metrics)
    : options_(std::move(options)),
      rules_(std::make_shared<const RuleSet>(std::move(rules))),
      scanner_(scanner),
      lookup_(lookup),
      spamd_(spamd),
      metrics_(metrics) {}

void Pipeline::set_rules(RuleSet rules) {
  auto next = std::make_shared<const RuleSet>(std::move(rules));
  MutexLock lock(&rules_mu_);
  rules_ = std::move(next);
}

std::shared_ptr<const RuleSet> Pipeline::rules() const {
  MutexLock lock(&rules_mu_);
  return rules_;
}

void Pipeline::health(Stage stage, const Error* e) const {
  if (metrics_ == nullptr) return;
  if (e == nullptr) return metrics_->health.ok(stage);
  if (e->code == Errc::kLimitExceeded) return;  // the message, not the stage
  metrics_->health.failed(stage,
                          std::string(errc_name(e->code)) + ": " + sanitize(e->message, 200));
}

void Pipeline::record(PipelineResult* r, MetricStage stage, Clock::time_point start,
                      std::string status) const {
  double ms = ms_since(start);
  r->stages.push_back(StageReport{stage, ms, std::move(status)});
  if (metrics_ != nullptr) metrics_->stage_time(stage, ms / 1000.0);
}

namespace {

std::string short_error(const Error& e) {
  return std::string(errc_name(e.code)) + ": " + sanitize(e.message, 160);
}

}  // namespace

PipelineResult Pipeline::run(const Envelope& env, std::string_view message,
                             const std::vector<SeenHeader>& headers, bool truncated) const {
  const auto t0 = Clock::now();
  const Deadline budget = Deadline::after(options_.budget);
  PipelineResult r;
  ScanOutcome outcome;
  bool stop = false;  // a decisive result: skip the remaining remote stages

  auto fail = [&](Stage stage, MetricStage ms, const Error& e, bool oversize) {
    outcome.failures.push_back(StageFailure{stage, short_error(e), oversize});
    if (metrics_ != nullptr) metrics_->stage_error(ms, e.code);
    if (!oversize && options_.policy.failure_mode(stage) == FailMode::kTempfail) stop = true;
  };

  // 1. MIME parse (local, bounded by MimeLimits).
  auto t = Clock::now();
  auto parsed = sigs::parse_message(message, options_.mime);
  const sigs::Message* msg = parsed.ok() ? &parsed.value() : nullptr;
  record(&r, MetricStage::kParse, t, parsed.ok() ? "ok" : "error: " + short_error(parsed.error()));

  // 2. ClamAV.
  if (scanner_ != nullptr) {
    t = Clock::now();
    if (truncated || message.size() > options_.clamd_max_bytes) {
      fail(Stage::kClamd, MetricStage::kClamd,
           make_error(Errc::kLimitExceeded, "message larger than clamd max_bytes"), true);
      record(&r, MetricStage::kClamd, t, "skipped: too large");
    } else if (budget.expired()) {
      fail(Stage::kClamd, MetricStage::kClamd, make_error(Errc::kTimeout, "budget spent"), false);
      record(&r, MetricStage::kClamd, t, "error: budget spent");
    } else {
      auto v = scanner_->scan(message, budget.min(Deadline::after(options_.clamd_timeout)));
      health(Stage::kClamd, v ? nullptr : &v.error());
      if (!v) {
        bool oversize = v.error().code == Errc::kLimitExceeded;
        fail(Stage::kClamd, MetricStage::kClamd, v.error(), oversize);
        record(&r, MetricStage::kClamd, t, "error: " + short_error(v.error()));
      } else if (v->infected) {
        r.virus = v->virus;
        outcome.virus = v->virus;
        stop = true;
        if (metrics_ != nullptr) metrics_->virus();
        record(&r, MetricStage::kClamd, t, "virus");
      } else {
        record(&r, MetricStage::kClamd, t, "ok");
      }
    }
  }

  // 3. Signature lookup at the node.
  sigs::SignatureSet sigset;
  bool have_sigs = false;
  if (lookup_ != nullptr && !stop) {
    t = Clock::now();
    if (msg == nullptr) {
      record(&r, MetricStage::kLookup, t, "skipped: not parsed");
    } else {
      sigset = sigs::compute_native(*msg);
      have_sigs = !sigset.sigs.empty();
      if (!have_sigs) {
        record(&r, MetricStage::kLookup, t, "skipped: no signatures");
      } else if (budget.expired()) {
        fail(Stage::kLookup, MetricStage::kLookup, make_error(Errc::kTimeout, "budget spent"),
             false);
        record(&r, MetricStage::kLookup, t, "error: budget spent");
      } else {
        auto v = lookup_->check(sigset, budget.min(Deadline::after(options_.lookup_timeout)));
        health(Stage::kLookup, v ? nullptr : &v.error());
        if (!v) {
          fail(Stage::kLookup, MetricStage::kLookup, v.error(), false);
          record(&r, MetricStage::kLookup, t, "error: " + short_error(v.error()));
        } else {
          r.lookup = *v;
          record(&r, MetricStage::kLookup, t,
                 v->confidence > 0 ? fmt::format("cf={}", v->confidence) : "ok");
        }
      }
    }
  }

  // 4. spamd.
  std::optional<double> spamd_score;
  if (spamd_ != nullptr && !stop) {
    t = Clock::now();
    if (truncated || message.size() > options_.spamd_max_bytes) {
      record(&r, MetricStage::kSpamd, t, "skipped: too large");
    } else if (budget.expired()) {
      fail(Stage::kSpamd, MetricStage::kSpamd, make_error(Errc::kTimeout, "budget spent"), false);
      record(&r, MetricStage::kSpamd, t, "error: budget spent");
    } else {
      auto v = spamd_->score(message, budget.min(Deadline::after(options_.spamd_timeout)));
      health(Stage::kSpamd, v ? nullptr : &v.error());
      if (!v) {
        fail(Stage::kSpamd, MetricStage::kSpamd, v.error(), false);
        record(&r, MetricStage::kSpamd, t, "error: " + short_error(v.error()));
      } else {
        spamd_score = v->score;
        r.spamd_symbols = v->symbols;
        record(&r, MetricStage::kSpamd, t, "score=" + format_score(v->score));
      }
    }
  }

  // 5. Rules (local CPU; RE2 is linear in the bounded input).
  if (!stop) {
    t = Clock::now();
    RuleInput in;
    in.message = msg;
    in.raw = message;
    if (r.lookup && r.lookup->confidence > 0) in.node_confidence = r.lookup->confidence;
    in.spamd_score = spamd_score;
    r.rules = evaluate(*rules(), in, options_.eval);
    record(&r, MetricStage::kRules, t, "ok");
  }
  outcome.score = r.rules.score;

  // 6. Verdict.
  r.decision = decide(outcome, options_.policy);

  // 7. Auto-report: high scores and spam-trap recipients, never viruses.
  if (lookup_ != nullptr && have_sigs && !r.virus) {
    bool trap = false;
    for (const auto& rcpt : env.rcpts) {
      std::string a = bare_address(rcpt);
      for (const auto& t2 : options_.spam_traps) trap = trap || a == t2;
    }
    bool high = options_.report_threshold > 0 && r.rules.score >= options_.report_threshold;
    if (trap || high) {
      t = Clock::now();
      auto deadline = budget.min(Deadline::after(options_.report_timeout));
      auto rep = budget.expired() ? Result<void>(make_error(Errc::kTimeout, "budget spent"))
                                  : lookup_->report(sigset, deadline);
      r.reported = rep.ok();
      if (!rep.ok() && metrics_ != nullptr)
        metrics_->stage_error(MetricStage::kReport, rep.error().code);
      record(&r, MetricStage::kReport, t,
             rep.ok() ? (trap ? "ok (spam trap)" : "ok") : "error: " + short_error(rep.error()));
    }
  }

  // 8. Quarantine and headers.
  if (r.decision.action == Action::kQuarantine) {
    if (options_.quarantine_method == QuarantineMethod::kHold) {
      r.hold = true;
    } else {
      QuarantineInfo qi;
      qi.reason = r.decision.reason;
      qi.action = action_name(r.decision.action);
      qi.queue_id = env.queue_id;
      qi.client_addr = env.client_addr;
      qi.client_name = env.client_name;
      qi.helo = env.helo;
      qi.mail_from = env.mail_from;
      qi.rcpts = env.rcpts;
      qi.score = r.rules.score;
      qi.rules = r.rules.hits;
      qi.virus = r.virus.value_or("");
      auto id = write_quarantine(options_.quarantine_dir, message, qi);
      if (id) {
        r.quarantine_id = *id;
      } else {
        // Never lose a message we meant to keep: make the sender retry.
        r.decision.action = Action::kTempfail;
        r.decision.rcode = "451";
        r.decision.xcode = "4.7.1";
        r.decision.text = "Quarantine unavailable, try again later";
        r.decision.reason += "; quarantine failed: " + short_error(id.error());
      }
    }
  }
  if (r.decision.action == Action::kAccept || r.decision.action == Action::kTag || r.hold) {
    r.edits = plan_headers(headers, r.decision, r.rules, options_.headers);
  }
  r.total_ms = ms_since(t0);
  if (metrics_ != nullptr) {
    metrics_->stage_time(MetricStage::kTotal, r.total_ms / 1000.0);
    metrics_->message(r.decision.action);
  }
  return r;
}

std::string format_log_line(const Envelope& env, const PipelineResult& r, std::size_t size) {
  std::string rules;
  for (const auto& h : r.rules.hits) {
    if (!rules.empty()) rules += ',';
    rules += h.name;
  }
  std::string stages;
  for (const auto& s : r.stages) {
    if (!stages.empty()) stages += ',';
    stages += fmt::format("{}:{:.2f}ms", metric_stage_name(s.stage), s.ms);
    if (s.status != "ok") {
      // Appended piecewise: gcc 12's -Wrestrict misfires on `"(" + std::string&&` (PR 105329).
      stages += '(';
      stages += sanitize(s.status, 200);
      stages += ')';
    }
  }
  std::string line = fmt::format(
      "queue={} verdict={} score={} rules={} total={:.2f}ms stages={} from=<{}> rcpts={} size={}",
      env.queue_id.empty() ? "NOQUEUE" : sanitize(env.queue_id, 32),
      r.hold ? "hold" : action_name(r.decision.action), format_score(r.rules.score),
      rules.empty() ? "-" : rules, r.total_ms, stages.empty() ? "-" : stages,
      sanitize(bare_address(env.mail_from), 120), env.rcpts.size(), size);
  if (r.virus) line += " virus=" + sanitize(*r.virus, 120);
  if (!r.quarantine_id.empty()) line += " quarantine=" + r.quarantine_id;
  if (r.reported) line += " reported=yes";
  if (!r.decision.skipped.empty()) line += " skipped=" + std::to_string(r.decision.skipped.size());
  line += " reason=\"" + sanitize(r.decision.reason, 200) + "\"";
  return line;
}

}  // namespace strop::milter
