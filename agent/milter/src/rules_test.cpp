#include "milter/rules.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace strop::milter {
namespace {

sigs::Message make_message(std::string subject, std::string text, std::string html = "",
                           std::vector<std::string> urls = {}) {
  sigs::Message m;
  m.headers.push_back({"From", "Alice <alice@example.org>"});
  m.headers.push_back({"Subject", std::move(subject)});
  m.headers.push_back({"X-Mailer", "Bulk Sender 9.0"});
  sigs::Part p;
  p.kind = sigs::PartKind::kText;
  p.content_type = "text/plain";
  p.text = std::move(text);
  p.urls = std::move(urls);
  m.parts.push_back(p);
  if (!html.empty()) {
    sigs::Part h;
    h.kind = sigs::PartKind::kHtml;
    h.content_type = "text/html";
    h.data = html;
    h.text = "rendered html";
    m.parts.push_back(h);
  }
  return m;
}

RuleSet parse_ok(std::string_view text) {
  auto r = parse_rules(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : RuleSet();
}

std::vector<std::string> names(const RuleResult& r) {
  std::vector<std::string> out;
  for (const auto& h : r.hits) out.push_back(h.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string error_of(std::string_view text, const RuleLimits& limits = {}) {
  auto r = parse_rules(text, limits);
  return r.ok() ? "" : r.error().message;
}

TEST(Rules, BuiltinsOnlyByDefault) {
  RuleSet rs;
  EXPECT_EQ(rs.size(), 3u);
  ASSERT_TRUE(rs.find("GTUBE"));
  EXPECT_EQ(rs.find("GTUBE")->score, 1000);
  EXPECT_FALSE(rs.find("NOPE"));
}

TEST(Rules, ParsesEveryKindWithScoresAndDescriptions) {
  auto rs = parse_ok(R"(
# a comment
header   SUBJ_FREE   Subject =~ /free\s+money/i
header   NO_DATE     Date !~ /./
header   HAS_MAILER  exists:X-Mailer
body     BODY_PILLS  /cheap pills/i
rawbody  RAW_FONT    /<font\b/i
uri      URI_SHORT   m{^https?://bit\.ly/}
full     FULL_X      /^X-Mailer: Bulk/m
meta     COMBO       SUBJ_FREE && (BODY_PILLS || URI_SHORT)
score    SUBJ_FREE   2.5
score    COMBO       -1
describe COMBO       free money and pills
)");
  EXPECT_EQ(rs.size(), 11u);
  EXPECT_EQ(rs.find("SUBJ_FREE")->score, 2.5);
  EXPECT_EQ(rs.find("COMBO")->score, -1);
  EXPECT_EQ(rs.find("COMBO")->description, "free money and pills");
  EXPECT_EQ(rs.find("BODY_PILLS")->score, 1.0);  // default
  EXPECT_EQ(rs.find("URI_SHORT")->kind, "uri");
  EXPECT_EQ(rs.find("SUBJ_FREE")->line, 3);
}

TEST(Rules, EvaluatesHeaderBodyRawbodyUriFull) {
  auto rs = parse_ok(R"(
header SUBJ_FREE  Subject =~ /free\s+money/i
header NO_DATE    Date !~ /./
header HAS_MAILER exists:X-Mailer
header NO_CC      exists:Cc
header ALL_BULK   ALL =~ /^X-Mailer: Bulk/m
body   BODY_PILLS /cheap pills/i
body   BODY_HTML  /rendered html/
rawbody RAW_FONT  /<font\b/i
body   BODY_FONT  /<font\b/i
uri    URI_SHORT  m{^https?://bit\.ly/}
full   FULL_X     /^X-Mailer: Bulk/m
)");
  auto msg = make_message("FREE  Money now", "Buy CHEAP PILLS today",
                          "<p><font color=red>x</font></p>", {"http://bit.ly/abc"});
  std::string raw = "X-Mailer: Bulk Sender 9.0\r\nSubject: x\r\n\r\nbody\r\n";
  auto r = evaluate(rs, RuleInput{&msg, raw, std::nullopt, std::nullopt});
  EXPECT_EQ(names(r),
            (std::vector<std::string>{"ALL_BULK", "BODY_HTML", "BODY_PILLS", "FULL_X", "HAS_MAILER",
                                      "NO_DATE", "RAW_FONT", "SUBJ_FREE", "URI_SHORT"}));
  EXPECT_DOUBLE_EQ(r.score, 9.0);
}

TEST(Rules, BodyIncludesSubjectLikeSpamAssassin) {
  auto rs = parse_ok("body SUBJ_IN_BODY /^Hello world$/m\n");
  auto msg = make_message("Hello world", "nothing");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt});
  EXPECT_EQ(names(r), std::vector<std::string>{"SUBJ_IN_BODY"});
}

TEST(Rules, MetaOperatorsAndPrecedence) {
  auto rs = parse_ok(R"(
body __A /alpha/
body __B /beta/
body __C /gamma/
meta M_AND   __A && __B
meta M_OR    __A || __C
meta M_NOT   !__C
meta M_PREC  __C || __A && __B
meta M_SUM   (__A + __B + __C) >= 2
meta M_ARITH __A * 3 - 1 == 2
meta M_META  M_AND && !M_NOT == 0
meta M_FALSE __A && __C
)");
  auto msg = make_message("", "alpha beta");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt});
  // "__" rules are never reported.
  EXPECT_EQ(names(r), (std::vector<std::string>{"M_AND", "M_ARITH", "M_META", "M_NOT", "M_OR",
                                                "M_PREC", "M_SUM"}));
}

TEST(Rules, MetaOrderIndependentOfFileOrder) {
  auto rs = parse_ok(R"(
meta OUTER INNER && __X
meta INNER __X
body __X /x/
)");
  auto msg = make_message("", "x");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt});
  EXPECT_EQ(names(r), (std::vector<std::string>{"INNER", "OUTER"}));
}

