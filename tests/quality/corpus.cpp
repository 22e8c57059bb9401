// corpus.cpp: see corpus.hpp.
#include "corpus.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace strop::quality {

std::vector<CorpusFile> load_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<CorpusFile> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    out.push_back({e.path().filename().string(), ss.str()});
  }
  std::sort(out.begin(), out.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.name < b.name; });
  return out;
}

std::string corpus_root(const char* compiled_default) {
  if (const char* env = std::getenv("STROP_CORPUS"); env && *env) return env;
  return std::string(compiled_default) + "/corpus";
}

bool has_content(const sigs::SignatureSet& set) {
  return !set.of(sigs::Engine::kBody).empty() || !set.of(sigs::Engine::kFuzzy).empty();
}

std::string describe(const sigs::Comparison& c) {
  std::string out;
  for (const auto& e : c.engines) {
    if (!e.present) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s=%.2f%s", std::string(sigs::engine_name(e.engine)).c_str(),
                  e.similarity, e.match ? "*" : "");
    if (!out.empty()) out += ' ';
    out += buf;
  }
  return out.empty() ? "-" : out;
}

double similarity(const sigs::Comparison& c, sigs::Engine e) {
  for (const auto& ec : c.engines)
    if (ec.engine == e && ec.present) return ec.similarity;
  return 0;
}

Evidence evidence(const sigs::SignatureSet& stored, const sigs::SignatureSet& checked) {
  Evidence e;
  auto shared = [&](sigs::Engine engine) {
    for (const auto* a : stored.of(engine)) {
      for (const auto* b : checked.of(engine)) {
        if (a->value == b->value) return true;
      }
    }
    return false;
  };
  e.body = shared(sigs::Engine::kBody);
  e.attach = shared(sigs::Engine::kAttach);
  e.url = shared(sigs::Engine::kUrl);
  auto fa = stored.of(sigs::Engine::kFuzzy);
  auto fb = checked.of(sigs::Engine::kFuzzy);
  if (!fa.empty() && !fb.empty()) {
    auto ha = sigs::decode_fuzzy(fa.front()->value);
    auto hb = sigs::decode_fuzzy(fb.front()->value);
    if (ha && hb) {
      e.fuzzy_equal = sigs::fuzzy_equal_positions(*ha, *hb);
      e.stored_size = sigs::fuzzy_text_size(*ha);
      e.checked_size = sigs::fuzzy_text_size(*hb);
    }
  }
  e.checked_has_text = !checked.of(sigs::Engine::kBody).empty() || !fb.empty();
  e.checked_has_fuzzy = !fb.empty();
  return e;
}

bool decides(const Evidence& e, const Policy& p) {
  if (e.body || e.attach) return true;
  int alone_min = std::max(p.fuzzy_min, p.fuzzy_alone_min);
  const bool both_long =
      p.long_size > 0 && e.stored_size >= p.long_size && e.checked_size >= p.long_size;
  if (both_long) alone_min = std::max(alone_min, p.long_fuzzy_min);
  if (e.fuzzy_equal >= alone_min) return true;
  if (!e.url) return false;
  if (e.fuzzy_equal >= p.fuzzy_min) return true;
  if (p.url_fuzzy_min > 0 && !both_long && e.fuzzy_equal >= p.url_fuzzy_min) return true;
  switch (p.url_rule) {
    case UrlRule::kAlone: return true;
    case UrlRule::kNoText: return !e.checked_has_text;
    case UrlRule::kNoFuzzy: return !e.checked_has_fuzzy;
    case UrlRule::kNever: return false;
  }
  return false;
}

std::vector<Policy> sweep_policies() {
  return {{"before: fuzzy>=10, url alone", 10, UrlRule::kAlone},
          {"fuzzy>=10, url never alone", 10, UrlRule::kNever},
          {"fuzzy>=10, url if no text", 10, UrlRule::kNoText},
          {"fuzzy>=10, url if no fuzzy", 10, UrlRule::kNoFuzzy},
          {"fuzzy>=12, url if no fuzzy", 12, UrlRule::kNoFuzzy},
          {"fuzzy>=13, url if no fuzzy", 13, UrlRule::kNoFuzzy},
          {"fuzzy>=14, url if no fuzzy", 14, UrlRule::kNoFuzzy},
          {"fuzzy>=16, url if no fuzzy", 16, UrlRule::kNoFuzzy},
          {"url+fuzzy>=4", 10, UrlRule::kNoFuzzy, 4},
          {"url+fuzzy>=5", 10, UrlRule::kNoFuzzy, 5},
          {"url+fuzzy>=6", 10, UrlRule::kNoFuzzy, 6},
          {"url+fuzzy>=7", 10, UrlRule::kNoFuzzy, 7},
          {"url+fuzzy>=5, fuzzy alone>=17", 10, UrlRule::kNoFuzzy, 5, 17},
          {"url+fuzzy>=5, fuzzy alone>=14", 10, UrlRule::kNoFuzzy, 5, 14},
          {"long>=150: fuzzy alone>=17", 10, UrlRule::kNoFuzzy, 0, 0, 150, 17},
          {"long>=100: fuzzy alone>=17", 10, UrlRule::kNoFuzzy, 0, 0, 100, 17},
          {"long>=300: fuzzy alone>=17", 10, UrlRule::kNoFuzzy, 0, 0, 300, 17},
          {"long>=150: alone>=14", 10, UrlRule::kNoFuzzy, 0, 0, 150, 14},
          {"long>=150: >=17, short >=9", 9, UrlRule::kNoFuzzy, 0, 0, 150, 17},
          {"long>=150: >=17, short >=8", 8, UrlRule::kNoFuzzy, 0, 0, 150, 17},
          {"long>=150, short url+fuzzy>=7", 10, UrlRule::kNoFuzzy, 7, 0, 150, 17},
          {"long>=150, short url+fuzzy>=5", 10, UrlRule::kNoFuzzy, 5, 0, 150, 17},
          {"current (sigs::compare)", sigs::kFuzzyMatchMin, UrlRule::kNoFuzzy,
           sigs::kFuzzyUrlMatchMin, 0, sigs::kFuzzyLongText, sigs::kFuzzyLongMatchMin}};
}

}  // namespace strop::quality
