// Unit tests of the mutation generator: names, determinism, validity of every variant of every
// corpus spam, and the property each kind promises (what changes and what must not).
#include "mutate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace strop::quality {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::pair<std::string, std::string>> load_dir(const std::string& sub) {
  std::vector<std::pair<std::string, std::string>> out;
  fs::path dir = fs::path(STROP_SHARED_DIR) / "corpus" / sub;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out.emplace_back(f.filename().string(), read_file(f));
  return out;
}

const std::vector<std::pair<std::string, std::string>>& spam() {
  static const auto* corpus =
      new std::vector<std::pair<std::string, std::string>>(load_dir("spam"));
  return *corpus;
}

std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool applied_has(const Mutation& m, std::string_view what) {
  return std::any_of(m.applied.begin(), m.applied.end(),
                     [&](const std::string& a) { return a.find(what) != std::string::npos; });
}

const char kPlain[] =
    "From: Bulk <bulk@example.com>\n"
    "To: victim@example.org\n"
    "Subject: Amazing offer just for you\n"
    "Message-ID: <1@example.com>\n"
    "\n"
    "Dear friend,\n"
    "\n"
    "We are pleased to offer you an amazing opportunity to refinance your mortgage\n"
    "at the lowest rates available anywhere. Visit http://www.example.com/offer?id=12345\n"
    "today and save thousands of dollars every single year.\n"
    "\n"
    "This offer expires soon, so please act now while supplies last.\n";

TEST(Mutate, KindNamesRoundTrip) {
  for (int k = 0; k <= static_cast<int>(MutationKind::kCombo); ++k) {
    auto kind = static_cast<MutationKind>(k);
    auto back = kind_from_name(kind_name(kind));
    ASSERT_TRUE(back.has_value()) << kind_name(kind);
    EXPECT_EQ(*back, kind);
  }
  EXPECT_FALSE(kind_from_name("nonsense").has_value());
}

TEST(Mutate, DeterministicPerSeed) {
  for (int k = 0; k <= static_cast<int>(MutationKind::kCombo); ++k) {
    auto kind = static_cast<MutationKind>(k);
    auto a = mutate(kPlain, kind, 7);
    auto b = mutate(kPlain, kind, 7);
    EXPECT_EQ(a.raw, b.raw) << kind_name(kind);
    EXPECT_EQ(a.applied, b.applied) << kind_name(kind);
    std::set<std::string> distinct;
    for (std::uint64_t s = 1; s <= 8; ++s) distinct.insert(mutate(kPlain, kind, s).raw);
    EXPECT_GE(distinct.size(), 6u) << kind_name(kind);
  }
}

TEST(Mutate, EveryKindChangesTheMessage) {
  for (int k = 0; k <= static_cast<int>(MutationKind::kCombo); ++k) {
    auto kind = static_cast<MutationKind>(k);
    auto m = mutate(kPlain, kind, 3);
    EXPECT_NE(m.raw, kPlain) << kind_name(kind);
    EXPECT_FALSE(m.applied.empty()) << kind_name(kind);
  }
}

TEST(Mutate, HeadersKeepTheBody) {
  for (std::uint64_t s = 1; s <= 20; ++s) {
    auto m = mutate(kPlain, MutationKind::kHeaders, s);
    EXPECT_EQ(decoded_text(m.raw), decoded_text(kPlain));
  }
}

TEST(Mutate, PersonaliseChangesRecipient) {
  for (std::uint64_t s = 1; s <= 20; ++s) {
    auto m = mutate(kPlain, MutationKind::kPersonalise, s);
    EXPECT_EQ(m.raw.find("To: victim@example.org"), std::string::npos);
  }
}

TEST(Mutate, HtmlObfuscationTurnsTextIntoHtml) {
  for (std::uint64_t s = 1; s <= 20; ++s) {
    auto m = mutate(kPlain, MutationKind::kHtmlObfuscate, s);
    EXPECT_NE(m.raw.find("text/html"), std::string::npos) << m.raw;
    EXPECT_TRUE(applied_has(m, "text-to-")) << m.raw;
  }
}

