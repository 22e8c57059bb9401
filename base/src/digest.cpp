#include "base/digest.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "base/hex.hpp"

namespace strop {

namespace {

// The methods are fetched once: the implicit fetch behind EVP_sha1() costs a lookup on
// every init.
const EVP_MD* md(DigestAlgorithm algorithm) {
  static const EVP_MD* const kSha1 = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return m != nullptr ? m : EVP_sha1();
  }();
  static const EVP_MD* const kSha256 = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return m != nullptr ? m : EVP_sha256();
  }();
  return algorithm == DigestAlgorithm::kSha1 ? kSha1 : kSha256;
}

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("OpenSSL ") + what + " failed");
}

}  // namespace

std::size_t digest_size(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha1 ? 20 : 32;
}

Digest::Digest(DigestAlgorithm algorithm) : algorithm_(algorithm), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) fail("EVP_MD_CTX_new");
  try {
    init();
  } catch (...) {
    EVP_MD_CTX_free(ctx_);
    throw;
  }
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

void Digest::init() {
  if (EVP_DigestInit_ex(ctx_, md(algorithm_), nullptr) != 1) fail("EVP_DigestInit_ex");
}

void Digest::update(std::string_view data) {
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) fail("EVP_DigestUpdate");
}

std::string Digest::finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> d{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_, d.data(), &n) != 1 || n != digest_size(algorithm_)) {
    fail("EVP_DigestFinal_ex");
  }
  init();
  return std::string(reinterpret_cast<const char*>(d.data()), n);
}

std::string Digest::finish_hex() { return hex_encode(finish()); }

std::string digest(DigestAlgorithm algorithm, std::string_view data) {
  // Creating an EVP context costs more than hashing the short strings most callers hash.
  thread_local Digest sha1(DigestAlgorithm::kSha1);
  thread_local Digest sha256(DigestAlgorithm::kSha256);
  Digest& d = algorithm == DigestAlgorithm::kSha1 ? sha1 : sha256;
  d.update(data);
  return d.finish();
}

std::string digest_hex(DigestAlgorithm algorithm, std::string_view data) {
  return hex_encode(digest(algorithm, data));
}

std::string hmac(DigestAlgorithm algorithm, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int n = 0;
  // An empty key is legal for HMAC, but HMAC() wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(md(algorithm), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &n) == nullptr ||
      n != digest_size(algorithm)) {
    fail("HMAC");
  }
  return std::string(reinterpret_cast<const char*>(mac.data()), n);
}

std::string hmac_hex(DigestAlgorithm algorithm, std::string_view key, std::string_view data) {
  return hex_encode(hmac(algorithm, key, data));
}

}  // namespace strop
