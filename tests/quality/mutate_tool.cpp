// strop-mutate: writes spammer-style variants of one message to a directory.
//
//   strop-mutate [--kind KIND|single|all] [--seed N] [--count N] IN.eml OUTDIR
//
// KIND is a mutation kind name (hash-buster, personalise, tracking-urls, reencode,
// html-obfuscation, typos, headers, combo); "single" means every single kind, "all" every kind
// including combo. Default: --kind combo --seed 1 --count 1. Each variant goes to
// OUTDIR/<stem>.<kind>.<seed>.eml (seed incremented per --count); the written paths and what
// was applied are printed, one line per variant. Deterministic. Exit codes: 0 ok, 64 usage,
// 66 input unreadable, 73 output not writable (sysexits).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "mutate.hpp"

namespace {

constexpr int kExUsage = 64;
constexpr int kExNoInput = 66;
constexpr int kExCantCreate = 73;

int usage(const char* msg) {
  if (msg) std::cerr << "strop-mutate: " << msg << "\n";
  std::cerr << "usage: strop-mutate [--kind KIND|single|all] [--seed N] [--count N] IN.eml OUTDIR\n"
               "kinds: hash-buster personalise tracking-urls reencode html-obfuscation typos "
               "headers combo\n";
  return kExUsage;
}

bool parse_u64(const std::string& s, std::uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using strop::quality::MutationKind;
  std::string kind_arg = "combo";
  std::uint64_t seed = 1, count = 1;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      usage(nullptr);
      return 0;
    } else if (a == "--kind") {
      if (!value(&kind_arg)) return usage("--kind needs a value");
    } else if (a == "--seed") {
      if (!value(&v) || !parse_u64(v, &seed)) return usage("--seed needs a number");
    } else if (a == "--count") {
      if (!value(&v) || !parse_u64(v, &count) || count == 0 || count > 10000)
        return usage("--count needs a number in 1..10000");
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      return usage(("unknown option " + a).c_str());
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 2) return usage("need IN.eml and OUTDIR");

  std::vector<MutationKind> kinds;
  if (kind_arg == "single" || kind_arg == "all") {
    kinds.assign(strop::quality::kSingleKinds.begin(), strop::quality::kSingleKinds.end());
    if (kind_arg == "all") kinds.push_back(MutationKind::kCombo);
  } else if (auto k = strop::quality::kind_from_name(kind_arg)) {
    kinds.push_back(*k);
  } else {
    return usage(("unknown kind " + kind_arg).c_str());
  }

  std::string raw;
  if (pos[0] == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    raw = ss.str();
  } else {
    std::ifstream in(pos[0], std::ios::binary);
    if (!in) {
      std::cerr << "strop-mutate: cannot read " << pos[0] << "\n";
      return kExNoInput;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    raw = ss.str();
  }
  std::filesystem::path outdir(pos[1]);
  std::error_code ec;
  std::filesystem::create_directories(outdir, ec);
  if (ec) {
    std::cerr << "strop-mutate: cannot create " << outdir << ": " << ec.message() << "\n";
    return kExCantCreate;
  }
  std::string stem = pos[0] == "-" ? "stdin" : std::filesystem::path(pos[0]).stem().string();
  for (MutationKind k : kinds) {
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t s = seed + i;
      auto m = strop::quality::mutate(raw, k, s);
      std::filesystem::path out = outdir / (stem + "." + std::string(strop::quality::kind_name(k)) +
                                            "." + std::to_string(s) + ".eml");
      std::ofstream f(out, std::ios::binary);
      f.write(m.raw.data(), static_cast<std::streamsize>(m.raw.size()));
      f.close();
      if (!f) {
        std::cerr << "strop-mutate: cannot write " << out << "\n";
        return kExCantCreate;
      }
      std::cout << out.string();
      for (const auto& a : m.applied) std::cout << ' ' << a;
      std::cout << '\n';
    }
  }
  return 0;
}
