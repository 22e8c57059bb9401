// verdict_test.cpp: the verdict of a check from its matches (verdict.hpp).
#include "verdict.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

// A fuzzy/1 value whose positions are what the minimum over about `shingles` distinct
// shingles would be (sigs::fuzzy_text_size reads the size back), the first `shared` positions
// equal to those of every other value made with the same `shared`.
sigs::FuzzyHashes fuzzy_of(double shingles, int shared, std::uint32_t salt) {
  sigs::FuzzyHashes h;
  const auto typical = static_cast<std::uint32_t>(4294967296.0 / (shingles + 1));
  for (int i = 0; i < sigs::kFuzzyHashes; ++i)
    h[static_cast<std::size_t>(i)] =
        typical + static_cast<std::uint32_t>(i < shared ? i : salt + i);
  return h;
}

storage::Match fuzzy_match(const sigs::FuzzyHashes& stored, std::size_t query_index,
                           int confidence) {
  storage::Match m = match(Engine::kFuzzy, confidence);
  m.id = "fuzzy/1:" + sigs::encode_fuzzy(stored);
  m.query_index = query_index;
  m.similarity = 0;  // not read: the verdict compares the values
  return m;
}

TEST(Verdict, FuzzyMatchOfTwoLongTextsNeedsTheUrlUnderTheLongThreshold) {
  // Two issues of one newsletter: long texts sharing their template's text, 12 of 32.
  const auto stored = fuzzy_of(400, 12, 1000);
  const sigs::Signature checked{Engine::kFuzzy, sigs::encode_fuzzy(fuzzy_of(400, 12, 2000))};
  ASSERT_GE(sigs::fuzzy_text_size(stored), sigs::kFuzzyLongText);
  const std::vector<sigs::Signature> query{kBody, checked, kUrl};
  storage::CheckOutcome out;
  out.matches = {fuzzy_match(stored, 1, 80)};
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
  EXPECT_FALSE(out.spam);
  // The same with a url/1 match of the same check: each backs the other.
  out.matches = {fuzzy_match(stored, 1, 80), match(Engine::kUrl, 70)};
  out.matches[1].query_index = 2;
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 80);
  EXPECT_TRUE(out.spam);
  // At kFuzzyLongMatchMin positions it decides alone.
  const auto close = fuzzy_of(400, sigs::kFuzzyLongMatchMin, 1000);
  const sigs::Signature near{Engine::kFuzzy,
                             sigs::encode_fuzzy(fuzzy_of(400, sigs::kFuzzyLongMatchMin, 2000))};
  out.matches = {fuzzy_match(close, 0, 80)};
  decide_verdict(std::vector<sigs::Signature>{near}, kPolicy, &out);
  EXPECT_TRUE(out.spam);
}

TEST(Verdict, FuzzyMatchWithAShortTextDecidesAlone) {
  // A short spam and its variant with a hash-buster paragraph: the stored text is short, so
  // 12 of 32 is the same message, whatever the checked text's size.
  const auto stored = fuzzy_of(40, 12, 1000);
  ASSERT_LT(sigs::fuzzy_text_size(stored), sigs::kFuzzyLongText);
  auto variant = fuzzy_of(400, 0, 2000);
  std::copy_n(stored.begin(), 12, variant.begin());  // the spam's own words, still there
  ASSERT_GE(sigs::fuzzy_text_size(variant), sigs::kFuzzyLongText / 2);
  const sigs::Signature checked{Engine::kFuzzy, sigs::encode_fuzzy(variant)};
  storage::CheckOutcome out;
  out.matches = {fuzzy_match(stored, 0, 80)};
  decide_verdict(std::vector<sigs::Signature>{checked}, kPolicy, &out);
  EXPECT_EQ(out.confidence, 80);
  EXPECT_TRUE(out.spam);
}

TEST(Verdict, WeakFuzzyAgreementAndUrlBackEachOtherUnlessBothTextsAreLong) {
  // A short spam's variant: its payload link, and 8 of 32 positions left by a hash-buster.
  const auto stored = fuzzy_of(40, 8, 1000);
  auto variant = fuzzy_of(60, 0, 2000);
  std::copy_n(stored.begin(), 8, variant.begin());
  const std::vector<sigs::Signature> query{
      kBody, sigs::Signature{Engine::kFuzzy, sigs::encode_fuzzy(variant)}, kUrl};
  storage::CheckOutcome out;
  out.matches = {fuzzy_match(stored, 1, 80)};
  decide_verdict(query, kPolicy, &out);
  EXPECT_FALSE(out.spam);  // 8/32 alone is nothing
  out.matches = {match(Engine::kUrl, 70)};
  out.matches[0].query_index = 2;
  decide_verdict(query, kPolicy, &out);
  EXPECT_FALSE(out.spam);  // the link alone, in a message with text, is nothing
  out.matches = {fuzzy_match(stored, 1, 80), match(Engine::kUrl, 70)};
  out.matches[1].query_index = 2;
  decide_verdict(query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 80);
  EXPECT_TRUE(out.spam);
  // Two long texts at 8/32 (a newsletter's template and its links): not even together.
  const auto long_stored = fuzzy_of(400, 8, 1000);
  const std::vector<sigs::Signature> long_query{
      kBody, sigs::Signature{Engine::kFuzzy, sigs::encode_fuzzy(fuzzy_of(400, 8, 2000))}, kUrl};
  out.matches = {fuzzy_match(long_stored, 1, 80), match(Engine::kUrl, 70)};
  out.matches[1].query_index = 2;
  decide_verdict(long_query, kPolicy, &out);
  EXPECT_EQ(out.confidence, 0);
  EXPECT_FALSE(out.spam);
}

}  // namespace
}  // namespace strop::node
