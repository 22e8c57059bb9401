#include "sigs/compute.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace strop::sigs {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kSpam =
    "From: a@b.example\nTo: victim@c.example\nSubject: offer\n"
    "Content-Type: text/plain; charset=us-ascii\n\n"
    "Dear friend, we are pleased to offer you an exclusive opportunity to refinance your home\n"
    "at the lowest rates ever seen. Our experienced brokers will find the best mortgage for\n"
    "your family within days. Visit http://offers.example.com/refi/apply.html today and save\n"
    "thousands of dollars on your monthly payments. This offer expires soon, act now.\n";

SignatureSet sigs_of(const std::string& raw) {
  auto r = compute(raw);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : SignatureSet{};
}

TEST(Compute, GoldenVectorsOnCorpus) {
  // An accidental change to any native engine changes these and fails here. Regenerate
  // only for a deliberate new engine version.
  std::ifstream ref(std::string(STROP_SOURCE_DIR) + "/sigs/testdata/golden.ref");
  ASSERT_TRUE(ref) << "golden.ref missing";
  std::string line;
  int n = 0;
  while (std::getline(ref, line)) {
    auto sp = line.find(' ');
    std::string file = line.substr(0, sp);
    std::string want = line.substr(sp + 1);
    std::string raw = slurp(std::string(STROP_SHARED_DIR) + "/corpus/" + file);
    ASSERT_FALSE(raw.empty()) << file;
    EXPECT_EQ(sigs_of(raw).text(), want) << file;
    ++n;
  }
  EXPECT_GE(n, 10);
}

TEST(Compute, Deterministic) { EXPECT_EQ(sigs_of(kSpam).text(), sigs_of(kSpam).text()); }

TEST(Compute, AllNativeEnginesPresent) {
  auto s = sigs_of(kSpam);
  EXPECT_EQ(s.of(Engine::kBody).size(), 1u);
  EXPECT_EQ(s.of(Engine::kFuzzy).size(), 1u);
  EXPECT_EQ(s.of(Engine::kUrl).size(), 1u);
  EXPECT_TRUE(s.of(Engine::kAttach).empty());
}

TEST(Compute, ReEncodingKeepsExactDigest) {
  std::string qp = kSpam;
  qp.replace(qp.find("charset=us-ascii\n"), 17,
             "charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n");
  // Soft line breaks and an encoded letter.
  auto pos = qp.find("pleased");
  qp.replace(pos, 7, "pl=\neas=65d");
  auto a = sigs_of(kSpam);
  auto b = sigs_of(qp);
  EXPECT_EQ(a.of(Engine::kBody)[0]->value, b.of(Engine::kBody)[0]->value);
}

TEST(Compute, HtmlRenderingOfSameTextMatches) {
  std::string body(kSpam + std::string(kSpam).find("\n\n") + 2);
  std::string html =
      "From: x@y.example\nContent-Type: text/html\n\n<html><body><p>" + body +
      "</p><div style=\"display:none\">random hidden junk words here</div></body></html>\n";
  auto c = compare(sigs_of(kSpam), sigs_of(html));
  EXPECT_TRUE(c.match);
}

TEST(Compute, HeaderChangesDoNotMatter) {
  std::string v = kSpam;
  v.replace(v.find("Subject: offer"), 14, "Subject: a different subject line");
  v.replace(v.find("victim@c.example"), 16, "other@d.example");
  EXPECT_EQ(sigs_of(kSpam).text(), sigs_of(v).text());
}

TEST(Compute, UnrelatedMessagesDoNotMatch) {
  std::string ham =
      "From: bob@example.org\nSubject: meeting\n\n"
      "Hi Alice, the project review moved to Thursday afternoon. Please bring the draft of the\n"
      "architecture notes and the benchmark numbers we discussed last week. Thanks, Bob\n";
  EXPECT_FALSE(compare(sigs_of(kSpam), sigs_of(ham)).match);
}

TEST(Compute, TinyMessagesGetNoFuzzySignature) {
  auto s = sigs_of("Subject: x\n\nclick here\n");
  EXPECT_TRUE(s.of(Engine::kFuzzy).empty());
  EXPECT_TRUE(s.of(Engine::kBody).empty());
}

TEST(Compute, AttachmentHash) {
  std::string data(300, 'Z');
  std::string m =
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n"
      "--b\nContent-Type: image/gif; name=x.gif\n\n" +
      data + "\n--b--\n";
  auto s = sigs_of(m);
  ASSERT_EQ(s.of(Engine::kAttach).size(), 1u);
}

TEST(Compute, NotMailIsAnError) {
  auto r = compute("%PDF-1.4 binary");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNotMail);
}

}  // namespace
}  // namespace strop::sigs
