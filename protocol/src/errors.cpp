#include "protocol/errors.hpp"

#include <array>
#include <utility>

#include "protocol/limits.hpp"
#include "protocol/messages.hpp"

namespace strop::protocol {

namespace {

struct ErrcInfo {
  ApiErrc code;
  std::string_view name;
  int status;
};

// The contract table: names and statuses never change.
constexpr std::array<ErrcInfo, 18> kErrcTable = {{
    {ApiErrc::kMalformed, "malformed", 400},
    {ApiErrc::kInvalid, "invalid", 400},
    {ApiErrc::kUnsupportedVersion, "unsupported_version", 400},
    {ApiErrc::kAuthRequired, "auth_required", 401},
    {ApiErrc::kBadSignature, "bad_signature", 401},
    {ApiErrc::kStaleRequest, "stale_request", 401},
    {ApiErrc::kReplayedNonce, "replayed_nonce", 401},
    {ApiErrc::kForbidden, "forbidden", 403},
    {ApiErrc::kRegistrationClosed, "registration_closed", 403},
    {ApiErrc::kNotFound, "not_found", 404},
    {ApiErrc::kMethodNotAllowed, "method_not_allowed", 405},
    {ApiErrc::kNameTaken, "name_taken", 409},
    {ApiErrc::kTooLarge, "too_large", 413},
    {ApiErrc::kLimitExceeded, "limit_exceeded", 413},
    {ApiErrc::kRateLimited, "rate_limited", 429},
    {ApiErrc::kInternal, "internal", 500},
    {ApiErrc::kOverloaded, "overloaded", 503},
    {ApiErrc::kTimeout, "timeout", 408},
}};

}  // namespace

std::string_view api_errc_name(ApiErrc code) {
  for (const auto& e : kErrcTable) {
    if (e.code == code) return e.name;
  }
  return "internal";
}

std::optional<ApiErrc> api_errc_from_name(std::string_view name) {
  for (const auto& e : kErrcTable) {
    if (e.name == name) return e.code;
  }
  return std::nullopt;
}

int http_status(ApiErrc code) {
  for (const auto& e : kErrcTable) {
    if (e.code == code) return e.status;
  }
  return 500;
}

ApiErrc api_errc_from(Errc code) {
  switch (code) {
    case Errc::kMalformed: return ApiErrc::kMalformed;
    case Errc::kInvalidArgument: return ApiErrc::kInvalid;
    case Errc::kLimitExceeded: return ApiErrc::kLimitExceeded;
    case Errc::kNotFound: return ApiErrc::kNotFound;
    case Errc::kExists: return ApiErrc::kNameTaken;
    case Errc::kUnavailable: return ApiErrc::kOverloaded;
    case Errc::kTimeout: return ApiErrc::kTimeout;
    case Errc::kUnauthorized: return ApiErrc::kBadSignature;
    case Errc::kForbidden: return ApiErrc::kForbidden;
    case Errc::kRateLimited: return ApiErrc::kRateLimited;
    case Errc::kNotMail: return ApiErrc::kInvalid;
    case Errc::kReplayed: return ApiErrc::kReplayedNonce;
    case Errc::kOk:
    case Errc::kIo:
    case Errc::kInternal: return ApiErrc::kInternal;
  }
  return ApiErrc::kInternal;
}

Errc errc_from(ApiErrc code) {
  switch (code) {
    case ApiErrc::kMalformed: return Errc::kMalformed;
    case ApiErrc::kInvalid:
    case ApiErrc::kUnsupportedVersion: return Errc::kInvalidArgument;
    case ApiErrc::kAuthRequired:
    case ApiErrc::kBadSignature:
    case ApiErrc::kStaleRequest:
    case ApiErrc::kReplayedNonce: return Errc::kUnauthorized;
    case ApiErrc::kForbidden:
    case ApiErrc::kRegistrationClosed: return Errc::kForbidden;
    case ApiErrc::kNotFound:
    case ApiErrc::kMethodNotAllowed: return Errc::kNotFound;
    case ApiErrc::kNameTaken: return Errc::kExists;
    case ApiErrc::kTooLarge:
    case ApiErrc::kLimitExceeded: return Errc::kLimitExceeded;
    case ApiErrc::kRateLimited: return Errc::kRateLimited;
    case ApiErrc::kInternal: return Errc::kInternal;
    case ApiErrc::kOverloaded: return Errc::kUnavailable;
    case ApiErrc::kTimeout: return Errc::kTimeout;
  }
  return Errc::kInternal;
}

bool valid_reporter_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxReporterNameLength) return false;
  if (name.front() == '.' || name.front() == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view verdict_name(Verdict v) { return v == Verdict::kSpam ? "spam" : "not_spam"; }

}  // namespace strop::protocol