TEST(Mutate, TrackingUrlsChangeTheUrl) {
  for (std::uint64_t s = 1; s <= 20; ++s) {
    auto m = mutate(kPlain, MutationKind::kTrackingUrls, s);
    std::string text = decoded_text(m.raw);
    EXPECT_EQ(text.find("Visit http://www.example.com/offer?id=12345\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("http"), std::string::npos);
  }
}

// Re-encoding without a charset change keeps the decoded text, up to line breaks.
TEST(Mutate, ReencodeKeepsTheWords) {
  int checked = 0;
  for (const auto& [name, raw] : spam()) {
    for (std::uint64_t s = 1; s <= 2; ++s) {
      auto m = mutate(raw, MutationKind::kReencode, s);
      if (applied_has(m, "charset")) continue;
      EXPECT_EQ(tokens(decoded_text(m.raw)), tokens(decoded_text(raw))) << name << " seed " << s;
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
}

// Typos touch a few words only: same number of whitespace tokens (a word stays one word),
// at most 8 changed per text part.
TEST(Mutate, TyposAreFew) {
  for (const auto& [name, raw] : spam()) {
    auto m = mutate(raw, MutationKind::kTypos, 1);
    auto a = tokens(decoded_text(raw));
    auto b = tokens(decoded_text(m.raw));
    ASSERT_EQ(a.size(), b.size()) << name;
    std::size_t changed = 0;
    for (std::size_t i = 0; i < a.size(); ++i) changed += a[i] != b[i];
    std::size_t leaves = 0;
    std::string text = decoded_text(raw);
    for (std::size_t p = 0; (p = text.find("\n--\n", p)) != std::string::npos; p += 4) ++leaves;
    EXPECT_LE(changed, 8 * (leaves + 1)) << name;
  }
}

// Every variant of every corpus spam is as well-formed as its original: no new structural
// problem (bad boundaries, encodings that do not fit the body, over-long lines).
TEST(Mutate, VariantsStayWellFormed) {
  std::map<std::string, int> new_problems;
  int variants = 0;
  for (const auto& [name, raw] : spam()) {
    auto before = check_wellformed(raw);
    for (int k = 0; k <= static_cast<int>(MutationKind::kCombo); ++k) {
      auto kind = static_cast<MutationKind>(k);
      auto m = mutate(raw, kind, stable_hash(name));
      ++variants;
      for (const auto& p : check_wellformed(m.raw)) {
        if (std::find(before.begin(), before.end(), p) == before.end()) {
          ADD_FAILURE() << name << " " << kind_name(kind) << ": " << p;
          ++new_problems[p];
        }
      }
    }
  }
  EXPECT_EQ(variants, static_cast<int>(spam().size()) * 8);
  EXPECT_TRUE(new_problems.empty());
}

TEST(Mutate, ListFooterPlainAndHtml) {
  const std::string footer =
      "_______________________________________________\n"
      "Test-list mailing list\n"
      "Test-list@lists.example.org\n"
      "https://lists.example.org/listinfo/test-list\n";
  std::string plain = add_list_footer(kPlain, footer);
  EXPECT_NE(decoded_text(plain).find("Test-list mailing list"), std::string::npos);
  EXPECT_EQ(plain.find("multipart"), std::string::npos);
  std::string list;
  auto got = extract_list_footer(plain, &list);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, footer);
  EXPECT_EQ(list, "test-list");

  auto html = mutate(kPlain, MutationKind::kHtmlObfuscate, 1);
  std::string posted = add_list_footer(html.raw, footer);
  EXPECT_NE(posted.find("multipart/mixed"), std::string::npos);
  EXPECT_NE(decoded_text(posted).find("Test-list mailing list"), std::string::npos);
  EXPECT_TRUE(check_wellformed(posted).empty());
}

TEST(Mutate, FindsRealListFooters) {
  std::map<std::string, int> lists;
  for (const auto& [name, raw] : load_dir("ham")) {
    std::string list;
    if (extract_list_footer(raw, &list)) ++lists[list];
  }
  EXPECT_GE(lists.size(), 5u);
  EXPECT_GE(lists["spamassassin-talk"], 50);
  EXPECT_GE(lists["forteana"], 50);
}

}  // namespace
}  // namespace strop::quality
