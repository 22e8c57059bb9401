// clamd.hpp: the clamd INSTREAM protocol (pure codec) and a blocking client over clamd's
// unix or TCP socket with deadlines, size limits and several addresses used round-robin.
//
// Protocol (mail-pipeline.md §4.3): "zINSTREAM\0", then chunks of <uint32 big-endian
// length><bytes>, then a zero length; the reply is one NUL-terminated line such as
// "stream: OK", "stream: Eicar-Test-Signature.UNOFFICIAL FOUND" or
// "INSTREAM size limit exceeded. ERROR". The codec functions are pure and thread-safe.
// ClamdClient is thread-safe: each scan opens its own connection; the round-robin position
// is an atomic counter. Its options are fixed at construction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "milter/deadline.hpp"
#include "milter/net.hpp"

namespace strop::milter {

namespace clamd {

inline constexpr std::string_view kInstreamCommand{"zINSTREAM\0", 10};
inline constexpr std::string_view kPingCommand{"zPING\0", 6};
inline constexpr std::string_view kEndOfStream{"\0\0\0\0", 4};

// The 4-byte big-endian length prefix of one INSTREAM chunk.
std::string chunk_header(std::uint32_t length);

// A whole INSTREAM request for `data`, cut into chunks of at most `chunk_bytes` (> 0).
std::string encode_instream(std::string_view data, std::size_t chunk_bytes);

enum class Status { kClean, kInfected, kError };

struct Reply {
  Status status = Status::kError;
  std::string virus;  // kInfected: the signature name, e.g. "Eicar-Test-Signature.UNOFFICIAL"
  std::string text;   // the reply line without its terminator
};

// Parses one reply line (trailing NUL / newline allowed, an IDSESSION "N: " prefix allowed).
// Anything that is neither OK nor "<name> FOUND" is kError with the text kept.
Reply parse_reply(std::string_view raw);

}  // namespace clamd

struct VirusScanResult {
  bool infected = false;
  std::string virus;   // when infected
  std::string server;  // endpoint that answered
};

// The virus stage as the pipeline sees it (tests substitute fakes).
class VirusScanner {
 public:
  virtual ~VirusScanner() = default;
  // Scans one whole message. Errors: kUnavailable (no clamd answered), kTimeout,
  // kLimitExceeded (clamd's StreamMaxLength), kMalformed (unexpected reply).
  virtual Result<VirusScanResult> scan(std::string_view message, const Deadline& deadline) = 0;
};

struct ClamdOptions {
  std::vector<Endpoint> addresses;                  // tried round-robin, then failover
  std::chrono::milliseconds connect_timeout{1000};  // Default: 1 s per address
  std::size_t chunk_bytes = 64u << 10;              // Default: 64 KiB per INSTREAM chunk
  std::size_t max_reply_bytes = 4096;               // Default: 4 KiB reply line
};

class ClamdClient final : public VirusScanner {
 public:
  explicit ClamdClient(ClamdOptions options) : options_(std::move(options)) {}

  Result<VirusScanResult> scan(std::string_view message, const Deadline& deadline) override;

  // "PONG" from the first address that answers, for readiness checks.
  Result<std::string> ping(const Deadline& deadline);

 private:
  Result<VirusScanResult> scan_one(const Endpoint& ep, std::string_view message,
                                   const Deadline& deadline);

  const ClamdOptions options_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace strop::milter
