// razor_accounts.cpp: the node key file, sealed Razor passwords, derived Pyzor keys
// (razor_accounts.hpp).
#include "node/razor_accounts.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace strop::node {

namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kAadPrefix = "strop razor password/1:";
constexpr std::string_view kPyzorLabel = "strop pyzor key/1";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void random_bytes(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

std::string b64url_encode(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64Url[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kB64Url[(acc << (6 - bits)) & 63];
  return out;
}

std::optional<std::vector<unsigned char>> b64url_decode(std::string_view s) {
  std::vector<unsigned char> out;
  out.reserve(s.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const char* pos = std::strchr(kB64Url, c);
    if (c == '\0' || pos == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos - kB64Url);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string aad_for(std::string_view name) {
  std::string a(kAadPrefix);
  a.append(name);
  return a;
}

struct CipherCtx {
  EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(p); }
  CipherCtx() = default;
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
};

}  // namespace

std::string random_text(std::size_t n, std::string_view alphabet) {
  std::string out;
  out.reserve(n);
  const unsigned limit = 256u - (256u % static_cast<unsigned>(alphabet.size()));
  unsigned char buf[64];
  while (out.size() < n) {
    random_bytes(buf, sizeof buf);
    for (unsigned char b : buf) {
      if (b >= limit) continue;  // rejection sampling: no modulo bias
      out += alphabet[b % alphabet.size()];
      if (out.size() == n) break;
    }
  }
  return out;
}

std::string razor_key_path(const Config& c) {
  if (!c.razor.key_file.empty()) return c.razor.key_file;
  return c.data_dir + "/razor.key";
}

Result<NodeKey> NodeKey::load(const std::string& path, bool create) {
  std::array<unsigned char, kBytes> key{};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (!create) return make_error(Errc::kNotFound, "node key " + path + " does not exist");
    random_bytes(key.data(), key.size());
    int w = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w < 0) {
      if (errno == EEXIST) return load(path, false);  // created concurrently: use that one
      return make_error(Errc::kIo, "cannot create node key " + path + ": " + std::strerror(errno));
    }
    ssize_t n = ::write(w, key.data(), key.size());
    bool ok = n == static_cast<ssize_t>(key.size()) && ::fsync(w) == 0;
    ok = (::close(w) == 0) && ok;
    if (!ok) {
      ::unlink(path.c_str());
      return make_error(Errc::kIo, "cannot write node key " + path);
    }
    return NodeKey(key);
  }
  if (fd < 0) return make_error(Errc::kIo, "cannot read node key " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size != static_cast<off_t>(kBytes)) {
    ::close(fd);
    return make_error(Errc::kMalformed, "node key " + path + " is not " + std::to_string(kBytes) + " bytes");
  }
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(kBytes)) return make_error(Errc::kIo, "cannot read node key " + path);
  return NodeKey(key);
}

Result<std::string> RazorAccounts::seal(std::string_view name, std::string_view pass) const {
  if (pass.empty() || pass.size() > kMaxRazorPassword) {
    return make_error(Errc::kInvalidArgument,
                      "a Razor password must be 1.." + std::to_string(kMaxRazorPassword) + " bytes");
  }
  if (!key_) return make_error(Errc::kUnavailable, "no node key to seal Razor passwords");
  std::vector<unsigned char> blob(kNonceBytes + pass.size() + kTagBytes);
  random_bytes(blob.data(), kNonceBytes);
  std::string aad = aad_for(name);
  CipherCtx ctx;
  int len = 0;
  bool ok = ctx.p != nullptr &&
            EVP_EncryptInit_ex(ctx.p, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.p, nullptr, nullptr, key_->bytes().data(), blob.data()) == 1 &&
            EVP_EncryptUpdate(ctx.p, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.p, blob.data() + kNonceBytes, &len,
                              reinterpret_cast<const unsigned char*>(pass.data()), static_cast<int>(pass.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.p, blob.data() + kNonceBytes + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                                blob.data() + kNonceBytes + pass.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM encryption failed");  // broken crypto library
  return std::string(kSealedPrefix) + b64url_encode(blob.data(), blob.size());
}

Result<std::string> RazorAccounts::open(std::string_view name, std::string_view sealed) const {
  if (!is_sealed(sealed)) return make_error(Errc::kMalformed, "not a sealed Razor password");
  if (!key_) return make_error(Errc::kUnavailable, "no node key to open Razor passwords");
  auto blob = b64url_decode(sealed.substr(kSealedPrefix.size()));
  if (!blob || blob->size() <= kNonceBytes + kTagBytes) return make_error(Errc::kMalformed, "bad sealed Razor password");
  std::size_t n = blob->size() - kNonceBytes - kTagBytes;
  std::string pass(n, '\0');
  std::string aad = aad_for(name);
  CipherCtx ctx;
  int len = 0;
  bool ok = ctx.p != nullptr &&
            EVP_DecryptInit_ex(ctx.p, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.p, nullptr, nullptr, key_->bytes().data(), blob->data()) == 1 &&
            EVP_DecryptUpdate(ctx.p, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.p, reinterpret_cast<unsigned char*>(pass.data()), &len, blob->data() + kNonceBytes,
                              static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                                blob->data() + kNonceBytes + n) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM decryption setup failed");
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.p, reinterpret_cast<unsigned char*>(pass.data()) + len, &fin) != 1) {
    OPENSSL_cleanse(pass.data(), pass.size());
    return make_error(Errc::kUnauthorized, "sealed Razor password does not open with this node key");
  }
  return pass;
}

Result<std::string> RazorAccounts::razor_password(const storage::Reporter& r) const {
  if (is_sealed(r.secret)) return open(r.name, r.secret);
  return r.secret;
}

Result<std::string> RazorAccounts::pyzor_key(const storage::Reporter& r) const {
  auto cred = razor_password(r);
  if (!cred) return cred.error();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  static const unsigned char kEmpty = 0;
  const void* k = cred->empty() ? static_cast<const void*>(&kEmpty) : static_cast<const void*>(cred->data());
  if (HMAC(EVP_sha256(), k, static_cast<int>(cred->size()), reinterpret_cast<const unsigned char*>(kPyzorLabel.data()),
           kPyzorLabel.size(), md, &md_len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  OPENSSL_cleanse(cred->data(), cred->size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(40);
  for (unsigned int i = 0; i < 20; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace strop::node
