// signature.hpp: the signature vocabulary shared by every layer: engines, Signature,
// SignatureSet, the stable text form, and the similarity/match rules.
//
// A message yields a SignatureSet: one entry per (engine, value). Every engine is named and
// versioned ("body/1", "fuzzy/1", ...); the text form of one signature is "<engine>:<value>"
// and is what the node returns as a stored signature's id. Pure values, no I/O; all
// functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strop::sigs {

enum class Engine : std::uint8_t {
  kBody = 1,     // "body/1": exact digest of the normalised text of the whole message
  kFuzzy = 2,    // "fuzzy/1": min-hash over word shingles of the normalised text
  kUrl = 3,      // "url/1": one per canonical URL with a specific path
  kAttach = 4,   // "attach/1": one per attachment or image (content hash)
  kRazorE4 = 5,  // "razor-e4": Razor2 engine 4 (Ephemeral), bit-exact with razor-agents 2.85
  kRazorE8 = 6,  // "razor-e8": Razor2 engine 8 (Whiplash), bit-exact
  kPyzor = 7,    // "pyzor": the Pyzor 1.0 digest, bit-exact
};

inline constexpr std::array<Engine, 7> kAllEngines = {
    Engine::kBody,    Engine::kFuzzy,   Engine::kUrl,  Engine::kAttach,
    Engine::kRazorE4, Engine::kRazorE8, Engine::kPyzor};

// Returns the stable name, e.g. "fuzzy/1".
std::string_view engine_name(Engine e);
// Accepts the stable name, or the name without version ("fuzzy"). nullopt when unknown.
std::optional<Engine> engine_from_name(std::string_view name);
// The engine whose number (its wire and storage byte) is `n`; nullopt when unknown.
std::optional<Engine> engine_from_number(std::uint8_t n);

// A set of engines as a bit mask (bit = 1 << engine value).
class EngineMask {
 public:
  constexpr EngineMask() = default;
  static constexpr EngineMask native() {
    return EngineMask((1u << 1) | (1u << 2) | (1u << 3) | (1u << 4));
  }
  static constexpr EngineMask legacy() { return EngineMask((1u << 5) | (1u << 6) | (1u << 7)); }
  static constexpr EngineMask all() { return EngineMask(native().bits_ | legacy().bits_); }
  constexpr bool has(Engine e) const { return (bits_ >> static_cast<unsigned>(e)) & 1u; }
  constexpr EngineMask& add(Engine e) {
    bits_ |= 1u << static_cast<unsigned>(e);
    return *this;
  }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr std::uint32_t bits() const { return bits_; }
  // Parses "body,fuzzy/1,razor-e4" or "all" / "native" / "legacy".
  static Result<EngineMask> parse(std::string_view list);

 private:
  constexpr explicit EngineMask(std::uint32_t bits) : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

// The fuzzy signature: kFuzzyHashes independent min-hash values over the set of word
// shingles. Similarity of two signatures = fraction of positions with equal values (an
// unbiased estimate of the Jaccard similarity of the shingle sets). A node indexes each
// (position, value) pair, so finding similar stored signatures is kFuzzyHashes point lookups.
inline constexpr int kFuzzyHashes = 32;
inline constexpr int kFuzzyMatchMin =
    10;  // equal positions (of 32) needed to call two messages similar
using FuzzyHashes = std::array<std::uint32_t, kFuzzyHashes>;

struct Signature {
  Engine engine = Engine::kBody;
  std::string value;  // engine-specific text (hex, base64url, razor alphabet); never empty

  std::string text() const;  // "<engine name>:<value>"
  friend bool operator==(const Signature&, const Signature&) = default;
  friend auto operator<=>(const Signature&, const Signature&) = default;
};

// Parses "<engine>:<value>" (the text form). Validates the value's shape for the engine.
Result<Signature> parse_signature(std::string_view text);

// fuzzy/1 value <-> hashes. The value is 256 lowercase hex digits: the 32 hashes as 8 hex
// digits each, in position order (docs/signatures.md).
std::string encode_fuzzy(const FuzzyHashes& h);
std::optional<FuzzyHashes> decode_fuzzy(std::string_view value);
// Number of equal positions (0..kFuzzyHashes).
int fuzzy_equal_positions(const FuzzyHashes& a, const FuzzyHashes& b);
// The number of distinct word shingles a fuzzy/1 value was computed from, estimated from the
// value itself: each position holds the upper 32 bits of the minimum of n independent uniform
// 64-bit values, whose expectation is 2^64/(n+1), so n ~ (kFuzzyHashes - 1) / sum of the
// positions as fractions of 2^32 (relative error about 1/sqrt(31), 18 %). No format change:
// every fuzzy/1 value ever computed carries its text's size.
double fuzzy_text_size(const FuzzyHashes& h);

struct SignatureSet {
  std::vector<Signature> sigs;  // in engine order, then in order of appearance

