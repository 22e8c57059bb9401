#include "protocol/signing.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>

#include "base/base64.hpp"
#include "base/digest.hpp"
#include "base/hex.hpp"

namespace strop::protocol {

namespace {

void random_bytes(unsigned char* p, std::size_t n) {
  // A CSPRNG failure is a fatal state, not an expected failure.
  if (RAND_bytes(p, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

bool parse_timestamp(std::string_view s, std::int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

std::string canonical_request(std::string_view method, std::string_view target,
                              std::string_view timestamp, std::string_view nonce,
                              std::string_view body, std::string_view scheme) {
  std::string s;
  s.reserve(scheme.size() + method.size() + target.size() + timestamp.size() + nonce.size() + 64 +
            5);
  s.append(scheme);
  s.push_back('\n');
  s.append(method);
  s.push_back('\n');
  s.append(target);
  s.push_back('\n');
  s.append(timestamp);
  s.push_back('\n');
  s.append(nonce);
  s.push_back('\n');
  s.append(sha256_hex(body));
  return s;
}

AuthHeaders sign_request(std::string_view reporter, std::string_view secret,
                         std::string_view method, std::string_view target, std::string_view body,
                         std::int64_t unix_time, std::string_view nonce, std::string_view scheme) {
  AuthHeaders h;
  h.reporter.assign(reporter);
  h.timestamp = std::to_string(unix_time);
  h.nonce.assign(nonce);
  h.signature = hmac_hex(DigestAlgorithm::kSha256, secret,
                         canonical_request(method, target, h.timestamp, nonce, body, scheme));
  return h;
}

std::string make_nonce() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  return hex_encode(b.data(), b.size());
}

std::string make_secret() {
  std::array<unsigned char, 32> b{};
  random_bytes(b.data(), b.size());
  // 256 bits -> 43 base64url characters (the last one carries 4 bits), no padding.
  return base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()),
                       kBase64Url, Base64Padding::kNone);
}

bool valid_nonce(std::string_view nonce) {
  if (nonce.size() < kMinNonceLength || nonce.size() > kMaxNonceLength) return false;
  for (char c : nonce) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

AuthStatus verify_request(const AuthHeaders& h, std::string_view secret, std::string_view method,
                          std::string_view target, std::string_view body, std::int64_t now,
                          std::int64_t window_seconds, std::string_view scheme) {
  std::int64_t ts = 0;
  if (h.reporter.empty() || !parse_timestamp(h.timestamp, &ts) || !valid_nonce(h.nonce) ||
      h.signature.size() != 64 || !is_lower_hex(h.signature)) {
    return AuthStatus::kMalformed;
  }
  if (ts < now - window_seconds || ts > now + window_seconds) return AuthStatus::kStale;
  std::string expected =
      hmac_hex(DigestAlgorithm::kSha256, secret,
               canonical_request(method, target, h.timestamp, h.nonce, body, scheme));
  if (CRYPTO_memcmp(expected.data(), h.signature.data(), expected.size()) != 0) {
    return AuthStatus::kBadSignature;
  }
  return AuthStatus::kOk;
}

}  // namespace strop::protocol