TEST(Rules, GtubeBuiltin) {
  RuleSet rs;
  auto msg = make_message("test", std::string("hi\n") + std::string(kGtube) + "\n");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt});
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].name, "GTUBE");
  EXPECT_EQ(r.score, 1000);
  // Also found in the raw message when the body did not parse.
  std::string raw = "Subject: x\r\n\r\n" + std::string(kGtube) + "\r\n";
  auto r2 = evaluate(rs, RuleInput{nullptr, raw, std::nullopt, std::nullopt});
  EXPECT_EQ(r2.score, 1000);
}

TEST(Rules, NodeRuleScalesWithConfidence) {
  auto rs = parse_ok("score STROP_NODE 8\nmeta BOTH STROP_NODE && GTUBE\n");
  auto msg = make_message("", "plain");
  auto r = evaluate(rs, RuleInput{&msg, "", 75.0, std::nullopt});
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].name, "STROP_NODE");
  EXPECT_DOUBLE_EQ(r.score, 6.0);
  auto none = evaluate(rs, RuleInput{&msg, "", 0.0, std::nullopt});
  EXPECT_TRUE(none.hits.empty());
}

TEST(Rules, SpamdRuleScalesSpamdScore) {
  auto rs = parse_ok("score SPAMD 0.5\n");
  auto msg = make_message("", "plain");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, 7.0});
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_DOUBLE_EQ(r.score, 3.5);
}

TEST(Rules, HitsSortedByScoreThenName) {
  auto rs = parse_ok("body B /x/\nbody A /x/\nbody C /x/\nscore C 3\n");
  auto msg = make_message("", "x");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt});
  ASSERT_EQ(r.hits.size(), 3u);
  EXPECT_EQ(r.hits[0].name, "C");
  EXPECT_EQ(r.hits[1].name, "A");
  EXPECT_EQ(r.hits[2].name, "B");
}

TEST(Rules, ManyBodyRulesUseTheSetAndAgreeWithSingleMatching) {
  std::string text;
  for (int i = 0; i < 50; ++i)
    text += "body R" + std::to_string(i) + " /word" + std::to_string(i) + "\\b/i\n";
  auto rs = parse_ok(text);
  auto msg = make_message("", "WORD7 and word13 and word130");
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt});
  EXPECT_EQ(names(r), (std::vector<std::string>{"R13", "R7"}));
}

TEST(Rules, FallsBackToRawBodyWhenNotParsed) {
  auto rs = parse_ok("body B /needle/\nheader H Subject =~ /x/\n");
  std::string raw = "Subject: x\r\n\r\nhay needle hay\r\n";
  auto r = evaluate(rs, RuleInput{nullptr, raw, std::nullopt, std::nullopt});
  EXPECT_EQ(names(r), std::vector<std::string>{"B"});
}

TEST(Rules, EvalLimitsBoundTheText) {
  auto rs = parse_ok("body FAR /needle/\n");
  auto msg = make_message("", std::string(1000, 'a') + "needle");
  EvalLimits lim;
  lim.max_body_bytes = 100;
  auto r = evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt}, lim);
  EXPECT_TRUE(r.hits.empty());
}

