// quarantine.hpp: quarantine to a directory: the message as received (<id>.eml) and a JSON
// sidecar (<id>.json) with the reason, envelope, score, rules hit and virus name.
//
// Both files are written to temporary names, fsync'd and renamed, with mode 0600; the sidecar
// is renamed last, so a sidecar always has a complete message next to it. Ids are
// "<UTC yyyymmddThhmmss>-<queue id or 'noqueue'>-<8 random hex>". Thread-safe (no shared
// state); the sidecar layout is documented in docs/milter.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "milter/rules.hpp"

namespace strop::milter {

struct QuarantineInfo {
  std::string reason;
  std::string action;  // the verdict that led here ("quarantine")
  std::string queue_id;
  std::string client_addr, client_name, helo;
  std::string mail_from;
  std::vector<std::string> rcpts;
  double score = 0;
  std::vector<RuleHit> rules;
  std::string virus;
};

// The sidecar JSON text ("v": 1).
std::string quarantine_sidecar(const QuarantineInfo& info, std::string_view id,
                               std::size_t message_bytes);

// Writes both files; returns the id.
Result<std::string> write_quarantine(const std::string& dir, std::string_view message,
                                     const QuarantineInfo& info);

}  // namespace strop::milter
