// test_util.hpp: helpers shared by the storage unit tests (test code only).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "sigs/signature.hpp"

namespace strop::storage::testing {

// Runs f in a forked child (a separate process, as the admin commands are; LMDB forbids
// opening one environment twice in one process) and returns its exit code, 100 when it did
// not exit normally.
inline int in_child(const std::function<int()>& f) {
  pid_t pid = fork();
  if (pid == 0) _exit(f());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "strop-storage-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string hex(std::uint64_t a, std::uint64_t b) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

// A body/1 signature derived from n (distinct n -> distinct values).
inline sigs::Signature body(std::uint64_t n) {
  return {sigs::Engine::kBody, hex(n * 0x9e3779b97f4a7c15ULL, n)};
}

inline sigs::FuzzyHashes random_fuzzy(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  sigs::FuzzyHashes h{};
  for (auto& x : h) x = static_cast<std::uint32_t>(rng());
  return h;
}

inline sigs::Signature fuzzy(const sigs::FuzzyHashes& h) {
  return {sigs::Engine::kFuzzy, sigs::encode_fuzzy(h)};
}

// h with the first `keep` positions kept and the others changed.
inline sigs::FuzzyHashes mutate(sigs::FuzzyHashes h, int keep) {
  for (int i = keep; i < sigs::kFuzzyHashes; ++i) h[static_cast<std::size_t>(i)] ^= 0x5a5a5a5au;
  return h;
}

}  // namespace strop::storage::testing
