// compute(): one parse, one normalisation, every selected engine. See docs/signatures.md.
#include "sigs/compute.hpp"

#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <set>

#include "base/digest.hpp"
#include "base/hex.hpp"
#include "sigs/legacy.hpp"
#include "sigs/normalize.hpp"

namespace strop::sigs {
namespace {

constexpr std::size_t kMinBodyTokens = 5;     // fewer words: no body/1 (too generic)
constexpr std::size_t kMinFuzzyShingles = 8;  // fewer distinct shingles: no fuzzy/1
constexpr std::size_t kShingleWidth = 3;      // words per shingle
constexpr std::size_t kMinAttachBytes = 128;  // smaller attachments are not signed
constexpr std::size_t kMaxUrlSigs = 32;       // url/1 signatures per message
constexpr std::size_t kMaxAttachSigs = 16;    // attach/1 signatures per message

// First 128 bits of SHA-256(domain || data), hex.
std::string digest128(std::string_view domain, std::string_view data) {
  Digest sha256(DigestAlgorithm::kSha256);
  sha256.update(domain);
  sha256.update(data);
  return hex_encode(sha256.finish().substr(0, 16));
}

// Per-position seeds of the min-hash family (fixed forever: changing them is a new engine
// version).
struct Seeds {
  std::array<std::uint64_t, kFuzzyHashes> v;
  Seeds() {
    std::uint64_t x = 0x5374726f70467a31ULL;  // "StropFz1"
    for (auto& s : v) {
      // splitmix64
      x += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      s = z ^ (z >> 31);
    }
  }
};
const Seeds kSeeds;

// The hash of the typo-tolerant form of a word for shingling: its distinct letters in sorted
// order, so swapped, doubled and re-cased letters do not change it ("recieve" == "receive",
// "mooney" == "money"). Non-ASCII words are hashed as they are.
std::uint64_t word_hash(std::string_view w) {
  std::uint32_t letters = 0;
  for (char c : w) {
    if (c < 'a' || c > 'z') return XXH3_64bits(w.data(), w.size());
    letters |= 1u << (c - 'a');
  }
  char key[26];
  std::size_t n = 0;
  for (; letters != 0; letters &= letters - 1)
    key[n++] = static_cast<char>('a' + __builtin_ctz(letters));
  return XXH3_64bits(key, n);
}

// best[i] = min over the shingles s of (s ^ seed_i) * K. s is already a well-mixed 64-bit
// hash: one xor and one odd multiply give each position its own permutation; the high bits of
// the product order the shingles. This loop is most of the fuzzy engine's cost, so it is
// compiled twice: for CPUs with AVX-512 (8 positions per multiply) and for any x86-64; the
// loader picks one (same results: plain integer arithmetic).
// Not under ThreadSanitizer: the ifunc resolver would run, instrumented, before TSan's
// runtime starts (clang 14 crashes at load).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STROP_NO_TARGET_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__) && !defined(STROP_NO_TARGET_CLONES)
__attribute__((target_clones("arch=x86-64-v4", "default")))
#endif
void min_per_position(const std::uint64_t* shingles, std::size_t n,
                      std::array<std::uint64_t, kFuzzyHashes>* out) {
  std::uint64_t best[kFuzzyHashes];
  std::uint64_t seeds[kFuzzyHashes];
  for (int i = 0; i < kFuzzyHashes; ++i) {
    best[i] = std::numeric_limits<std::uint64_t>::max();
    seeds[i] = kSeeds.v[static_cast<std::size_t>(i)];
  }
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t s = shingles[k];
    for (int i = 0; i < kFuzzyHashes; ++i) {
      const std::uint64_t v = (s ^ seeds[i]) * 0xD6E8FEB86659FD93ULL;
      best[i] = v < best[i] ? v : best[i];
    }
  }
  for (int i = 0; i < kFuzzyHashes; ++i) (*out)[static_cast<std::size_t>(i)] = best[i];
}

// True when `v` holds at least `n` distinct values; stops as soon as it has seen them, which
// is within the first few elements of any real text.
bool has_distinct(const std::vector<std::uint64_t>& v, std::size_t n) {
  std::array<std::uint64_t, kMinFuzzyShingles> seen{};
  std::size_t k = 0;
  for (std::uint64_t x : v) {
    if (std::find(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(k), x) !=
        seen.begin() + static_cast<std::ptrdiff_t>(k))
      continue;
    seen[k++] = x;
    if (k >= n) return true;
  }
  return false;
}

std::optional<FuzzyHashes> minhash(const std::vector<std::uint64_t>& words) {
  if (words.size() < kShingleWidth) return std::nullopt;
  std::vector<std::uint64_t> shingles;
  shingles.reserve(words.size());
  for (std::size_t i = 0; i + kShingleWidth <= words.size(); ++i) {
    std::uint64_t h = 0x243F6A8885A308D3ULL;
    for (std::size_t k = 0; k < kShingleWidth; ++k) {
      h = (h ^ words[i + k]) * 0x9E3779B97F4A7C15ULL;
      h ^= h >> 29;
    }
    shingles.push_back(h);
  }
  // The minimum over a multiset equals the minimum over its set: repeated shingles need no
  // removal, only the distinct count decides whether there is enough text.
  if (!has_distinct(shingles, kMinFuzzyShingles)) return std::nullopt;
  std::array<std::uint64_t, kFuzzyHashes> best;
  min_per_position(shingles.data(), shingles.size(), &best);
  FuzzyHashes out;
  for (std::size_t i = 0; i < static_cast<std::size_t>(kFuzzyHashes); ++i)
    out[i] = static_cast<std::uint32_t>(best[i] >> 32);
  return out;
}

// The text parts a reader sees: of each multipart/alternative group, the HTML rendering
// when it has text, else the plain one.
std::vector<const Part*> visible_parts(const Message& msg) {
  std::vector<const Part*> out;
  std::set<int> groups_with_html;
  for (const auto& p : msg.parts) {
    if (p.kind == PartKind::kHtml && p.alternative_group >= 0 &&
        p.text.find_first_not_of(" \n\t\r") != std::string::npos)
      groups_with_html.insert(p.alternative_group);
  }
  for (const auto& p : msg.parts) {
    if (p.kind == PartKind::kAttachment) continue;
    if (p.kind == PartKind::kText && p.alternative_group >= 0 &&
        groups_with_html.count(p.alternative_group))
      continue;
    out.push_back(&p);
  }
  return out;
}

}  // namespace

