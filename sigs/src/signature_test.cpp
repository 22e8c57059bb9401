#include "sigs/signature.hpp"

#include <gtest/gtest.h>

namespace strop::sigs {
namespace {

TEST(Signature, EngineNamesRoundTrip) {
  for (Engine e : kAllEngines) {
    auto back = engine_from_name(engine_name(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);
  }
  EXPECT_EQ(engine_from_name("fuzzy"), Engine::kFuzzy);
  EXPECT_FALSE(engine_from_name("nope").has_value());
}

TEST(Signature, MaskParse) {
  auto m = EngineMask::parse("body, razor-e4");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->has(Engine::kBody));
  EXPECT_TRUE(m->has(Engine::kRazorE4));
  EXPECT_FALSE(m->has(Engine::kFuzzy));
  EXPECT_TRUE(EngineMask::parse("all")->has(Engine::kPyzor));
  EXPECT_FALSE(EngineMask::parse("bogus").ok());
  EXPECT_FALSE(EngineMask::parse("").ok());
}

TEST(Signature, TextFormParses) {
  FuzzyHashes h{};
  for (int i = 0; i < kFuzzyHashes; ++i)
    h[static_cast<std::size_t>(i)] = 0x01020304u * static_cast<std::uint32_t>(i);
  Signature f{Engine::kFuzzy, encode_fuzzy(h)};
  auto p = parse_signature(f.text());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, f);
  EXPECT_EQ(*decode_fuzzy(p->value), h);
  EXPECT_TRUE(parse_signature("body/1:0123456789abcdef0123456789abcdef").ok());
  EXPECT_FALSE(parse_signature("body/1:0123").ok());
  EXPECT_FALSE(parse_signature("body/1:0123456789ABCDEF0123456789abcdef").ok());
  EXPECT_TRUE(parse_signature("razor-e4:maD-J2LHO2hbHzZrbOXcsZ6ndsoA").ok());
  EXPECT_TRUE(parse_signature("razor-e8:V6Mto59WfMkA").ok());
  EXPECT_FALSE(parse_signature("nocolon").ok());
  EXPECT_FALSE(parse_signature("fuzzy/1:zz").ok());
}

TEST(Signature, CompareFuzzyThreshold) {
  FuzzyHashes a{}, b{};
  for (int i = 0; i < kFuzzyHashes; ++i) {
    a[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(i + 1);
    b[static_cast<std::size_t>(i)] =
        i < kFuzzyMatchMin ? static_cast<std::uint32_t>(i + 1) : 0xffffffffu;
  }
  SignatureSet sa{{{Engine::kFuzzy, encode_fuzzy(a)}}};
  SignatureSet sb{{{Engine::kFuzzy, encode_fuzzy(b)}}};
  auto c = compare(sa, sb);
  EXPECT_TRUE(c.match);
  b[0] = 0xfffffffeu;
  sb.sigs[0].value = encode_fuzzy(b);
  EXPECT_FALSE(compare(sa, sb).match);
}

TEST(Signature, LegacyEnginesDoNotDecide) {
  SignatureSet a{{{Engine::kRazorE8, "V6Mto59WfMkA"}}};
  auto c = compare(a, a);
  EXPECT_FALSE(c.match);
  bool e8_match = false;
  for (auto& e : c.engines) {
    if (e.engine == Engine::kRazorE8) e8_match = e.match;
  }
  EXPECT_TRUE(e8_match);
}

// A url/1 match alone lists a message with too little text for fuzzy/1; a message whose text
// differs (no body/1, fuzzy/1 or attach/1 match) is not listed by a shared link unless the
// link is strongly attested (issue 13: a web platform's chrome URLs in spam and in its posts).
TEST(Signature, UrlAloneDecidesOnlyWithoutFuzzyOrAttested) {
  FuzzyHashes h1{}, h2{};
  for (std::size_t i = 0; i < h1.size(); ++i) {
    h1[i] = static_cast<std::uint32_t>(i + 1);
    h2[i] = static_cast<std::uint32_t>(i + 1000);
  }
  const Signature link{Engine::kUrl, "0123456789abcdef0123456789abcdef"};
  const Signature fuzzy1{Engine::kFuzzy, encode_fuzzy(h1)};
  const Signature fuzzy2{Engine::kFuzzy, encode_fuzzy(h2)};
  const Signature body2{Engine::kBody, "22222222222222222222222222222222"};
  const SignatureSet spam{{fuzzy1, link}};
  const SignatureSet ham_with_text{{fuzzy2, link}};
  const SignatureSet short_text{{body2, link}};  // >= 5 words, < 8 shingles
  const SignatureSet textless{{link}};
  EXPECT_FALSE(compare(spam, ham_with_text).match);
  EXPECT_TRUE(compare(spam, short_text).match);
  EXPECT_TRUE(compare(spam, textless).match);
  EXPECT_TRUE(compare(ham_with_text, ham_with_text).match);  // fuzzy/1 corroborates
  EXPECT_FALSE(has_fuzzy_signature(short_text));
  EXPECT_TRUE(has_fuzzy_signature(ham_with_text));
  EXPECT_FALSE(url_match_decides_alone(ham_with_text, 1));
  EXPECT_FALSE(url_match_decides_alone(ham_with_text, kUrlAttestedReporters - 1));
  EXPECT_TRUE(url_match_decides_alone(ham_with_text, kUrlAttestedReporters));
  EXPECT_TRUE(url_match_decides_alone(textless, 1));
  // The engine itself still reports the shared value.
  bool url_match = false;
  for (const auto& e : compare(spam, ham_with_text).engines) {
    if (e.engine == Engine::kUrl) url_match = e.match;
  }
  EXPECT_TRUE(url_match);
}

}  // namespace
}  // namespace strop::sigs
