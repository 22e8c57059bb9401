#include "milter/policy.hpp"

#include <gtest/gtest.h>

namespace strop::milter {
namespace {

TEST(Policy, FormatScore) {
  EXPECT_EQ(format_score(1000), "1000");
  EXPECT_EQ(format_score(2.5), "2.5");
  EXPECT_EQ(format_score(2.25), "2.25");
  EXPECT_EQ(format_score(0), "0");
  EXPECT_EQ(format_score(-0.001), "0");
  EXPECT_EQ(format_score(-1), "-1");
}

TEST(Policy, CleanIsAccepted) {
  auto d = decide(ScanOutcome{std::nullopt, {}, 1.0}, PolicyOptions{});
  EXPECT_EQ(d.action, Action::kAccept);
  EXPECT_FALSE(d.spam_flag);
  EXPECT_TRUE(d.skipped.empty());
}

TEST(Policy, TagAndRejectThresholds) {
  PolicyOptions p;
  auto tag = decide(ScanOutcome{std::nullopt, {}, 5.0}, p);
  EXPECT_EQ(tag.action, Action::kTag);
  EXPECT_TRUE(tag.spam_flag);
  auto rej = decide(ScanOutcome{std::nullopt, {}, 1000}, p);
  EXPECT_EQ(rej.action, Action::kReject);
  EXPECT_EQ(rej.rcode, "550");
  EXPECT_EQ(rej.xcode, "5.7.1");
  EXPECT_EQ(rej.text, "Message rejected as spam (score 1000)");
  p.spam_action = Action::kTag;
  EXPECT_EQ(decide(ScanOutcome{std::nullopt, {}, 1000}, p).action, Action::kTag);
  p.spam_action = Action::kQuarantine;
  auto q = decide(ScanOutcome{std::nullopt, {}, 1000}, p);
  EXPECT_EQ(q.action, Action::kQuarantine);
  EXPECT_TRUE(q.spam_flag);
}

TEST(Policy, VirusWinsAndNamesTheVirus) {
  PolicyOptions p;
  ScanOutcome o{std::string("Eicar-Test-Signature.UNOFFICIAL"), {}, 1000};
  auto d = decide(o, p);
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.rcode, "554");
  EXPECT_EQ(d.text, "Virus found: Eicar-Test-Signature.UNOFFICIAL");
  EXPECT_EQ(d.reason, "virus Eicar-Test-Signature.UNOFFICIAL");
  for (Action a : {Action::kDiscard, Action::kQuarantine, Action::kTempfail}) {
    p.virus_action = a;
    EXPECT_EQ(decide(o, p).action, a);
  }
}

TEST(Policy, ReplyTextIsSanitisedAndPercentEscaped) {
  PolicyOptions p;
  p.virus_reply = "100% sure: %v";
  auto d = decide(ScanOutcome{std::string("Evil%s\r\nX"), {}, 0}, p);
  EXPECT_EQ(d.text, "100%% sure: Evil%%s??X");
}

TEST(Policy, FailClosedStageTempfails) {
  PolicyOptions p;
  p.clamd_failure = FailMode::kTempfail;  // fail-closed: the site's choice
  ScanOutcome o{std::nullopt, {StageFailure{Stage::kClamd, "timeout", false}}, 0};
  auto d = decide(o, p);
  EXPECT_EQ(d.action, Action::kTempfail);
  EXPECT_EQ(d.rcode, "451");
  EXPECT_EQ(d.xcode, "4.7.1");
  EXPECT_EQ(d.reason, "clamd failed: timeout");
}

TEST(Policy, FailOpenStageIsListedAsSkipped) {
  PolicyOptions p;
  p.clamd_failure = FailMode::kAccept;
  ScanOutcome o{std::nullopt,
                {StageFailure{Stage::kClamd, "unavailable", false},
                 StageFailure{Stage::kLookup, "timeout", false}},
                0};
  auto d = decide(o, p);
  EXPECT_EQ(d.action, Action::kAccept);
  EXPECT_EQ(d.skipped, (std::vector<std::string>{"clamd (unavailable)", "lookup (timeout)"}));
  // Every stage is fail-open by default: mail flows when one is down.
  EXPECT_EQ(PolicyOptions{}.failure_mode(Stage::kLookup), FailMode::kAccept);
  EXPECT_EQ(PolicyOptions{}.failure_mode(Stage::kSpamd), FailMode::kAccept);
  EXPECT_EQ(PolicyOptions{}.failure_mode(Stage::kClamd), FailMode::kAccept);
}

TEST(Policy, OversizeFollowsItsOwnAction) {
  PolicyOptions p;
  ScanOutcome o{std::nullopt, {StageFailure{Stage::kClamd, "too large", true}}, 0};
  auto d = decide(o, p);  // default: accept, noted
  EXPECT_EQ(d.action, Action::kAccept);
  EXPECT_EQ(d.skipped.size(), 1u);
  p.oversize_action = Action::kReject;
  d = decide(o, p);
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.rcode, "552");
}

TEST(Policy, ParseNames) {
  EXPECT_EQ(*parse_action("quarantine"), Action::kQuarantine);
  EXPECT_FALSE(parse_action("bounce").ok());
  EXPECT_EQ(*parse_fail_mode("accept"), FailMode::kAccept);
  EXPECT_EQ(*parse_fail_mode("tempfail"), FailMode::kTempfail);
  EXPECT_FALSE(parse_fail_mode("maybe").ok());
}

}  // namespace
}  // namespace strop::milter
