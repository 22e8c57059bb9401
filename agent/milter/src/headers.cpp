#include "milter/headers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "milter/text.hpp"

namespace strop::milter {
namespace {

std::string rule_names(const RuleResult& rules, std::size_t budget) {
  std::string out;
  for (const auto& h : rules.hits) {
    std::size_t need = h.name.size() + (out.empty() ? 0 : 1);
    if (out.size() + need > budget) {
      out += out.empty() ? "..." : ",...";
      break;
    }
    if (!out.empty()) out += ',';
    out += h.name;
  }
  return out;
}

// Header values we write must not carry CR/LF or control characters.
std::string clean_value(std::string_view v) { return sanitize(v, 900); }

}  // namespace

Result<IncomingMode> parse_incoming_mode(std::string_view text) {
  if (text == "remove") return IncomingMode::kRemove;
  if (text == "rename") return IncomingMode::kRename;
  if (text == "keep") return IncomingMode::kKeep;
  return make_error(Errc::kInvalidArgument, "unknown incoming header mode '" + std::string(text) +
                                                "' (remove, rename, keep)");
}

const char* incoming_mode_name(IncomingMode m) {
  switch (m) {
    case IncomingMode::kRemove: return "remove";
    case IncomingMode::kRename: return "rename";
    case IncomingMode::kKeep: return "keep";
  }
  return "?";
}

bool is_protected_header(std::string_view name) {
  return istarts_with(name, "X-Spam-") || istarts_with(name, "X-Strop-");
}

std::string spam_score_value(const RuleResult& rules, std::size_t max_bytes) {
  int stars = 0;
  if (rules.score > 0) stars = static_cast<int>(std::min(40.0, rules.score));
  std::string head =
      format_score(rules.score) + " (" + std::string(static_cast<std::size_t>(stars), '*') + ")";
  std::string names =
      rule_names(rules, max_bytes > head.size() + 1 ? max_bytes - head.size() - 1 : 0);
  return names.empty() ? head : head + " " + names;
}

std::string spam_status_value(bool spam, const RuleResult& rules, double required,
                              std::size_t max_bytes) {
  std::string head = fmt::format("{}, score={:.1f} required={:.1f} tests=", spam ? "Yes" : "No",
                                 rules.score, required);
  std::string names = rule_names(rules, max_bytes > head.size() ? max_bytes - head.size() : 0);
  return head + (names.empty() ? "none" : names);
}

std::vector<HeaderEdit> plan_headers(const std::vector<SeenHeader>& seen, const Decision& decision,
                                     const RuleResult& rules, const HeaderOptions& options) {
  std::vector<HeaderEdit> edits;
  if (options.incoming != IncomingMode::kKeep) {
    // Occurrence index per (case-insensitive) name, in arrival order.
    std::map<std::string, int> count;
    struct Hit {
      std::string name;
      int index;
      std::string value;
    };
    std::vector<Hit> hits;
    for (const auto& h : seen) {
      int idx = ++count[to_lower(h.name)];
      if (is_protected_header(h.name)) hits.push_back({h.name, idx, h.value});
    }
    // Delete the last occurrence first, so the MTA's numbering of earlier ones is unchanged
    // whichever way it counts deleted headers.
    std::stable_sort(hits.begin(), hits.end(),
                     [](const Hit& a, const Hit& b) { return a.index > b.index; });
    for (const auto& h : hits) {
      edits.push_back({HeaderEdit::Op::kDelete, h.name, h.index, {}});
    }
    if (options.incoming == IncomingMode::kRename) {
      for (auto it = hits.rbegin(); it != hits.rend(); ++it) {
        // X-Spam-Flag -> X-Untrusted-Spam-Flag
        std::string renamed = "X-Untrusted-" + it->name.substr(2);
        edits.push_back({HeaderEdit::Op::kAdd, renamed, 0, clean_value(it->value)});
      }
    }
  }
  edits.push_back({HeaderEdit::Op::kAdd, "X-Scanned-By", 0, options.scanned_by});
  edits.push_back(
      {HeaderEdit::Op::kAdd, "X-Spam-Score", 0, spam_score_value(rules, options.max_value_bytes)});
  edits.push_back(
      {HeaderEdit::Op::kAdd, "X-Spam-Status", 0,
       spam_status_value(decision.spam_flag, rules, options.required, options.max_value_bytes)});
  if (decision.spam_flag) edits.push_back({HeaderEdit::Op::kAdd, "X-Spam-Flag", 0, "YES"});
  if (!decision.skipped.empty()) {
    std::string v;
    for (const auto& s : decision.skipped) {
      if (!v.empty()) v += ", ";
      v += s;
    }
    edits.push_back({HeaderEdit::Op::kAdd, "X-Strop-Skipped", 0, clean_value(v)});
  }
  if (decision.spam_flag && !options.subject_tag.empty()) {
    const SeenHeader* subject = nullptr;
    for (const auto& h : seen) {
      if (iequals(h.name, "Subject")) {
        subject = &h;
        break;
      }
    }
    if (subject == nullptr) {
      edits.push_back({HeaderEdit::Op::kAdd, "Subject", 0, options.subject_tag});
    } else if (!trim(subject->value).starts_with(options.subject_tag)) {
      std::string_view v = subject->value;
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      edits.push_back(
          {HeaderEdit::Op::kChange, "Subject", 1, options.subject_tag + " " + std::string(v)});
    }
  }
  return edits;
}

}  // namespace strop::milter
