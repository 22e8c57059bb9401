// spamc.hpp: the SPAMC/SPAMD protocol spoken to SpamAssassin's spamd (pure codec), and a
// blocking client with a deadline.
//
// Request: "SYMBOLS SPAMC/1.5\r\nContent-length: N\r\nUser: U\r\n\r\n<message>", then the
// client half-closes. Reply: "SPAMD/1.1 0 EX_OK\r\nContent-length: M\r\nSpam: True ; 1000.0 /
// 5.0\r\n\r\nGTUBE,NO_RECEIVED" (mail-pipeline.md §5). "Spam:" says True/False or Yes/No.
// The codec is pure and thread-safe; SpamdClient is thread-safe (a connection per request).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "milter/deadline.hpp"
#include "milter/net.hpp"

namespace strop::milter {

namespace spamc {

struct Limits {
  std::size_t max_reply_bytes = 64u << 10;  // Default: 64 KiB
  std::size_t max_symbols = 1000;           // Default: 1000 rule names kept
};

struct Reply {
  bool spam = false;
  double score = 0;
  double threshold = 0;
  std::vector<std::string> symbols;  // SYMBOLS: the names of the rules that hit
};

// The request bytes for `command` (CHECK, SYMBOLS, ...).
std::string encode_request(std::string_view command, std::string_view message,
                           std::string_view user);

// Parses a whole reply. kUnavailable when spamd answered with a non-zero code, kMalformed
// when the bytes are not a SPAMD reply, kLimitExceeded past the limits.
Result<Reply> parse_reply(std::string_view raw, const Limits& limits = {});

}  // namespace spamc

// The spamd stage as the pipeline sees it (tests substitute fakes).
class SpamScorer {
 public:
  virtual ~SpamScorer() = default;
  virtual Result<spamc::Reply> score(std::string_view message, const Deadline& deadline) = 0;
};

struct SpamdOptions {
  Endpoint address;
  std::string user = "nobody";                      // Default: "nobody" (spamd's User:)
  std::chrono::milliseconds connect_timeout{1000};  // Default: 1 s
  spamc::Limits limits;
};

class SpamdClient final : public SpamScorer {
 public:
  explicit SpamdClient(SpamdOptions options) : options_(std::move(options)) {}
  Result<spamc::Reply> score(std::string_view message, const Deadline& deadline) override;

 private:
  const SpamdOptions options_;
};

}  // namespace strop::milter
