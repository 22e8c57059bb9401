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

}  // namespace strop::quality
