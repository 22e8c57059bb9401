// razor_sha1.hpp: SHA-1 for the legacy engines (razor e4/e8, pyzor), over OpenSSL EVP.
// Private to sigs/src. Thread-safe: the digest method is fetched once; each Sha1 owns its
// context.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strop::sigs::legacy_detail {

class Sha1 {
 public:
  Sha1() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md(), nullptr) != 1) {
      throw std::runtime_error("sha1: EVP init failed");
    }
  }
  ~Sha1() { EVP_MD_CTX_free(ctx_); }
  Sha1(const Sha1&) = delete;
  Sha1& operator=(const Sha1&) = delete;

  void update(std::string_view data) {
    if (!data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
  }
  // Returns the 40 lowercase hex digits and resets the context (like Digest::SHA).
  std::string hexdigest() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> d{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, d.data(), &n);
    EVP_DigestInit_ex(ctx_, md(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (unsigned int i = 0; i < n; ++i) {
      out[2 * i] = kHex[d[i] >> 4];
      out[2 * i + 1] = kHex[d[i] & 15];
    }
    return out;
  }

  // One-shot digest on a per-thread context (creating an EVP context costs more than
  // hashing the short strings the engines hash).
  static std::string hex(std::string_view data) {
    thread_local Sha1 s;
    s.update(data);
    return s.hexdigest();
  }

 private:
  static const EVP_MD* md() {
    // Fetched once: the implicit fetch of EVP_sha1() costs a lookup on every init.
    static const EVP_MD* const kMd = [] {
      const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA1", nullptr);
      return m != nullptr ? m : EVP_sha1();
    }();
    return kMd;
  }
  EVP_MD_CTX* ctx_;
};

}  // namespace strop::sigs::legacy_detail