  // Stable one-line text form: space-separated signature texts ("-" when empty).
  std::string text() const;
  std::vector<const Signature*> of(Engine e) const;
};

// True when `set` has a fuzzy/1 signature: the message has enough text of its own (>= 8
// distinct word shingles) for a comparison of its words to mean something.
bool has_fuzzy_signature(const SignatureSet& set);

// What a fuzzy/1 match is evidence of: that the two texts share a part of their word
// shingles. Between two short texts (a spam and its variant with a hash-buster paragraph, a
// changed greeting) a third of the shingles is the same message. Between two long texts it is
// a shared section: the issues of one newsletter share their template's text (navigation,
// product boxes, the legal footer), 10-16 of 32 positions, while a variant of a long spam
// keeps most of its text. So when both values come from long texts (sigs::fuzzy_text_size of
// each >= kFuzzyLongText distinct shingles), a fuzzy/1 match decides alone only at
// kFuzzyLongMatchMin equal positions; under it, only together with a url/1 match of the same
// message (docs/signatures.md "fuzzy/1 and the size of the text": the sweep behind both
// numbers).
inline constexpr double kFuzzyLongText = 150;
inline constexpr int kFuzzyLongMatchMin = 17;
bool fuzzy_match_decides_alone(int equal, const FuzzyHashes& stored, const FuzzyHashes& checked);
// A url/1 match and a fuzzy/1 agreement back each other: the two decide together from
// kFuzzyMatchMin equal positions, and from kFuzzyUrlMatchMin when either text is short (a
// short spam's variant whose hash-buster or personalisation left 7-9 of 32 positions, and
// kept its payload link). A node therefore looks fuzzy/1 candidates up from
// kFuzzyUrlMatchMin positions; under kFuzzyMatchMin they are returned as matches that never
// decide alone.
inline constexpr int kFuzzyUrlMatchMin = 7;
bool fuzzy_backs_url(int equal, const FuzzyHashes& stored, const FuzzyHashes& checked);

// What a url/1 match is evidence of (docs/reputation.md "URL evidence"): that two messages
// link to the same page, which a campaign's mail does but so do unrelated posts to one web
// platform (its group, settings and notification links) and the issues of one newsletter. A
// url/1 match with no match of another deciding engine decides the verdict on the checked
// message only
//  - when the checked message has no fuzzy/1 signature (a redirect, an image, "click here":
//    too little text for a text engine to match, its links are what it says), or
//  - when the stored URL is strongly attested: reported by at least kUrlAttestedReporters
//    distinct reporters.
// Otherwise the two texts differ (no body/1, fuzzy/1 or attach/1 match) and the shared link
// alone is weak evidence.
inline constexpr std::uint32_t kUrlAttestedReporters = 3;
bool url_match_decides_alone(const SignatureSet& checked, std::uint32_t reporters);

// Per-engine comparison of two messages' signature sets (`strop sig --compare`).
struct EngineComparison {
  Engine engine;
  bool present = false;   // both messages have signatures of this engine
  double similarity = 0;  // 0..1
  bool match = false;     // this engine alone says "same message/campaign"
};
struct Comparison {
  std::vector<EngineComparison> engines;
  // The verdict on `b` after `a` was reported once: a body/1 or attach/1 match, a fuzzy/1
  // match that decides alone (fuzzy_match_decides_alone), a url/1 match with a fuzzy/1
  // agreement that backs it (fuzzy_backs_url), or a url/1 match that may decide alone
  // (url_match_decides_alone(b, 1)).
  bool match = false;
};
// `a` is the stored (reported) message, `b` the checked one; only the url/1 rule is not
// symmetric.
Comparison compare(const SignatureSet& a, const SignatureSet& b);

}  // namespace strop::sigs
