// digest.hpp: SHA-1 and SHA-256 digests and HMACs over OpenSSL EVP.
//
// Failure policy: every OpenSSL return code is checked. OpenSSL fails here only when it
// cannot allocate or is broken, a fatal state rather than an expected failure, so a failure
// throws std::runtime_error (house style: exceptions for unrecoverable states).
// Thread-safety: a Digest is not shareable; use one per thread. The free functions are
// callable from any thread (the one-shot digests reuse a per-thread context).
// Lifetime: a Digest owns its EVP context and frees it on destruction.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace strop {

enum class DigestAlgorithm { kSha1, kSha256 };

// Returns the digest length in bytes: 20 for SHA-1, 32 for SHA-256.
std::size_t digest_size(DigestAlgorithm algorithm);

// An incremental digest: update() any number of times, then finish().
class Digest {
 public:
  explicit Digest(DigestAlgorithm algorithm);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(std::string_view data);
  // Returns the raw digest of everything passed to update() and starts a new digest.
  std::string finish();
  // Returns finish() as lower-case hex.
  std::string finish_hex();

 private:
  void init();

  DigestAlgorithm algorithm_;
  evp_md_ctx_st* ctx_;
};

// One-shot digests of `data`: raw bytes, and lower-case hex.
std::string digest(DigestAlgorithm algorithm, std::string_view data);
std::string digest_hex(DigestAlgorithm algorithm, std::string_view data);
inline std::string sha1_hex(std::string_view data) {
  return digest_hex(DigestAlgorithm::kSha1, data);
}
inline std::string sha256_hex(std::string_view data) {
  return digest_hex(DigestAlgorithm::kSha256, data);
}

// HMAC of `data` under `key` (an empty key is allowed): raw bytes, and lower-case hex.
std::string hmac(DigestAlgorithm algorithm, std::string_view key, std::string_view data);
std::string hmac_hex(DigestAlgorithm algorithm, std::string_view key, std::string_view data);

}  // namespace strop
