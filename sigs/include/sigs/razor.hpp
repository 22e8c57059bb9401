// razor.hpp: a bit-exact model of the Vipul's Razor v2 client signatures (razor-agents
// 2.85, Debian `razor` 1:2.85-9, which calls itself 2.84): mail intake, MIME splitting,
// the preprocessors, engine 4 ("Ephemeral", e4) and engine 8 ("Whiplash", e8).
//
// Every function reproduces what the Perl modules in /usr/share/perl5/Razor2 compute,
// quirks included (see docs/legacy-engines.md and ../shared/specs/razor2.md §2-§6). The
// pipeline's stages, each byte-identical to a Perl intermediate and tested on its own, are
// in sigs/src/razor_internal.hpp. Texts are byte strings (Perl strings without the UTF-8
// flag).
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
inline constexpr std::size_t kMaxPartHeader = 4 * 1024;    // prep_part header cap
inline constexpr std::size_t kMaxPartBody = 60 * 1024;     // prep_part body cap
inline constexpr std::size_t kMaxOrigHeaders = 15 * 1024;  // prep_mail header cap

// Safety limits on untrusted input. The Perl client has none; within these limits the
// results are exact, beyond them the call fails with Errc::kLimitExceeded.
struct Limits {
  std::size_t max_input_bytes = 64u << 20;  // Default: 64 MiB per file or mail
  std::size_t max_mails = 10000;            // Default: 10000 mails per mbox file
  int max_mime_depth = 64;                  // Default: 64 nested multiparts
  std::size_t max_parts = 4096;             // Default: 4096 leaf parts per mail
};

// ---- Mails and parts ---------------------------------------------------------------------

struct PreparedMail {
  std::string headers;             // original headers as uploaded by razor-report (LF ends)
  std::vector<std::string> parts;  // signed parts, each "headers\n\nbody"
};

// prep_mail(): headers (report_headers=1) and the prepared leaf parts, in document order.
// Parts whose body is empty or "0" are dropped.
Result<PreparedMail> prep_mail(std::string_view mail, const Limits& limits = {});

// ---- Signature text encoding --------------------------------------------------------------

// Razor2::String::hextobase64: 3 hex digits -> 2 chars, nibbles bit-reversed, alphabet
// A-Z a-z 0-9 - _. 40 hex digits give 28 chars, 16 give 12.
std::string hextobase64(std::string_view hex);

// ---- Engine 4 parameters -----------------------------------------------------------------

// A parsed ep4 ("seed-sep[-sep...]").
struct Ep4 {
  std::uint32_t seed = 7542;      // srand() argument as Perl truncates it
  std::string separator = "\n";   // the line separator, used as a literal regex
  bool separator_matches = true;  // false when a separator char is wide (> 255): never splits
};

// Parses ep4 as Razor2::Client::Engine / Ephemeral do. Errors: kInvalidArgument for an ep4
// razor-agents rejects ("Bad ep4": seed or separator part false) or whose separator would be
// a regex metacharacter (not supported by this model).
Result<Ep4> parse_ep4(std::string_view ep4);

// ---- Whole parts and mails ------------------------------------------------------------------

struct SignedPart {
  std::string body;                        // the signed (and uploaded) part text
  std::optional<std::string> cleaned;      // VR4 input
  std::optional<std::string> cleaned_vr8;  // VR8 input
  bool skipme = false;                     // true: not signed, e4/e8 empty
  std::string e4;                          // 28 chars
  std::vector<std::string> e8;             // 12 chars each, may be empty
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
