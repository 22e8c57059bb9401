// headers.hpp: the header changes the milter asks the MTA for: removal or renaming of
// X-Spam-* / X-Strop-* headers that came from outside (so senders cannot forge them), the
// X-Scanned-By / X-Spam-Score / X-Spam-Status / X-Spam-Flag / X-Strop-Skipped headers, and
// the optional Subject tag. Pure: plan_headers() returns a list the libmilter glue applies in
// order. Thread-safe, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "milter/policy.hpp"
#include "milter/rules.hpp"

namespace strop::milter {

// A header as the MTA handed it to the milter (value unfolded only as the MTA did).
struct SeenHeader {
  std::string name;
  std::string value;
};

struct HeaderEdit {
  enum class Op { kAdd, kChange, kDelete };
  Op op = Op::kAdd;
  std::string name;
  int index = 0;      // kChange/kDelete: 1-based occurrence among headers of this name
  std::string value;  // kAdd/kChange
  friend bool operator==(const HeaderEdit&, const HeaderEdit&) = default;
};

enum class IncomingMode { kRemove, kRename, kKeep };
Result<IncomingMode> parse_incoming_mode(std::string_view text);  // remove|rename|keep
const char* incoming_mode_name(IncomingMode m);

struct HeaderOptions {
  IncomingMode incoming = IncomingMode::kRemove;  // Default: remove
  std::string subject_tag;                        // Default: "" (Subject unchanged)
  std::string scanned_by;                         // "strop-milter <version>"
  double required = 5.0;                          // tag threshold, shown in X-Spam-Status
  std::size_t max_value_bytes = 900;              // Default: rule lists cut to fit
};

// True for X-Spam-* and X-Strop-* (case-insensitive).
bool is_protected_header(std::string_view name);

// "1000 (****************************************) GTUBE": score, one star per point (at most
// 40), then the reported rule names joined by ','.
std::string spam_score_value(const RuleResult& rules, std::size_t max_bytes = 900);

// "Yes, score=1000.0 required=5.0 tests=GTUBE" (SpamAssassin's form).
std::string spam_status_value(bool spam, const RuleResult& rules, double required,
                              std::size_t max_bytes = 900);

// The edits for one message, in the order they must be applied.
std::vector<HeaderEdit> plan_headers(const std::vector<SeenHeader>& seen, const Decision& decision,
                                     const RuleResult& rules, const HeaderOptions& options);

}  // namespace strop::milter
