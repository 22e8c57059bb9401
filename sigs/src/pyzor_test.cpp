// pyzor_test.cpp: unit cases of the pyzor model. Every expected value below was produced by
// the real pyzor 1.0 package on Python 3.11.2 (DataDigester, normalize_html_part, bytes.decode),
// see tests/legacy/crosscheck.py for the corpus-wide comparison.
#include "sigs/pyzor.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pyzor_internal.hpp"
#include "sigs/legacy.hpp"

namespace strop::sigs::pyzor {
namespace {

std::u32string u32(std::string_view utf8) {  // test inputs are valid UTF-8
  std::u32string o;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    const int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    char32_t v = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k <= static_cast<std::size_t>(n); ++k) {
      v = (v << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    o.push_back(v);
    i += static_cast<std::size_t>(n) + 1;
  }
  return o;
}

std::string norm(std::string_view s) { return to_utf8(normalize_line(u32(s))); }

std::string html(std::string_view s) {
  std::optional<std::u32string> t = html_to_text(u32(s));
  return t ? to_utf8(*t) : std::string("<raises>");
}

TEST(PyzorNormalize, DropsLongWordsAddressesUrlsAndWhitespace) {
  EXPECT_EQ(norm("Hello world, this is a test"), "Helloworld,thisisatest");
  EXPECT_EQ(norm("visit http://example.com/x now please ok"), "visitnowpleaseok");
  EXPECT_EQ(norm("mail me@example.org or FOO:bar today"), "mailortoday");
  EXPECT_EQ(norm("averyveryverylongtokenindeed short words here"), "shortwordshere");
  // Python's Unicode whitespace (NBSP, ideographic space) and re.I folds (K, long s).
  EXPECT_EQ(norm("  tabs\tand\u00a0nbsp\u3000ideographic  "), "tabsandnbsp");
  EXPECT_EQ(norm("K:x \u017ftuff:y ok ab:c"), "ok");
  EXPECT_EQ(norm("e@ @e a@b"), "e@@e");
}

TEST(PyzorHtml, TextNodesLikeHtmlParser) {
  EXPECT_EQ(html("<p>Hello <b>World</b></p>"), "Hello World");
  EXPECT_EQ(html("<script>var x='<b>';</script>after"), "after");
  EXPECT_EQ(html("a &amp; b &notin; c &#65;&#x42; &zz;"), "a & b \u2209 c AB &zz;");
  EXPECT_EQ(html("<!-- c -->x<![if !mso]>y<![endif]>z"), "x y z");
  EXPECT_EQ(html("<br/>one<br>two"), "one two");
  EXPECT_EQ(html("x < y and y > z"), "x < y and y > z");
  EXPECT_EQ(html("<style>p{}</style>visible"), "visible");
}

TEST(PyzorHtml, FeedWithoutCloseLosesTheTail) {
  // pyzor calls feed() but never close(): an unfinished construct or a trailing '&' reference
  // that could still grow keeps the rest of the document in the parser's buffer.
  EXPECT_EQ(html("text<a href='unclosed>tail"), "text");
  EXPECT_EQ(html("before&amp"), "");
  EXPECT_EQ(html("end &notit"), "");
}

TEST(PyzorHtml, ParserExceptionsKillPyzor) {
  // _markupbase raises AssertionError; pyzor's except clause names html.parser.HTMLParseError,
  // which Python 3 no longer has, so the digest dies with a traceback.
  EXPECT_EQ(html("<![ bad"), "<raises>");
  EXPECT_FALSE(html_unescape(u32("&#" + std::string(4301, '9') + ";")).has_value());
  EXPECT_TRUE(html_unescape(u32("&#x" + std::string(5000, 'f') + ";")).has_value());
}

TEST(PyzorCodecs, ResolveAndDecodeLikePython) {
  EXPECT_EQ(codec_module("ks_c_5601-1987"), "euc_kr");  // not cp949 in Python
  EXPECT_EQ(codec_module("ISO-8859-1"), "latin_1");
  EXPECT_EQ(codec_module(" UTF8 "), "utf_8");
  EXPECT_EQ(codec_module("x-unknown"), "");
  auto dec = [](std::string_view b, std::string_view cs, DecodeErrors e) {
    Decoded d = decode(b, cs, e);
    return d.status == DecodeStatus::kOk ? to_utf8(d.text) : std::string("<error>");
  };
  EXPECT_EQ(dec("caf\xe9", "iso-8859-1", DecodeErrors::kIgnore), "caf\u00e9");
  EXPECT_EQ(dec("a\xe2\x82"
                "b\xc3",
                "utf-8", DecodeErrors::kIgnore),
            "ab");
  EXPECT_EQ(dec("a\xe2\x82"
                "b\xc3",
                "utf-8", DecodeErrors::kReplace),
            "a\ufffdb\ufffd");
  EXPECT_EQ(dec("\xb0\xa1!", "ks_c_5601-1987", DecodeErrors::kIgnore), "\uac00!");
  EXPECT_EQ(dec("\xc4\xe3\xba\xc3", "gb2312", DecodeErrors::kIgnore), "\u4f60\u597d");
  EXPECT_EQ(dec("\xa4\xa4\xa4\xe5", "big5", DecodeErrors::kIgnore), "\u4e2d\u6587");
  EXPECT_EQ(decode("x", "no-such-codec", DecodeErrors::kIgnore).status, DecodeStatus::kLookupError);
  EXPECT_EQ(decode("x", "base64", DecodeErrors::kIgnore).status, DecodeStatus::kLookupError);
  EXPECT_EQ(decode("x", "undefined", DecodeErrors::kIgnore).status, DecodeStatus::kUnicodeError);
  EXPECT_EQ(decode("", "undefined", DecodeErrors::kIgnore).status, DecodeStatus::kOk);
  EXPECT_EQ(decode("x", std::string_view("a\0b", 3), DecodeErrors::kIgnore).status,
            DecodeStatus::kValueError);
}

struct DigestCase {
  const char* name;
  std::string mail;
  const char* digest;  // nullptr: pyzor raises
};

TEST(PyzorDigest, MatchesPyzorOnSmallMessages) {
  std::string sixteen = "Subject: x\n\n";
  for (int i = 0; i < 16; ++i) {
    sixteen += "Line number " + std::to_string(i) + " has enough text in it\n";
  }
  const DigestCase cases[] = {
      {"plain",
       "From: a@b\nSubject: hi\n\nHello there, this is a plain message body.\nIt has several "
       "lines of ordinary text.\nShort\nAnother line that is long enough to count.\n",
       "3d30568326f2b5cdbdcfe4528464af9f180e2667"},
      {"html_qp",
       "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: "
       "quoted-printable\n\n<html><body><p>Caf=E9 special offer for you today!</p>=\n<p>Click "
       "the link below to claim your prize</p><script>x=1</script></body></html>\n",
       "ce001f7c494b01bd951746f44e9a67fa6b6fee6c"},
      {"b64",
       "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
       "SGVsbG8gd29ybGQsIHRoaXMgaXMgYmFzZTY0IGVuY29kZWQgdGV4dC4KU2Vjb25kIGxpbmUgb2YgdGhlIG1lc3Nh"
       "Z2UgaGVyZS4K\n",
       "301f845740283419b8cd8ac5b58f7ce94acc2fe3"},
      {"multipart",
       "Content-Type: multipart/alternative; boundary=XX\n\npreamble\n--XX\nContent-Type: "
       "text/plain\n\nFirst part text line one\nFirst part text line two\n--XX\nContent-Type: "
       "text/html\n\n<b>Second part in html here</b>\n--XX--\nepilogue\n",
       "df850fa31c6978294d79c281ae1f8a5ce3b46306"},
      {"nobound",
       "Content-Type: multipart/mixed\n\nThis body has no boundary parameter at all\nso it is "
       "yielded raw as one payload.\n",
       "a8ced57f830f6300494ba793daaf04ca3c8e9b18"},
      {"crash", "Content-Type: text/html\n\n<p>start of a document</p><![ oops\n", nullptr},
      {"iso2022jp",
       "Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s$K$A$O\x1b(B hello world\n"
       "\x1b$B$3$s\x1b(B greeting text\n",
       "0598e11cd28f27afb538afb0d81a895dfc2d2904"},
      {"sixteen", sixteen, "04ecbdbda9ec8f91f498d89b63237f38ebbdfa8c"},
  };
  for (const DigestCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::optional<std::string> d = digest(c.mail);
    if (c.digest == nullptr) {
      EXPECT_FALSE(d.has_value());
      EXPECT_FALSE(pyzor_digest(c.mail).has_value());
    } else {
      ASSERT_TRUE(d.has_value());
      EXPECT_EQ(*d, c.digest);
      EXPECT_EQ(pyzor_digest(c.mail), d);
    }
  }
}

TEST(PyzorDigest, SamplesThreeLinesAtTwentyAndSixtyPercent) {
  std::string mail = "Subject: x\n\n";
  for (int i = 0; i < 16; ++i)
    mail += "Line number " + std::to_string(i) + " has enough text in it\n";
  std::optional<std::vector<std::string>> kept = kept_lines(mail);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->size(), 16u);
  std::optional<std::vector<std::string>> hashed = predigest_lines(mail);
  ASSERT_TRUE(hashed.has_value());
  const std::vector<std::string> want = {
      "Linenumber3hasenoughtextinit",  "Linenumber4hasenoughtextinit",
      "Linenumber5hasenoughtextinit",  "Linenumber9hasenoughtextinit",
      "Linenumber10hasenoughtextinit", "Linenumber11hasenoughtextinit"};
  EXPECT_EQ(*hashed, want);
}

TEST(PyzorDigest, EmptyMessageHashesNothing) {
  EXPECT_EQ(digest(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(PyzorLimits, DeepNestingIsBoundedNotACrash) {
  std::string mail;
  for (int i = 0; i < 300; ++i) mail += "Content-Type: message/rfc822\n\n";
  mail += "body text that is long enough\n";
  Limits limits;
  EXPECT_FALSE(digest(mail, limits).has_value());
  limits.max_mime_depth = 1000;
  EXPECT_TRUE(digest(mail, limits).has_value());
}

}  // namespace
}  // namespace strop::sigs::pyzor
