#include "milter/pipeline.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "test_util.hpp"

namespace strop::milter {
namespace {

const std::string kClean =
    "From: Alice <alice@example.org>\r\nTo: u@test.local\r\nSubject: lunch\r\n"
    "Message-ID: <1@example.org>\r\n\r\nShall we meet for lunch on Friday at the usual place?\r\n";

std::string with_body(const std::string& body) {
  return "From: x@example.org\r\nTo: u@test.local\r\nSubject: offer\r\n\r\n" + body + "\r\n";
}

struct FakeScanner : VirusScanner {
  Result<VirusScanResult> next = VirusScanResult{};
  int calls = 0;
  Result<VirusScanResult> scan(std::string_view, const Deadline&) override {
    ++calls;
    return next;
  }
};

struct FakeLookup : SignatureLookup {
  Result<LookupVerdict> verdict = LookupVerdict{};
  bool hang = false;  // wait for the deadline, then time out
  int checks = 0, reports = 0;
  std::size_t last_sigs = 0;
  Result<LookupVerdict> check(const sigs::SignatureSet& s, const Deadline& d) override {
    ++checks;
    last_sigs = s.sigs.size();
    if (hang) {
      std::this_thread::sleep_until(d.at());
      return make_error(Errc::kTimeout, "node did not answer");
    }
    return verdict;
  }
  Result<void> report(const sigs::SignatureSet&, const Deadline&) override {
    ++reports;
    return {};
  }
};

struct FakeSpamd : SpamScorer {
  Result<spamc::Reply> reply = spamc::Reply{};
  int calls = 0;
  Result<spamc::Reply> score(std::string_view, const Deadline&) override {
    ++calls;
    return reply;
  }
};

PipelineOptions base_options() {
  PipelineOptions o;
  o.headers.scanned_by = "strop-milter test";
  return o;
}

std::string header_value(const PipelineResult& r, const std::string& name) {
  for (const auto& e : r.edits) {
    if (e.op == HeaderEdit::Op::kAdd && e.name == name) return e.value;
  }
  return "<absent>";
}

Envelope env() {
  Envelope e;
  e.queue_id = "Q1";
  e.client_addr = "127.0.0.1";
  e.mail_from = "<alice@example.org>";
  e.rcpts = {"<u@test.local>"};
  return e;
}

TEST(Pipeline, CleanMessageIsAcceptedWithHeaders) {
  FakeScanner clam;
  FakeLookup node;
  Metrics metrics;
  Pipeline p(base_options(), RuleSet(), &clam, &node, nullptr, &metrics);
  auto r = p.run(env(), kClean, {{"Subject", "lunch"}}, false);
  EXPECT_EQ(r.decision.action, Action::kAccept);
  EXPECT_EQ(clam.calls, 1);
  EXPECT_EQ(node.checks, 1);
  EXPECT_GT(node.last_sigs, 0u);
  EXPECT_EQ(header_value(r, "X-Scanned-By"), "strop-milter test");
  EXPECT_EQ(header_value(r, "X-Spam-Score"), "0 ()");
  EXPECT_EQ(header_value(r, "X-Spam-Flag"), "<absent>");
  EXPECT_EQ(metrics.messages(Action::kAccept), 1u);
  auto line = format_log_line(env(), r, kClean.size());
  EXPECT_TRUE(line.starts_with("queue=Q1 verdict=accept score=0 rules=- ")) << line;
  EXPECT_NE(line.find("clamd:"), std::string::npos);
  EXPECT_NE(line.find("lookup:"), std::string::npos);
  EXPECT_EQ(line.find("lunch"), std::string::npos);  // never any content
}

TEST(Pipeline, VirusIsRejectedAndLaterStagesAreSkipped) {
  FakeScanner clam;
  clam.next = VirusScanResult{true, "Eicar-Test-Signature.UNOFFICIAL", "x"};
  FakeLookup node;
  FakeSpamd spamd;
  Pipeline p(base_options(), RuleSet(), &clam, &node, &spamd, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kReject);
  EXPECT_EQ(r.decision.rcode, "554");
  EXPECT_EQ(r.decision.text, "Virus found: Eicar-Test-Signature.UNOFFICIAL");
  EXPECT_EQ(node.checks, 0);
  EXPECT_EQ(spamd.calls, 0);
  EXPECT_TRUE(r.edits.empty());
}

// The default: clamd down is no reason to refuse mail; it is marked skipped, and the stage
// is reported failing in the health until it answers again.
TEST(Pipeline, ClamdDownAcceptsByDefaultAndDegradesHealth) {
  FakeScanner clam;
  clam.next = make_error(Errc::kUnavailable,
                         "connect unix:/run/clamav/clamd.ctl: No such file or directory");
  Metrics metrics;
  metrics.health.enable(Stage::kClamd);
  Pipeline p(base_options(), RuleSet(), &clam, nullptr, nullptr, &metrics);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kAccept);
  EXPECT_EQ(r.decision.skipped.size(), 1u);
  EXPECT_EQ(metrics.health.degraded(),
            "clamd (unavailable: connect unix:/run/clamav/clamd.ctl: No such file or directory)");
  clam.next = VirusScanResult{};
  (void)p.run(env(), kClean, {}, false);
  EXPECT_EQ(metrics.health.degraded(), "");
}

// Rules swapped while serving (SIGHUP) apply to the messages that follow.
TEST(Pipeline, SetRulesAppliesToLaterMessages) {
  Pipeline p(base_options(), RuleSet(), nullptr, nullptr, nullptr, nullptr);
  std::string msg = "From: a@example.org\r\nSubject: x\r\n\r\nreload-marker here\r\n";
  EXPECT_EQ(p.run(env(), msg, {}, false).rules.score, 0);
  auto rules = parse_rules("body  RELOADED  /reload-marker/\nscore RELOADED  6\n");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  p.set_rules(std::move(*rules));
  EXPECT_EQ(p.run(env(), msg, {}, false).rules.score, 6);
}

TEST(Pipeline, ClamdDownTempfailsWhenFailClosed) {
  FakeScanner clam;
  clam.next = make_error(Errc::kUnavailable, "connect refused");
  FakeLookup node;
  auto o = base_options();
  o.policy.clamd_failure = FailMode::kTempfail;  // the site's choice; the default is accept
  Pipeline p(o, RuleSet(), &clam, &node, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kTempfail);
  EXPECT_EQ(r.decision.rcode, "451");
  EXPECT_EQ(node.checks, 0);
}

TEST(Pipeline, ClamdDownAcceptedWithHeaderWhenFailOpen) {
  FakeScanner clam;
  clam.next = make_error(Errc::kUnavailable, "connect refused");
  auto o = base_options();
  o.policy.clamd_failure = FailMode::kAccept;
  Pipeline p(o, RuleSet(), &clam, nullptr, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kAccept);
  EXPECT_EQ(header_value(r, "X-Strop-Skipped"), "clamd (unavailable: connect refused)");
}

TEST(Pipeline, OversizeSkipsClamdWithoutAsking) {
  FakeScanner clam;
  auto o = base_options();
  o.clamd_max_bytes = 10;
  Pipeline p(o, RuleSet(), &clam, nullptr, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(clam.calls, 0);
  EXPECT_EQ(r.decision.action, Action::kAccept);
  EXPECT_NE(header_value(r, "X-Strop-Skipped").find("clamd"), std::string::npos);
}

TEST(Pipeline, HungNodeCostsAtMostTheLookupTimeout) {
  FakeLookup node;
  node.hang = true;
  auto o = base_options();
  o.lookup_timeout = std::chrono::milliseconds(100);
  Pipeline p(o, RuleSet(), nullptr, &node, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kAccept);  // fail-open
  EXPECT_NE(header_value(r, "X-Strop-Skipped").find("lookup (timeout"), std::string::npos);
}

TEST(Pipeline, BudgetCapsEveryStage) {
  FakeLookup node;
  node.hang = true;
  auto o = base_options();
  o.budget = std::chrono::milliseconds(50);
  o.lookup_timeout = std::chrono::milliseconds(60000);
  Pipeline p(o, RuleSet(), nullptr, &node, nullptr, nullptr);
  auto start = Clock::now();
  auto r = p.run(env(), kClean, {}, false);
  // The fake sleeps until the deadline it was given: the budget, not the stage timeout.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(r.decision.action, Action::kAccept);
}

TEST(Pipeline, NodeConfidenceBecomesAScoredRule) {
  FakeLookup node;
  node.verdict = LookupVerdict{true, 90, {"fuzzy/1:abc"}};
  auto rules = parse_rules("score STROP_NODE 10\n");
  ASSERT_TRUE(rules.ok());
  Pipeline p(base_options(), *rules, nullptr, &node, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kTag);
  EXPECT_EQ(header_value(r, "X-Spam-Score"), "9 (*********) STROP_NODE");
  EXPECT_EQ(header_value(r, "X-Spam-Flag"), "YES");
}

TEST(Pipeline, GtubeIsRejected) {
  Pipeline p(base_options(), RuleSet(), nullptr, nullptr, nullptr, nullptr);
  auto r = p.run(env(), with_body(std::string(kGtube)), {}, false);
  EXPECT_EQ(r.decision.action, Action::kReject);
  EXPECT_EQ(r.decision.rcode, "550");
  ASSERT_FALSE(r.rules.hits.empty());
  EXPECT_EQ(r.rules.hits[0].name, "GTUBE");
}

TEST(Pipeline, SpamdScoreIsAdded) {
  FakeSpamd spamd;
  spamc::Reply rep;
  rep.score = 6;
  rep.symbols = {"SOME_RULE"};
  spamd.reply = rep;
  Pipeline p(base_options(), RuleSet(), nullptr, nullptr, &spamd, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kTag);
  EXPECT_EQ(r.spamd_symbols, std::vector<std::string>{"SOME_RULE"});
  spamd.reply = make_error(Errc::kUnavailable, "down");
  auto r2 = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r2.decision.action, Action::kAccept);  // fail-open by default
}

TEST(Pipeline, SpamTrapAndHighScoreAreReported) {
  FakeLookup node;
  auto o = base_options();
  o.spam_traps = {"trap@test.local"};
  o.report_threshold = 500;
  Pipeline p(o, RuleSet(), nullptr, &node, nullptr, nullptr);
  auto e = env();
  e.rcpts = {"<Trap@Test.Local>"};
  auto r = p.run(e, kClean, {}, false);
  EXPECT_TRUE(r.reported);
  EXPECT_EQ(node.reports, 1);
  auto r2 = p.run(env(), kClean, {}, false);
  EXPECT_FALSE(r2.reported);
  auto r3 = p.run(env(), with_body(std::string(kGtube) + " and some more words here"), {}, false);
  EXPECT_TRUE(r3.reported);
  EXPECT_EQ(node.reports, 2);
}

TEST(Pipeline, QuarantineToDirectoryDiscards) {
  testing::TempDir dir;
  FakeScanner clam;
  clam.next = VirusScanResult{true, "Eicar", "x"};
  auto o = base_options();
  o.policy.virus_action = Action::kQuarantine;
  o.quarantine_dir = dir.path();
  Pipeline p(o, RuleSet(), &clam, nullptr, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kQuarantine);
  EXPECT_FALSE(r.hold);
  ASSERT_FALSE(r.quarantine_id.empty());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/" + r.quarantine_id + ".eml"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/" + r.quarantine_id + ".json"));
  EXPECT_TRUE(r.edits.empty());
}

