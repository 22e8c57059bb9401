// corpus.hpp: helpers shared by the quality tests and the benchmark: loading the shared mail
// corpus into memory and describing signature comparisons.
//
// Reads files only (the corpus is never copied). Functions are thread-safe; returned values
// are owned.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sigs/signature.hpp"

namespace strop::quality {

struct CorpusFile {
  std::string name;  // file name, e.g. "00001.7848dde101aa985090474a91ec93fcf0.eml"
  std::string raw;
};

// Every regular file of `dir`, sorted by name. Empty when the directory is missing.
std::vector<CorpusFile> load_dir(const std::string& dir);

// The corpus root: $STROP_CORPUS when set, else `compiled_default` + "/corpus".
std::string corpus_root(const char* compiled_default);

// True when `set` has a content signature (body/1 or fuzzy/1).
bool has_content(const sigs::SignatureSet& set);

// "fuzzy/1=0.53 url/1=0.50" for the engines present in both; matching engines get a '*'.
std::string describe(const sigs::Comparison& c);

// Similarity of one engine in `c` (0 when absent).
double similarity(const sigs::Comparison& c, sigs::Engine e);

// What a match of a checked message against one stored (reported) message rests on, engine by
// engine; the threshold sweeps of the quality report re-decide it under other policies.
struct Evidence {
  double stored_size = -1;   // sigs::fuzzy_text_size of the stored fuzzy/1 (-1: none)
  double checked_size = -1;  // the same for the checked fuzzy/1
  bool body = false;
  bool attach = false;
  bool url = false;                // a url/1 value shared
  int fuzzy_equal = 0;             // equal fuzzy/1 positions (0 when either has none)
  bool checked_has_text = false;   // the checked message has body/1 or fuzzy/1
  bool checked_has_fuzzy = false;  // the checked message has fuzzy/1 (>= 8 distinct shingles)
};
Evidence evidence(const sigs::SignatureSet& stored, const sigs::SignatureSet& checked);

// How a url/1 match with no other engine decides.
enum class UrlRule : std::uint8_t {
  kAlone,    // always (before issue 13)
  kNoText,   // only when the checked message has neither body/1 nor fuzzy/1
  kNoFuzzy,  // only when the checked message has no fuzzy/1 (sigs::url_match_decides_alone)
  kNever,    // never
};
// A verdict policy: fuzzy/1 matches at >= fuzzy_min equal positions, url/1 as url_rule says
// (one reporter).
struct Policy {
  const char* name = "";
  int fuzzy_min = sigs::kFuzzyMatchMin;
  UrlRule url_rule = UrlRule::kNoFuzzy;
  // A url/1 match together with at least this many equal fuzzy/1 positions decides (0: off).
  int url_fuzzy_min = 0;
  // fuzzy/1 alone decides at >= this; from fuzzy_min up to it only with a url/1 match too
  // (0: fuzzy_min alone decides).
  int fuzzy_alone_min = 0;
  // When both fuzzy/1 values come from texts of at least long_size distinct shingles
  // (sigs::fuzzy_text_size; 0: off), fuzzy/1 alone decides only at >= long_fuzzy_min.
  double long_size = 0;
  int long_fuzzy_min = 0;
};
bool decides(const Evidence& e, const Policy& p);
// The policies every sweep prints: the one before issue 13 (10/32, URL alone decides), the
// current one (sigs::compare), and the neighbouring fuzzy thresholds.
std::vector<Policy> sweep_policies();

}  // namespace strop::quality
