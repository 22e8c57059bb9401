// razor.hpp: a bit-exact model of the Vipul's Razor v2 client signatures (razor-agents
// 2.85, Debian `razor` 1:2.85-9, which calls itself 2.84): mail intake, MIME splitting,
// the preprocessors, engine 4 ("Ephemeral", e4) and engine 8 ("Whiplash", e8).
//
// Every function reproduces what the Perl modules in /usr/share/perl5/Razor2 compute,
// quirks included (see docs/legacy-engines.md and ../shared/specs/razor2.md §2-§6): the
// texts exposed here are byte-identical to the Perl intermediates, so each stage can be
// tested on its own. Texts are byte strings (Perl strings without the UTF-8 flag).
// `std::nullopt` stands for Perl's undef where the Perl code can produce one.
//
// Used by legacy.cpp (strop sig / compute()) and by the Razor2 listener, which re-derives
// e4/e8 from uploaded parts with sign_part().
//
// Pure, no I/O; every function is thread-safe. Returned strings own their bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strop::sigs::razor {

// The agent string every part header starts with ("X-Razor2-Agent: <it>").
inline constexpr std::string_view kAgentVersion = "Razor-Agents v2.84";
// The ep4 every public Razor server has announced.
inline constexpr std::string_view kDefaultEp4 = "7542-10";

// Fixed caps of the Perl client; part of the algorithm, not tunable.
inline constexpr std::size_t kMaxPartHeader = 4 * 1024;     // prep_part header cap
inline constexpr std::size_t kMaxPartBody = 60 * 1024;      // prep_part body cap
inline constexpr std::size_t kMaxOrigHeaders = 15 * 1024;   // prep_mail header cap

// Safety limits on untrusted input. The Perl client has none; within these limits the
// results are exact, beyond them the call fails with Errc::kLimitExceeded.
struct Limits {
  std::size_t max_input_bytes = 64u << 20;  // Default: 64 MiB per file or mail
  std::size_t max_mails = 10000;            // Default: 10000 mails per mbox file
  int max_mime_depth = 64;                  // Default: 64 nested multiparts
  std::size_t max_parts = 4096;             // Default: 4096 leaf parts per mail
};

// ---- Intake (razor-check's parse_mbox) --------------------------------------------------

// Splits a file as razor-check reads it. If the first line starts with "From " the file is
// an mbox, cut before every line starting with "From "; otherwise it is one mail in which
// every line matching ^>*From gets one more '>' in front. An empty file, or one whose first
// line is "0" without a newline, yields no mail.
Result<std::vector<std::string>> split_mails(std::string_view raw, const Limits& limits = {});

// ---- MIME splitting (Razor2::String) ----------------------------------------------------

struct PreparedMail {
  std::string headers;             // original headers as uploaded by razor-report (LF ends)
  std::vector<std::string> parts;  // signed parts, each "headers\n\nbody"
};

// prep_mail(): headers (report_headers=1) and the prepared leaf parts, in document order.
// Parts whose body is empty or "0" are dropped.
Result<PreparedMail> prep_mail(std::string_view mail, const Limits& limits = {});

// split_mime(text, ver, 0): the raw leaf parts ("X-Razor2-Agent: ...\n<Content-* headers>
// \n<body>"), before prep_part().
Result<std::vector<std::string>> split_mime(std::string_view mail, const Limits& limits = {});

// prep_part(): CR+LF -> LF, the 60 KiB body and 4 KiB header caps. nullopt when the part's
// body is empty or "0" (the part is dropped).
std::optional<std::string> prep_part(std::string_view part);

// ---- Preprocessors (Razor2::Preproc::*) --------------------------------------------------
// Each applies to the whole "headers\n\nbody" text, in place, only when its isit() holds,
// and returns whether it ran.

bool de_base64(std::string& text);  // Content-Transfer-Encoding: base64 anywhere at a line start
bool de_qp(std::string& text);      // ... quoted-printable in the header block
bool de_html(std::string& text);    // the XS HTML stripper, on the whole text
void de_newline(std::string& text); // drops the body's trailing newlines