TEST(RulesParse, ErrorsNameTheLine) {
  EXPECT_EQ(error_of("body A /x/\nbogus B /y/\n"), "line 2: unknown directive 'bogus'");
  EXPECT_EQ(error_of("body A /x/\nbody A /y/\n"), "line 2: rule A already defined at line 1");
  EXPECT_EQ(error_of("body 9A /x/\n"), "line 1: bad or missing rule name after 'body'");
  EXPECT_EQ(error_of("body A /x\n"), "line 1: unterminated regular expression");
  EXPECT_EQ(error_of("body A /x/q\n"), "line 1: unsupported regular expression flag 'q'");
  EXPECT_EQ(error_of("body A x\n"), "line 1: regular expression must look like /re/flags");
  EXPECT_EQ(error_of("header A Subject == /x/\n"),
            "line 1: expected =~ or !~ after the header name");
  EXPECT_EQ(error_of("score A 1\n"), "line 1: score for unknown rule A");
  EXPECT_EQ(error_of("body A /x/\nscore A lots\n"), "line 2: bad score 'lots'");
  EXPECT_EQ(error_of("meta M A && B\nbody A /x/\n"), "line 1: unknown rule B in meta M");
  EXPECT_EQ(error_of("meta M (A\nbody A /x/\n"), "line 1: missing ')' in meta expression");
  EXPECT_EQ(error_of("meta M A &&\nbody A /x/\n"), "line 1: unexpected 'end' in meta expression");
  EXPECT_EQ(error_of("meta M A ; B\n"), "line 1: unexpected character ';' in meta expression");
  EXPECT_EQ(error_of("body GTUBE /x/\n"),
            "line 1: rule GTUBE is built in (set its score with 'score')");
}

TEST(RulesParse, RejectsBadRegexAndPerlOnlySyntax) {
  auto e = error_of("body A /(unclosed/\n");
  EXPECT_TRUE(e.starts_with("line 1: bad regular expression")) << e;
  e = error_of("body A /(?=lookahead)/\n");
  EXPECT_TRUE(e.starts_with("line 1: bad regular expression")) << e;
  e = error_of("body A /(a)\\1/\n");
  EXPECT_TRUE(e.starts_with("line 1: bad regular expression")) << e;
}

TEST(RulesParse, DetectsMetaCycles) {
  auto e = error_of("meta A B\nmeta B C\nmeta C A\n");
  EXPECT_NE(e.find("depends on itself"), std::string::npos) << e;
  e = error_of("meta A A\n");
  EXPECT_NE(e.find("depends on itself"), std::string::npos) << e;
}

TEST(RulesParse, NamedLimits) {
  RuleLimits lim;
  lim.max_file_bytes = 10;
  EXPECT_EQ(error_of("body A /abcdefghij/\n", lim), "rules file larger than max_file_bytes (10)");
  lim = {};
  lim.max_line_bytes = 8;
  EXPECT_EQ(error_of("body A /abcdefghij/\n", lim), "line 1: line longer than max_line_bytes (8)");
  lim = {};
  lim.max_rules = 1;
  EXPECT_EQ(error_of("body A /a/\nbody B /b/\n", lim), "line 2: more than max_rules (1) rules");
  lim = {};
  lim.max_pattern_bytes = 3;
  EXPECT_EQ(error_of("body A /abcd/\n", lim),
            "line 1: regular expression longer than max_pattern_bytes (3)");
  lim = {};
  lim.max_meta_depth = 5;
  EXPECT_NE(error_of("body A /a/\nmeta M ((((((((A))))))))\n", lim).find("max_meta_depth"),
            std::string::npos);
  lim = {};
  lim.max_meta_tokens = 4;
  EXPECT_NE(error_of("body A /a/\nmeta M A && A && A\n", lim).find("max_meta_tokens"),
            std::string::npos);
  lim = {};
  lim.max_program_size = 50;
  EXPECT_NE(error_of("body A /a{1,100}/\n", lim).find("max_program_size"), std::string::npos);
}

TEST(RulesParse, AcceptsFourScoresAndDelimiters) {
  auto rs = parse_ok("body A m!a/b!i\nbody B m(a(b)c)\nbody C m<x>\nscore A 1.5 2 3 4\n");
  EXPECT_EQ(rs.find("A")->score, 1.5);
  EXPECT_EQ(error_of("body A /a/\nscore A 1 2\n"),
            "line 2: a score line takes one number (or four)");
}

TEST(RulesParse, EmptyPatternMatchesEverything) {
  auto rs = parse_ok("body ANY //\n");
  auto msg = make_message("", "");
  EXPECT_EQ(evaluate(rs, RuleInput{&msg, "", std::nullopt, std::nullopt}).hits.size(), 1u);
}

}  // namespace
}  // namespace strop::milter
