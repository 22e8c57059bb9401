#include "base/result.hpp"

namespace strop {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kOk: return "ok";
    case Errc::kInvalidArgument: return "invalid_argument";
    case Errc::kMalformed: return "malformed";
    case Errc::kLimitExceeded: return "limit_exceeded";
    case Errc::kNotFound: return "not_found";
    case Errc::kExists: return "exists";
    case Errc::kIo: return "io";
    case Errc::kUnavailable: return "unavailable";
    case Errc::kTimeout: return "timeout";
    case Errc::kUnauthorized: return "unauthorized";
    case Errc::kForbidden: return "forbidden";
    case Errc::kRateLimited: return "rate_limited";
    case Errc::kInternal: return "internal";
    case Errc::kNotMail: return "not_mail";
    case Errc::kReplayed: return "replayed";
  }
  return "unknown";
}

}  // namespace strop