// The whole VR4 pipeline (deBase64, deQP, deHTMLxs, deNewline, then the body): the text
// engine 4 signs. nullopt = undef (no blank line left in the text).
std::optional<std::string> clean_vr4(std::string_view part);
// The VR8 pipeline: the same without deHTMLxs. Engine 8 and the part skipping use it.
std::optional<std::string> clean_vr8(std::string_view part);

// True when razor-check would not sign the part (empty, only Content-* lines, or only
// whitespace after cleaning).
bool skip_part(const std::optional<std::string>& cleaned_vr8);

// ---- Signature text encoding --------------------------------------------------------------

// Razor2::String::hextobase64: 3 hex digits -> 2 chars, nibbles bit-reversed, alphabet
// A-Z a-z 0-9 - _. 40 hex digits give 28 chars, 16 give 12.
std::string hextobase64(std::string_view hex);

// ---- Engine 4 (Ephemeral) ---------------------------------------------------------------

// Perl's drand48 (used by srand/rand since 5.20, on every platform).
class Drand48 {
 public:
  explicit Drand48(std::uint32_t seed) : x_((std::uint64_t{seed} << 16) | 0x330E) {}
  double next() {
    x_ = (0x5DEECE66Dull * x_ + 0xB) & ((std::uint64_t{1} << 48) - 1);
    return static_cast<double>(x_) * (1.0 / 281474976710656.0);  // exact: x_ < 2^48
  }

 private:
  std::uint64_t x_;
};

// A parsed ep4 ("seed-sep[-sep...]").
struct Ep4 {
  std::uint32_t seed = 7542;   // srand() argument as Perl truncates it
  std::string separator = "\n";  // the line separator, used as a literal regex
  bool separator_matches = true;  // false when a separator char is wide (> 255): never splits
};

// Parses ep4 as Razor2::Client::Engine / Ephemeral do. Errors: kInvalidArgument for an ep4
// razor-agents rejects ("Bad ep4": seed or separator part false) or whose separator would be
// a regex metacharacter (not supported by this model).
Result<Ep4> parse_ep4(std::string_view ep4);

// The 40-hex e4 digest and the 28-char signature of a cleaned VR4 text (nullopt = undef).
std::string e4_digest_hex(const std::optional<std::string>& cleaned, const Ep4& ep4);
std::string e4_signature(const std::optional<std::string>& cleaned, const Ep4& ep4);

// ---- Engine 8 (Whiplash) ----------------------------------------------------------------

// The hosts engine 8 signs, in order (autolinks first). kMalformed when a host would hold a
// character above 255 (from &#256; .. &#999;): the Perl client dies on it.
Result<std::vector<std::string>> extract_hosts(std::string_view text);
// The registrable part of a host per the fixed 547-entry suffix list (order matters).
std::string canonify(std::string_view host);
std::size_t whiplash_domain_count();

// The 12-char e8 signatures of a cleaned VR8 text (none when it is undef, "" or "0").
Result<std::vector<std::string>> e8_signatures(const std::optional<std::string>& cleaned_vr8);

// ---- Whole parts and mails ------------------------------------------------------------------

struct SignedPart {
  std::string body;                         // the signed (and uploaded) part text
  std::optional<std::string> cleaned;       // VR4 input
  std::optional<std::string> cleaned_vr8;   // VR8 input
  bool skipme = false;                      // true: not signed, e4/e8 empty
  std::string e4;                           // 28 chars
  std::vector<std::string> e8;              // 12 chars each, may be empty
};

// Signs one already split part (a prep_mail() part, or a part uploaded by razor-report).
Result<SignedPart> sign_part(std::string body, const Ep4& ep4);

struct SignedMail {
  std::string headers;
  std::vector<SignedPart> parts;  // every prepared part, skipped ones included
};

Result<SignedMail> sign_mail(std::string_view mail, const Ep4& ep4, const Limits& limits = {});

// Everything razor-check -H prints for a file: one SignedMail per mail.
Result<std::vector<SignedMail>> sign_file(std::string_view raw, const Ep4& ep4,
                                          const Limits& limits = {});

}  // namespace strop::sigs::razor
