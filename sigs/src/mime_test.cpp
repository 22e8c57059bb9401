#include <gtest/gtest.h>

#include "sigs/message.hpp"

namespace strop::sigs {
namespace {

TEST(Mime, RejectsNonMail) {
  auto r = parse_message(
      "\x7f"
      "ELF binary garbage");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNotMail);
  EXPECT_FALSE(parse_message("").ok());
  EXPECT_FALSE(parse_message("just some text without a header\n").ok());
}

TEST(Mime, AcceptsMboxFromLine) {
  auto r = parse_message("From a@b Sat Jan  1 00:00:00 2000\nSubject: hi\n\nbody text\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->parts.size(), 1u);
  EXPECT_EQ(r->parts[0].text, "body text\n");
  ASSERT_NE(r->header("subject"), nullptr);
  EXPECT_EQ(r->header("SUBJECT")->value, "hi");
}

TEST(Mime, UnfoldsAndDecodesHeaders) {
  auto r = parse_message(
      "Subject: =?UTF-8?B?SGVsbG8gV29ybGQ=?=\n =?ISO-8859-1?Q?caf=E9_ol=E9?=\nX: a\n\tb\n\nx\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header("Subject")->value, "Hello Worldcafé olé");
  EXPECT_EQ(r->header("X")->value, "a b");
}

TEST(Mime, QuotedPrintableAndCharset) {
  auto r = parse_message(
      "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: "
      "quoted-printable\n\n"
      "caf=E9 soft=\nbreak =3D\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->parts[0].text, "café softbreak =\n");
}

TEST(Mime, Base64CrlfAndKoi8) {
  // "привет" in KOI8-R, base64 encoded, CRLF line ends.
  auto r = parse_message(
      "Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: "
      "base64\r\n\r\n0NLJ18XU\r\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->parts.size(), 1u);
  EXPECT_EQ(r->parts[0].text, "привет");
}

TEST(Mime, NestedMultipartAlternativeAndAttachment) {
  const char* m =
      "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
      "preamble\n--outer\n"
      "Content-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\nContent-Type: text/plain\n\nplain words\n"
      "--inner\nContent-Type: text/html\n\n<p>html <b>words</b></p>\n--inner--\n"
      "--outer\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
      "filename=\"a.bin\"\nContent-Transfer-Encoding: base64\n\nAAECAw==\n--outer--\nepilogue\n";
  auto r = parse_message(m);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->parts.size(), 3u);
  EXPECT_EQ(r->parts[0].kind, PartKind::kText);
  EXPECT_EQ(r->parts[1].kind, PartKind::kHtml);
  EXPECT_EQ(r->parts[0].alternative_group, r->parts[1].alternative_group);
  EXPECT_GE(r->parts[0].alternative_group, 0);
  EXPECT_NE(r->parts[1].text.find("html words"), std::string::npos);
  EXPECT_EQ(r->parts[2].kind, PartKind::kAttachment);
  EXPECT_EQ(r->parts[2].filename, "a.bin");
  EXPECT_EQ(r->parts[2].data, std::string("\x00\x01\x02\x03", 4));
}

TEST(Mime, DepthLimitIsReportedNotFatal) {
  std::string m = "Content-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 1; i < 40; ++i) {
    m += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" +
         std::to_string(i) + "\n\n";
  }
  MimeLimits lim;
  lim.max_depth = 8;
  auto r = parse_message(m, lim);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(std::find(r->limits_hit.begin(), r->limits_hit.end(), "max_depth"),
            r->limits_hit.end());
}

TEST(Mime, PartCountLimit) {
  std::string m = "Content-Type: multipart/mixed; boundary=x\n\n";
  for (int i = 0; i < 1000; ++i) m += "--x\nContent-Type: text/plain\n\npart\n";
  m += "--x--\n";
  auto r = parse_message(m);
  ASSERT_TRUE(r.ok());
  EXPECT_LE(r->parts.size(), MimeLimits{}.max_parts);
  EXPECT_FALSE(r->limits_hit.empty());
}

TEST(Mime, MissingBoundaryFallsBackToText) {
  auto r = parse_message("Content-Type: multipart/mixed\n\nhello there\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->parts.size(), 1u);
  EXPECT_EQ(r->parts[0].text, "hello there\n");
}

TEST(Mime, EmbeddedMessageRfc822) {
  auto r = parse_message(
      "Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/plain\n\ninner body\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->parts.size(), 1u);
  EXPECT_EQ(r->parts[0].text, "inner body\n");
}

TEST(Mime, TruncatedInputNeverCrashes) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Transfer-Encoding: base64\n"
      "Content-Type: text/html\n\nPGI+aGk8L2I+=\n--q\nContent-Type: text/plain; charset=\"\n\n=";
  for (std::size_t n = 0; n <= m.size(); ++n) {
    auto r = parse_message(m.substr(0, n));
    (void)r;
  }
  SUCCEED();
}

TEST(Charset, Conversions) {
  EXPECT_EQ(to_utf8("\xe9t\xe9", "ISO-8859-1"), "été");
  EXPECT_EQ(to_utf8("\x93quoted\x94", "windows-1252"), "\u201cquoted\u201d");
  EXPECT_EQ(to_utf8("caf\xc3\xa9", "iso-8859-1"), "café");  // mislabelled UTF-8
  EXPECT_EQ(to_utf8("\xff\xfe", "utf-8"), "\ufffd\ufffd");
  EXPECT_EQ(to_utf8("\xa4", "iso-8859-15"), "€");
  EXPECT_EQ(to_utf8("abc", "no-such-charset"), "abc");
}

}  // namespace
}  // namespace strop::sigs