TEST(Pipeline, QuarantineFailureTempfails) {
  FakeScanner clam;
  clam.next = VirusScanResult{true, "Eicar", "x"};
  auto o = base_options();
  o.policy.virus_action = Action::kQuarantine;
  o.quarantine_dir = "/nonexistent/q";
  Pipeline p(o, RuleSet(), &clam, nullptr, nullptr, nullptr);
  auto r = p.run(env(), kClean, {}, false);
  EXPECT_EQ(r.decision.action, Action::kTempfail);
}

TEST(Pipeline, QuarantineHoldKeepsHeaders) {
  auto o = base_options();
  o.policy.spam_action = Action::kQuarantine;
  o.quarantine_method = QuarantineMethod::kHold;
  Pipeline p(o, RuleSet(), nullptr, nullptr, nullptr, nullptr);
  auto r = p.run(env(), with_body(std::string(kGtube)), {}, false);
  EXPECT_TRUE(r.hold);
  EXPECT_EQ(header_value(r, "X-Spam-Flag"), "YES");
}

TEST(Pipeline, UnparseableMessageStillGetsScored) {
  auto rules = parse_rules("full RAW /garbage/\n");
  ASSERT_TRUE(rules.ok());
  Pipeline p(base_options(), *rules, nullptr, nullptr, nullptr, nullptr);
  auto r = p.run(env(), "garbage without any header block", {}, false);
  EXPECT_EQ(r.rules.hits.size(), 1u);
}

TEST(Pipeline, ConcurrentRunsAreIndependent) {
  FakeScanner clam;  // returns the same clean verdict to every thread
  Pipeline p(base_options(), RuleSet(), nullptr, nullptr, nullptr, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> rejected{0}, accepted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        bool spam = (i + t) % 2 == 0;
        auto r = p.run(env(), spam ? with_body(std::string(kGtube)) : kClean, {}, false);
        (r.decision.action == Action::kReject ? rejected : accepted)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(rejected.load(), 100);
  EXPECT_EQ(accepted.load(), 100);
}

}  // namespace
}  // namespace strop::milter
