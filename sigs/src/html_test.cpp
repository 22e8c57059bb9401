#include <gtest/gtest.h>

#include "sigs/message.hpp"

namespace strop::sigs {
namespace {

std::string squash(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

// Found by html_fuzz: one tag repeating href/src added every copy past the limit.
TEST(Html, UrlLimitHoldsWhenATagRepeatsTheAttribute) {
  MimeLimits lim;
  lim.max_urls = 2;
  std::vector<std::string> urls, media;
  html_to_text(
      "<a href=http://a.example/1 href=http://a.example/2 href=http://a.example/3>x</a>"
      "<img src=http://i.example/1 src=http://i.example/2 src=http://i.example/3>",
      &urls, lim, &media);
  EXPECT_EQ(urls, (std::vector<std::string>{"http://a.example/1", "http://a.example/2"}));
  EXPECT_EQ(media, (std::vector<std::string>{"http://i.example/1", "http://i.example/2"}));
}

TEST(Html, DropsScriptsStylesCommentsAndHead) {
  std::string t = html_to_text(
      "<html><head><title>T</title><style>p{color:red}</style></head><body>"
      "<script>var x = '<b>no</b>';</script><p>Hello <!-- hidden -->world</p></body></html>",
      nullptr);
  EXPECT_EQ(squash(t), "Hello world");
}

TEST(Html, InlineTagsAndCommentsInsideWordsDoNotSplitThem) {
  EXPECT_EQ(squash(html_to_text("V<b></b>ia<!-- x -->gr<span>a</span>", nullptr)), "Viagra");
}

TEST(Html, BlockTagsBreakLines) {
  std::string t = html_to_text("<div>one</div><div>two</div>three<br>four", nullptr);
  EXPECT_EQ(t, "one\ntwo\nthree\nfour");
}

TEST(Html, HiddenElementsAreDropped) {
  std::string t = html_to_text(
      "buy <span style=\"display: none\">junk words</span>now "
      "<div style='font-size:0px'>more junk</div><font size=0>tiny</font>"
      "<p hidden>gone</p><span style=\"font-size:0.9em\">visible</span>",
      nullptr);
  EXPECT_EQ(squash(t), "buy now visible");
}

TEST(Html, EntitiesDecoded) {
  EXPECT_EQ(html_to_text("&lt;a&gt; &amp; &#72;&#x69; caf&eacute; &nbsp;x &bogus;", nullptr),
            "<a> & Hi café \u00a0x &bogus;");
}

TEST(Html, CollectsHrefs) {
  std::vector<std::string> urls;
  html_to_text(
      "<a href=\"http://ex.com/a?b=1&amp;c=2\">x</a><a href='mailto:x@y'>m</a>"
      "<A HREF=http://two.example/p>y</A>",
      &urls);
  ASSERT_EQ(urls.size(), 2u);
  EXPECT_EQ(urls[0], "http://ex.com/a?b=1&c=2");
  EXPECT_EQ(urls[1], "http://two.example/p");
}

TEST(Html, UnclosedHeadEndsAtBody) {
  EXPECT_EQ(squash(html_to_text("<head><title>x<body><p>text</p>", nullptr)), "text");
}

TEST(Html, FooterAfterHtmlKeepsLines) {
  std::string t = html_to_text("<html><body>hi</body></html>\n____\nList footer\n", nullptr);
  EXPECT_NE(t.find("\n____\nList footer\n"), std::string::npos);
}

TEST(Html, DeepNestingIsBounded) {
  std::string h;
  for (int i = 0; i < 100000; ++i) h += "<div style=\"display:none\">";
  h += "x";
  std::string t = html_to_text(h, nullptr);
  EXPECT_LE(t.size(), 100000u);
}

}  // namespace
}  // namespace strop::sigs
