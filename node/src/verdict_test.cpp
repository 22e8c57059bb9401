// verdict_test.cpp: the verdict of a check from its matches (verdict.hpp).
#include "verdict.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strop::node {
namespace {

using sigs::Engine;

const sigs::Signature kBody{Engine::kBody, "11111111111111111111111111111111"};
const sigs::Signature kFuzzy{Engine::kFuzzy, std::string(256, 'a')};
const sigs::Signature kUrl{Engine::kUrl, "0123456789abcdef0123456789abcdef"};

storage::Match match(Engine e, int confidence, std::uint32_t reports = 1) {
  storage::Match m;
  m.engine = e;
  m.confidence = confidence;
  m.reports = reports;
  return m;
}

const VerdictPolicy kPolicy{sigs::EngineMask::native().add(Engine::kRazorE4), 50};

TEST(Verdict, UrlAloneDoesNotListAMessageWithText) {
  // A post to a web platform shares the platform's links with spam posted there: the url/1
  // match alone, confidence 80 after one trusted report, does not list it.
  storage::CheckOutcome out;
  out.matches = {match(Engine::kUrl, 80)};
  const std::vector<sigs::Signature> query{kBody, kFuzzy, kUrl};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
  EXPECT_FALSE(out.spam);
  EXPECT_EQ(out.matches[0].confidence, 80);  // the match itself is still reported
}

TEST(Verdict, UrlAloneListsAMessageWithoutFuzzy) {
  // Too little text for fuzzy/1 ("click here" and a link): the link is what it says.
  for (const std::vector<sigs::Signature>& query :
       {std::vector<sigs::Signature>{kUrl}, std::vector<sigs::Signature>{kBody, kUrl}}) {
    storage::CheckOutcome out;
    out.matches = {match(Engine::kUrl, 80)};
    decide_verdict(query, kPolicy, &out);
    EXPECT_EQ(out.confidence, 80);
    EXPECT_TRUE(out.spam);
  }
}

TEST(Verdict, UrlAloneListsWhenStronglyAttested) {
  storage::CheckOutcome out;
  out.matches = {match(Engine::kUrl, 88, sigs::kUrlAttestedReporters)};
  const std::vector<sigs::Signature> query{kBody, kFuzzy, kUrl};
  decide_verdict(query, kPolicy, &out);
  EXPECT_TRUE(out.spam);
  out.matches = {match(Engine::kUrl, 88, sigs::kUrlAttestedReporters - 1)};
  decide_verdict(query, kPolicy, &out);
  EXPECT_FALSE(out.spam);
}

TEST(Verdict, AnotherDecidingEngineCorroboratesTheUrl) {
  storage::CheckOutcome out;
  out.matches = {match(Engine::kUrl, 80), match(Engine::kFuzzy, 30)};
  const std::vector<sigs::Signature> query{kBody, kFuzzy, kUrl};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 80);
  EXPECT_TRUE(out.spam);
  // razor-e4 decides too; razor-e8 and pyzor do not, so they corroborate nothing.
  out.matches = {match(Engine::kUrl, 80), match(Engine::kRazorE8, 90), match(Engine::kPyzor, 90)};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
  out.matches = {match(Engine::kUrl, 80), match(Engine::kRazorE4, 10)};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 80);
}

TEST(Verdict, AllowedAndRevokedMatchesNeitherDecideNorCorroborate) {
  storage::CheckOutcome out;
  storage::Match allowed = match(Engine::kBody, 80);
  allowed.allowed = true;
  out.matches = {match(Engine::kUrl, 80), allowed};
  const std::vector<sigs::Signature> query{kBody, kFuzzy, kUrl};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
  EXPECT_FALSE(out.spam);
  out.matches = {match(Engine::kUrl, 80), match(Engine::kBody, 0)};  // revoked to 0
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
}

TEST(Verdict, OtherEnginesDecideAsBefore) {
  storage::CheckOutcome out;
  out.matches = {match(Engine::kBody, 66), match(Engine::kRazorE8, 90)};
  const std::vector<sigs::Signature> query{kBody};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 66);
  EXPECT_TRUE(out.spam);
  out.matches = {match(Engine::kBody, 44)};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 44);
  EXPECT_FALSE(out.spam);
  out.matches = {};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
  EXPECT_FALSE(out.spam);
}

}  // namespace
}  // namespace strop::node
