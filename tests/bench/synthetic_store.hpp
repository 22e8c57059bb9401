// synthetic_store.hpp: what the storage benchmarks (store_bench, store_growth_bench) share:
// the synthetic message mix whose signatures they store, and their clocks. Benchmark code
// only. Thread-safety: pure functions (message() builds its own generator per call).
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sigs/signature.hpp"

namespace strop::bench {

inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline std::string hex_of(std::mt19937_64& rng, int chars) {
  static const char* kHex = "0123456789abcdef";
  std::string s(static_cast<std::size_t>(chars), '0');
  for (auto& c : s) c = kHex[rng() & 15];
  return s;
}

inline std::string razor_of(std::mt19937_64& rng, int chars) {
  static const char* kAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string s(static_cast<std::size_t>(chars), 'A');
  for (auto& c : s) c = kAlpha[rng() & 63];
  return s;
}

// Signatures per synthetic message.
inline constexpr std::uint64_t kSigsPerMessage = 8;

// The kSigsPerMessage signatures of synthetic message number `m` (deterministic): body/1,
// fuzzy/1, three url/1, razor-e4 and two razor-e8.
inline std::vector<sigs::Signature> message(std::uint64_t m) {
  std::mt19937_64 rng(m * 0x9e3779b97f4a7c15ULL + 12345);
  std::vector<sigs::Signature> out;
  out.push_back({sigs::Engine::kBody, hex_of(rng, 32)});
  sigs::FuzzyHashes h{};
  for (auto& x : h) x = static_cast<std::uint32_t>(rng());
  out.push_back({sigs::Engine::kFuzzy, sigs::encode_fuzzy(h)});
  for (int i = 0; i < 3; ++i) out.push_back({sigs::Engine::kUrl, hex_of(rng, 32)});
  out.push_back({sigs::Engine::kRazorE4, razor_of(rng, 28)});
  for (int i = 0; i < 2; ++i) out.push_back({sigs::Engine::kRazorE8, razor_of(rng, 12)});
  return out;
}

}  // namespace strop::bench
