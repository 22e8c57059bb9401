#include "protocol/signing.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>

namespace strop::protocol {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHexDigits[p[i] >> 4];
    out[2 * i + 1] = kHexDigits[p[i] & 15];
  }
  return out;
}

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

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string hmac_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is legal for HMAC, but HMAC() wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return to_hex(mac, len);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return to_hex(md, len);
}

std::string canonical_request(std::string_view method, std::string_view target,
                              std::string_view timestamp, std::string_view nonce,
                              std::string_view body) {
  std::string s;
  s.reserve(kSigningScheme.size() + method.size() + target.size() + timestamp.size() +
            nonce.size() + 64 + 5);
  s.append(kSigningScheme);
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
                         std::string_view method, std::string_view target,
                         std::string_view body, std::int64_t unix_time, std::string_view nonce) {
  AuthHeaders h;
  h.reporter.assign(reporter);
  h.timestamp = std::to_string(unix_time);
  h.nonce.assign(nonce);
  h.signature = hmac_hex(secret, canonical_request(method, target, h.timestamp, nonce, body));
  return h;
}

std::string make_nonce() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  return to_hex(b.data(), b.size());
}

std::string make_secret() {
  static constexpr char kB64Url[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 32> b{};
  random_bytes(b.data(), b.size());
  // 256 bits -> 43 base64url characters (the last one carries 4 bits), no padding.
  std::string out;
  out.reserve(43);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : b) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Url[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64Url[(acc << (6 - bits)) & 63]);
  return out;
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

AuthStatus verify_request(const AuthHeaders& h, std::string_view secret,
                          std::string_view method, std::string_view target,
                          std::string_view body, std::int64_t now, std::int64_t window_seconds) {
  std::int64_t ts = 0;
  if (h.reporter.empty() || !parse_timestamp(h.timestamp, &ts) || !valid_nonce(h.nonce) ||
      h.signature.size() != 64 || !is_lower_hex(h.signature)) {
    return AuthStatus::kMalformed;
  }
  if (ts < now - window_seconds || ts > now + window_seconds) return AuthStatus::kStale;
  std::string expected = hmac_hex(secret, canonical_request(method, target, h.timestamp, h.nonce, body));
  if (CRYPTO_memcmp(expected.data(), h.signature.data(), expected.size()) != 0) {
    return AuthStatus::kBadSignature;
  }
  return AuthStatus::kOk;
}

}  // namespace strop::protocol
