// mutate.hpp: spammer-style mutations of a raw RFC 822 message, for measuring signature quality.
//
// mutate() takes one message and returns a variant as a spammer's bulk tooling would send it:
// hash-buster text, per-recipient personalisation, changed tracking URLs, re-encoding, HTML
// obfuscation, typos, header changes, or a combination of 2-4 of these. Variants stay
// valid-looking mail (Content-Type / Content-Transfer-Encoding consistent with the body) and
// stay readable to a human: typos touch a few words, obfuscation hides in the markup.
//
// Everything is deterministic: the same input, kind and seed always give the same bytes, on any
// compiler (own PRNG, no std distributions). Pure functions, no I/O, thread-safe. Not a parser
// of untrusted input in production: it is test tooling, bounded only by the corpus it reads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strop::quality {

enum class MutationKind : int {
  kHashBuster = 0,     // random words / gibberish appended, prepended or hidden in HTML
  kPersonalise = 1,    // To: changed, "Dear <name>", recipient address and per-recipient IDs
  kTrackingUrls = 2,   // query/path tokens randomised, redirector hosts, per-recipient unsubscribe
  kReencode = 3,       // QP/base64/8bit, line re-wrapping, CRLF<->LF, latin-1<->utf-8
  kHtmlObfuscate = 4,  // text->HTML, tags/comments/entities/zero-width in words, hidden junk
  kTypos = 5,          // a few words: substitution, swap, doubling, case, look-alikes (0/o, 1/l)
  kHeaders = 6,        // Subject variations, From/Message-ID/Date/Received changed, X-headers
  kCombo = 7,          // 2-4 of the single kinds above, in a realistic order
};

inline constexpr std::array<MutationKind, 7> kSingleKinds = {
    MutationKind::kHashBuster, MutationKind::kPersonalise,   MutationKind::kTrackingUrls,
    MutationKind::kReencode,   MutationKind::kHtmlObfuscate, MutationKind::kTypos,
    MutationKind::kHeaders};

// Stable names: "hash-buster", "personalise", "tracking-urls", "reencode", "html-obfuscation",
// "typos", "headers", "combo".
std::string_view kind_name(MutationKind kind);
std::optional<MutationKind> kind_from_name(std::string_view name);

// How hard the spammer pushes. kNormal is the realistic campaign profile the match-rate targets
// (quality_test.cpp) are measured on; kStress uses the same techniques at the upper end of what
// stays readable (hash-buster paragraphs of up to 120 words, typos in 4-8% of words, obfuscation of
// up to half the words, 3-5 kinds per combination), to show the margin left.
enum class Intensity { kNormal, kStress };

struct Mutation {
  std::string raw;                   // the variant, a complete message
  std::vector<std::string> applied;  // what was done, e.g. "hash-buster:append-words"
};

// Returns a variant of `raw` of the given kind. Deterministic in (raw, kind, seed).
Mutation mutate(std::string_view raw, MutationKind kind, std::uint64_t seed,
                Intensity intensity = Intensity::kNormal);

// Simulates a mailing list manager distributing `raw`: appends `footer` (plain text) to the
// text/plain body when the message is a single text/plain entity, otherwise wraps the message
// in multipart/mixed with the footer as a trailing text/plain part (what Mailman does).
std::string add_list_footer(std::string_view raw, std::string_view footer);

// Finds a mailing-list footer in a list post: a Mailman block ("____...\nName mailing list\n...")
// with the sponsor block above it when present, or a "Yahoo! Groups Sponsor" block, up to the
// end of the text. Returns nullopt when none; `list_name` receives a name identifying the list.
std::optional<std::string> extract_list_footer(std::string_view raw, std::string* list_name);

// Decoded text (transfer encoding removed, charset kept) of every text/plain and text/html leaf,
// in order, separated by "\n--\n". For tests of the mutations themselves.
std::string decoded_text(std::string_view raw);

// Structural problems of a message, empty when it looks valid: unterminated or missing
// multipart boundaries, a body that does not match its Content-Transfer-Encoding (non-ASCII in
// 7bit, bad base64 characters, QP lines over 76 characters), 8bit lines over 998 bytes.
std::vector<std::string> check_wellformed(std::string_view raw);

// FNV-1a 64 of `s`: a stable seed derived from a name (file name, kind, index).
std::uint64_t stable_hash(std::string_view s);

}  // namespace strop::quality
