// corpus.hpp: helpers shared by the quality tests and the benchmark: loading the shared mail
// corpus into memory and describing signature comparisons.
//
// Reads files only (the corpus is never copied). Functions are thread-safe; returned values
// are owned.
#pragma once

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

}  // namespace strop::quality
