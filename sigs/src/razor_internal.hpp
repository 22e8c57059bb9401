// razor_internal.hpp: the stages of the razor-agents model (sigs/razor.hpp), private to
// sigs/src and its tests: mbox intake, MIME splitting, the preprocessors, Perl's drand48 and
// engines 4 and 8. Each stage's output is byte-identical to the Perl intermediate of the same
// name, so razor_test.cpp checks them one by one against razor-agents.
//
// Pure, no I/O; every function is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sigs/razor.hpp"

namespace strop::sigs::razor {

// ---- Intake (razor-check's parse_mbox) --------------------------------------------------

// Splits a file as razor-check reads it. If the first line starts with "From " the file is
// an mbox, cut before every line starting with "From "; otherwise it is one mail in which
// every line matching ^>*From gets one more '>' in front. An empty file, or one whose first
// line is "0" without a newline, yields no mail.
Result<std::vector<std::string>> split_mails(std::string_view raw, const Limits& limits = {});

// ---- MIME splitting (Razor2::String) ----------------------------------------------------

// split_mime(text, ver, 0): the raw leaf parts ("X-Razor2-Agent: ...\n<Content-* headers>
// \n<body>"), before prep_part().
Result<std::vector<std::string>> split_mime(std::string_view mail, const Limits& limits = {});

// prep_part(): CR+LF -> LF, the 60 KiB body and 4 KiB header caps. nullopt when the part's
// body is empty or "0" (the part is dropped).
std::optional<std::string> prep_part(std::string_view part);

// ---- Preprocessors (Razor2::Preproc::*) --------------------------------------------------
// Each applies to the whole "headers\n\nbody" text, in place, only when its isit() holds,
// and returns whether it ran.

bool de_base64(std::string& text);   // Content-Transfer-Encoding: base64 anywhere at a line start
bool de_qp(std::string& text);       // ... quoted-printable in the header block
bool de_html(std::string& text);     // the XS HTML stripper, on the whole text
void de_newline(std::string& text);  // drops the body's trailing newlines

// The whole VR4 pipeline (deBase64, deQP, deHTMLxs, deNewline, then the body): the text
// engine 4 signs. nullopt = undef (no blank line left in the text).
std::optional<std::string> clean_vr4(std::string_view part);
// The VR8 pipeline: the same without deHTMLxs. Engine 8 and the part skipping use it.
std::optional<std::string> clean_vr8(std::string_view part);

// True when razor-check would not sign the part (empty, only Content-* lines, or only
// whitespace after cleaning).
bool skip_part(const std::optional<std::string>& cleaned_vr8);

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

}  // namespace strop::sigs::razor