SignatureSet compute_native(const Message& msg, const Options& options) {
  SignatureSet set;
  const EngineMask m = options.engines;
  std::vector<const Part*> parts = visible_parts(msg);
  std::vector<std::string> bodies;  // each visible part without quotes and footers
  bodies.reserve(parts.size());
  for (const Part* p : parts) bodies.push_back(strip_quotes_and_footers(p->text));

  if (m.has(Engine::kBody) || m.has(Engine::kFuzzy)) {
    // One pass over the words: the body digest's input and the shingles' word hashes.
    std::string joined;
    std::vector<std::uint64_t> words;
    std::size_t n = 0;
    for (const auto& b : bodies) {
      joined.reserve(joined.size() + b.size());
      n += for_each_word(b, TokenLimits{}, [&](std::string_view w) {
        joined += w;
        joined += ' ';
        words.push_back(word_hash(w));
      });
    }
    if (m.has(Engine::kBody) && n >= kMinBodyTokens) {
      set.sigs.push_back({Engine::kBody, digest128("body/1\n", joined)});
    }
    if (m.has(Engine::kFuzzy)) {
      if (auto h = minhash(words)) set.sigs.push_back({Engine::kFuzzy, encode_fuzzy(*h)});
    }
  }

  if (m.has(Engine::kUrl)) {
    std::vector<std::string> seen;
    auto add = [&](std::string_view raw) {
      auto cu = canonical_url(raw);
      if (!cu || !cu->specific) return;
      std::string v = digest128("url/1\n", cu->registered_domain + cu->path);
      if (std::find(seen.begin(), seen.end(), v) != seen.end()) return;
      if (seen.size() >= kMaxUrlSigs) return;
      seen.push_back(v);
    };
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const Part* p = parts[k];
      // URLs in the footer are list machinery, not the message's own links.
      for (const auto& u : p->urls) {
        if (p->kind == PartKind::kText && bodies[k].find(u) == std::string::npos) continue;
        add(u);
        for (const auto& inner : embedded_urls(u)) add(inner);
      }
    }
    // A message without text (image-only or frame-only spam) is signed by what it shows.
    if (set.sigs.empty()) {
      for (const Part* p : parts) {
        for (const auto& u : p->media_urls) add(u);
      }
    }
    for (auto& v : seen) set.sigs.push_back({Engine::kUrl, std::move(v)});
  }

  if (m.has(Engine::kAttach)) {
    std::vector<std::string> seen;
    for (const auto& p : msg.parts) {
      if (p.kind != PartKind::kAttachment || p.data.size() < kMinAttachBytes) continue;
      std::string v = digest128("attach/1\n", p.data);
      if (std::find(seen.begin(), seen.end(), v) != seen.end()) continue;
      if (seen.size() >= kMaxAttachSigs) break;
      seen.push_back(std::move(v));
    }
    for (auto& v : seen) set.sigs.push_back({Engine::kAttach, std::move(v)});
  }
  return set;
}

Result<SignatureSet> compute(std::string_view raw, const Options& options) {
  auto msg = parse_message(raw, options.limits);
  if (!msg) return msg.error();
  SignatureSet set = compute_native(*msg, options);
  const EngineMask m = options.engines;
  if (m.has(Engine::kRazorE4) || m.has(Engine::kRazorE8)) {
    add_razor_signatures(raw, options.razor_ep4, m.has(Engine::kRazorE4), m.has(Engine::kRazorE8),
                         &set.sigs);
  }
  if (m.has(Engine::kPyzor)) {
    if (auto d = pyzor_digest(raw)) set.sigs.push_back({Engine::kPyzor, std::move(*d)});
  }
  return set;
}

}  // namespace strop::sigs
