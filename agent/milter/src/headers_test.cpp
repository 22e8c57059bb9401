#include "milter/headers.hpp"

#include <gtest/gtest.h>

namespace strop::milter {
namespace {

using Op = HeaderEdit::Op;

RuleResult gtube() {
  RuleResult r;
  r.score = 1000;
  r.hits = {{"GTUBE", 1000}};
  return r;
}

TEST(Headers, SpamScoreInTheSeedForm) {
  EXPECT_EQ(spam_score_value(gtube()), "1000 (" + std::string(40, '*') + ") GTUBE");
  RuleResult r;
  r.score = 3.5;
  r.hits = {{"A", 2}, {"B", 1.5}};
  EXPECT_EQ(spam_score_value(r), "3.5 (***) A,B");
  EXPECT_EQ(spam_score_value(RuleResult{}), "0 ()");
  RuleResult neg;
  neg.score = -1;
  neg.hits = {{"ALL_TRUSTED", -1}};
  EXPECT_EQ(spam_score_value(neg), "-1 () ALL_TRUSTED");
}

TEST(Headers, SpamStatusInSpamAssassinForm) {
  EXPECT_EQ(spam_status_value(true, gtube(), 5.0), "Yes, score=1000.0 required=5.0 tests=GTUBE");
  EXPECT_EQ(spam_status_value(false, RuleResult{}, 5.0), "No, score=0.0 required=5.0 tests=none");
}

TEST(Headers, LongRuleListsAreCut) {
  RuleResult r;
  for (int i = 0; i < 200; ++i) r.hits.push_back({"RULE_NUMBER_" + std::to_string(i), 0.1});
  std::string v = spam_score_value(r, 100);
  EXPECT_LE(v.size(), 104u);
  EXPECT_TRUE(v.ends_with(",...")) << v;
}

TEST(Headers, CleanMessageGetsScannedByScoreStatusNoFlag) {
  HeaderOptions o;
  o.scanned_by = "strop-milter 0.1.0";
  auto edits = plan_headers({{"Subject", "hi"}}, Decision{}, RuleResult{}, o);
  ASSERT_EQ(edits.size(), 3u);
  EXPECT_EQ(edits[0], (HeaderEdit{Op::kAdd, "X-Scanned-By", 0, "strop-milter 0.1.0"}));
  EXPECT_EQ(edits[1].name, "X-Spam-Score");
  EXPECT_EQ(edits[2].name, "X-Spam-Status");
  EXPECT_EQ(edits[2].value, "No, score=0.0 required=5.0 tests=none");
}

TEST(Headers, TaggedMessageGetsFlagAndSubjectTag) {
  HeaderOptions o;
  o.subject_tag = "[SPAM]";
  Decision d;
  d.action = Action::kTag;
  d.spam_flag = true;
  auto edits = plan_headers({{"Subject", " Cheap pills"}}, d, gtube(), o);
  ASSERT_EQ(edits.size(), 5u);
  EXPECT_EQ(edits[3], (HeaderEdit{Op::kAdd, "X-Spam-Flag", 0, "YES"}));
  EXPECT_EQ(edits[4], (HeaderEdit{Op::kChange, "Subject", 1, "[SPAM] Cheap pills"}));
  // Already tagged: unchanged. No Subject: one is added.
  EXPECT_EQ(plan_headers({{"Subject", "[SPAM] x"}}, d, gtube(), o).size(), 4u);
  auto none = plan_headers({}, d, gtube(), o);
  EXPECT_EQ(none.back(), (HeaderEdit{Op::kAdd, "Subject", 0, "[SPAM]"}));
}

TEST(Headers, ForgedSpamHeadersAreRemovedLastFirst) {
  std::vector<SeenHeader> seen = {{"X-Spam-Flag", "NO"},       {"Subject", "x"},
                                  {"x-spam-flag", "NO again"}, {"X-Strop-Skipped", "nothing"},
                                  {"X-Spam-Score", "-100"},    {"X-Spammy", "not ours"}};
  auto edits = plan_headers(seen, Decision{}, RuleResult{}, HeaderOptions{});
  ASSERT_GE(edits.size(), 4u);
  EXPECT_EQ(edits[0], (HeaderEdit{Op::kDelete, "x-spam-flag", 2, ""}));
  EXPECT_EQ(edits[1], (HeaderEdit{Op::kDelete, "X-Spam-Flag", 1, ""}));
  EXPECT_EQ(edits[2], (HeaderEdit{Op::kDelete, "X-Strop-Skipped", 1, ""}));
  EXPECT_EQ(edits[3], (HeaderEdit{Op::kDelete, "X-Spam-Score", 1, ""}));
  EXPECT_EQ(edits[4].name, "X-Scanned-By");
}

TEST(Headers, RenameKeepsTheValueUnderAnUntrustedName) {
  HeaderOptions o;
  o.incoming = IncomingMode::kRename;
  auto edits = plan_headers({{"X-Spam-Flag", "YES"}}, Decision{}, RuleResult{}, o);
  EXPECT_EQ(edits[0], (HeaderEdit{Op::kDelete, "X-Spam-Flag", 1, ""}));
  EXPECT_EQ(edits[1], (HeaderEdit{Op::kAdd, "X-Untrusted-Spam-Flag", 0, "YES"}));
  o.incoming = IncomingMode::kKeep;
  EXPECT_EQ(plan_headers({{"X-Spam-Flag", "YES"}}, Decision{}, RuleResult{}, o)[0].name,
            "X-Scanned-By");
}

TEST(Headers, SkippedStagesAreAnnounced) {
  Decision d;
  d.skipped = {"clamd (unavailable: connect refused)", "lookup (timeout)"};
  auto edits = plan_headers({}, d, RuleResult{}, HeaderOptions{});
  EXPECT_EQ(edits.back(), (HeaderEdit{Op::kAdd, "X-Strop-Skipped", 0,
                                      "clamd (unavailable: connect refused), lookup (timeout)"}));
}

}  // namespace
}  // namespace strop::milter
