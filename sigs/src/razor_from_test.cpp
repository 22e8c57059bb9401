// razor_from_test.cpp: razor-e4/e8 on `From `-quoting cases, against the vectors in
// sigs/testdata/razor_from_quoting.json (signed by the real razor-agents 2.85 with
// tests/legacy/gen/gen_razor_from_quoting.py).
//
// razor-check reads a file through Agent.pm parse_mbox: a first line starting with `From `
// makes it an mbox cut before every `^From ` line, otherwise every `^>*From ` line gets one
// more `>`. The cases put `From `, `>From `, `>>From `, `>>>From ` and near misses at the start
// of the body, after a blank line, mid-paragraph, in quoted blocks, at the start of a MIME
// part and on the last line, in plain, multipart and mbox files, with LF, CRLF and CR; and
// behind a quoted-printable soft line break, in a forwarded message/rfc822 part, in a digest.
// `e4`/`e8` are what razor-check -H prints; `e4_direct`/`e8_direct` what the same modules give
// when handed the text without parse_mbox, as SpamAssassin's Razor2 plugin does.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "razor_internal.hpp"
#include "sigs/compute.hpp"
#include "sigs/legacy.hpp"
#include "sigs/razor.hpp"

namespace strop::sigs::razor {
namespace {

const nlohmann::json& cases() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(STROP_SOURCE_DIR) + "/sigs/testdata/razor_from_quoting.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str());
  }();
  return j["cases"];
}

std::vector<std::string> strings(const nlohmann::json& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.get<std::string>());
  return out;
}

// The message bytes. The generator writes each byte as the code point of the same value;
// its cases are ASCII, so the JSON string is the file.
std::string bytes(const nlohmann::json& v) {
  std::string s = v.get<std::string>();
  for (char ch : s) EXPECT_LT(static_cast<unsigned char>(ch), 0x80) << "non-ASCII case";
  return s;
}

void split_engines(const std::vector<Signature>& sigs, std::vector<std::string>* e4,
                   std::vector<std::string>* e8) {
  for (const Signature& s : sigs) {
    if (s.engine == Engine::kRazorE4) e4->push_back(s.value);
    if (s.engine == Engine::kRazorE8) e8->push_back(s.value);
  }
}

TEST(RazorFromQuoting, CoversEveryQuotingDepthAndPlace) {
  ASSERT_EQ(cases().size(), 199u);
  int observed = 0, changed = 0;
  for (const auto& c : cases()) {
    const std::string name = c["name"].get<std::string>();
    // The reported message: a plain-text list post with `>>From the website:` in a quote.
    if (name.rfind("plain-long-gt2-quoted-", 0) == 0) ++observed;
    // parse_mbox's extra `>` (or mbox cut) changes the e4 razor-check sends.
    if (c["e4"] != c["e4_direct"]) ++changed;
  }
  EXPECT_EQ(observed, 2);  // LF and CRLF
  EXPECT_EQ(changed, 95);
}

// The entry point compute() and `strop sig` use, on the whole file.
TEST(RazorFromQuoting, LegacyEntryPointEqualsRazorCheck) {
  int e4 = 0;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::vector<Signature> sigs;
    add_razor_signatures(bytes(c["message"]), kDefaultEp4, true, true, &sigs);
    std::vector<std::string> got4, got8;
    split_engines(sigs, &got4, &got8);
    EXPECT_EQ(got4, strings(c["e4"]));
    EXPECT_EQ(got8, strings(c["e8"]));
    e4 += static_cast<int>(got4.size());
  }
  EXPECT_EQ(e4, 255);
}

// compute() with only the Razor engines. It refuses input without a header field on its
// first line (kNotMail), which razor-check signs anyway; every signature it does return must
// be razor-check's.
TEST(RazorFromQuoting, ComputeEqualsRazorCheckOrRefuses) {
  Options o;
  Result<EngineMask> m = EngineMask::parse("razor-e4,razor-e8");
  ASSERT_TRUE(m.ok());
  o.engines = *m;
  int refused = 0;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Result<SignatureSet> r = compute(bytes(c["message"]), o);
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kNotMail);
      EXPECT_EQ(c["name"].get<std::string>().rfind("headless-", 0), 0u);
      ++refused;
      continue;
    }
    std::vector<std::string> got4, got8;
    split_engines(r->sigs, &got4, &got8);
    EXPECT_EQ(got4, strings(c["e4"]));
    EXPECT_EQ(got8, strings(c["e8"]));
  }
  EXPECT_EQ(refused, 5);  // the headless-* files
}

// Without the intake (sign_mail on the text as given): what prepare_objects() alone computes.
TEST(RazorFromQuoting, SignMailEqualsPrepareObjectsWithoutIntake) {
  const Ep4 ep4 = *parse_ep4(kDefaultEp4);
  for (const auto& c : cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Result<SignedMail> sm = sign_mail(bytes(c["message"]), ep4);
    ASSERT_TRUE(sm.ok());
    std::vector<std::string> got4, got8;
    for (const SignedPart& p : sm->parts) {
      if (p.skipme) continue;
      got4.push_back(p.e4);
      got8.insert(got8.end(), p.e8.begin(), p.e8.end());
    }
    EXPECT_EQ(got4, strings(c["e4_direct"]));
    EXPECT_EQ(got8, strings(c["e8_direct"]));
  }
}

TEST(RazorFromQuoting, IntakeAddsOneGreaterThanToEveryFromLine) {
  Result<std::vector<std::string>> m = split_mails(
      "X: 1\r\n\r\n>>From the website:\r\n> >From no\r\n >From no\r\n>>>From yes\r\n>>From");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ(
      (*m)[0],
      "X: 1\r\n\r\n>>>From the website:\r\n> >From no\r\n >From no\r\n>>>>From yes\r\n>>From");
  // An mbox (first line `From `) is cut, never quoted.
  m = split_mails("From a\nX: 1\n\n>>From b\n\nFrom c\n");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0], "From a\nX: 1\n\n>>From b\n\n");
  EXPECT_EQ((*m)[1], "From c\n");
}

}  // namespace
}  // namespace strop::sigs::razor
