#include "sigs/normalize.hpp"

#include <gtest/gtest.h>

namespace strop::sigs {
namespace {

std::string toks(std::string_view s) {
  std::vector<std::string> t;
  tokenize(s, &t);
  std::string out;
  for (auto& w : t) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

TEST(Tokenize, FoldsCaseDiacriticsAndLookalikes) {
  EXPECT_EQ(toks("CAFÉ Straße ÅNGSTRÖM"), "cafe strase angstrom");
  // Cyrillic а/о/е standing in for Latin letters; fullwidth letters.
  EXPECT_EQ(toks("v\u0456\u0430gr\u0430 ｆｒｅｅ"), "viagra free");
}

TEST(Tokenize, DropsWhatVariesPerRecipient) {
  EXPECT_EQ(toks("Hello john@example.com see http://x.example/a?id=99 order 123456 now"),
            "hello see order now");
  EXPECT_EQ(toks("code AB12CD34EF and zzqxwvbn tokens"), "code and tokens");
}

TEST(Tokenize, LeetspeakAndApostrophesAndZeroWidth) {
  EXPECT_EQ(toks("fr3e m0ney don't wo\u200brd"), "free money dont word");
}

TEST(Tokenize, WhitespaceAndPunctuationFolding) {
  EXPECT_EQ(toks("  one,two...\tthree\n\n--four--  "), "one two three four");
}

TEST(Footers, QuotedLinesAndListFootersAreRemoved) {
  std::string t =
      "My answer.\n> quoted spam text\nCW> supercite quote\n\n"
      "_______________________________________________\n"
      "Foo-talk mailing list\nFoo-talk@lists.example.org\n"
      "https://lists.example.org/mailman/listinfo/foo-talk\n";
  EXPECT_EQ(strip_quotes_and_footers(t), "My answer.\n\n");
}

TEST(Footers, SignatureBlockRemovedWhenShort) {
  std::string body(400, 'x');
  std::string t = body + "\n-- \nJohn\nhttp://john.example\n";
  EXPECT_EQ(strip_quotes_and_footers(t), body + "\n");
}

TEST(Footers, LongTextAfterRuleIsKept) {
  std::string t = "intro\n----------\n" + std::string(500, 'y') + "\n";
  EXPECT_EQ(strip_quotes_and_footers(t), t);
}

TEST(Url, Canonicalisation) {
  auto u =
      canonical_url("HTTP://user@WWW.Example.CO.UK:8080/Path/Page.html?utm_source=x&id=7#frag");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "example.co.uk");
  EXPECT_EQ(u->registered_domain, "example.co.uk");
  EXPECT_EQ(u->path, "/path/page.html?id=7");
  EXPECT_TRUE(u->specific);
  auto sub = canonical_url("http://a.b.example.com/x");
  EXPECT_EQ(sub->registered_domain, "example.com");
}

TEST(Url, HostOnlyAndListMachineryAreNotSpecific) {
  EXPECT_FALSE(canonical_url("http://www.example.com/")->specific);
  EXPECT_FALSE(canonical_url("http://example.com")->specific);
  EXPECT_FALSE(canonical_url("http://example.com/index.html")->specific);
  EXPECT_FALSE(canonical_url("https://lists.example.org/mailman/listinfo/foo")->specific);
  EXPECT_FALSE(canonical_url("http://example.com/unsubscribe?u=1")->specific);
  EXPECT_FALSE(canonical_url("not a url").has_value());
}

TEST(Url, EmbeddedRedirectTargets) {
  auto v = embedded_urls("http://r.example/go?to=http%3A%2F%2Fspam.example%2Foffer&x=1");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], "http://spam.example/offer");
}

}  // namespace
}  // namespace strop::sigs
