// razor_accounts.cpp: the node key file, sealed Razor passwords, derived Pyzor keys
// (razor_accounts.hpp).
#include "node/razor_accounts.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "base/base64.hpp"
#include "base/digest.hpp"
#include "base/hex.hpp"

namespace strop::node {

namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kAadPrefix = "strop razor password/1:";
constexpr std::string_view kPyzorLabel = "strop pyzor key/1";

void random_bytes(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

std::string b64url_encode(const unsigned char* p, std::size_t n) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(p), n), kBase64Url,
                       Base64Padding::kNone);
}

std::optional<std::vector<unsigned char>> b64url_decode(std::string_view s) {
  auto bytes = base64_decode(s, kBase64Url);
  if (!bytes) return std::nullopt;
  return std::vector<unsigned char>(bytes->begin(), bytes->end());
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
  if (fd < 0)
    return make_error(Errc::kIo, "cannot read node key " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size != static_cast<off_t>(kBytes)) {
    ::close(fd);
    return make_error(Errc::kMalformed,
                      "node key " + path + " is not " + std::to_string(kBytes) + " bytes");
  }
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(kBytes))
    return make_error(Errc::kIo, "cannot read node key " + path);
  return NodeKey(key);
}

Result<std::string> RazorAccounts::seal(std::string_view name, std::string_view pass) const {
  if (pass.empty() || pass.size() > kMaxRazorPassword) {
    return make_error(Errc::kInvalidArgument, "a Razor password must be 1.." +
                                                  std::to_string(kMaxRazorPassword) + " bytes");
  }
  if (!key_) return make_error(Errc::kUnavailable, "no node key to seal Razor passwords");
  std::vector<unsigned char> blob(kNonceBytes + pass.size() + kTagBytes);
  random_bytes(blob.data(), kNonceBytes);
  std::string aad = aad_for(name);
  CipherCtx ctx;
  int len = 0;
  bool ok =
      ctx.p != nullptr &&
      EVP_EncryptInit_ex(ctx.p, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) ==
          1 &&
      EVP_EncryptInit_ex(ctx.p, nullptr, nullptr, key_->bytes().data(), blob.data()) == 1 &&
      EVP_EncryptUpdate(ctx.p, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.p, blob.data() + kNonceBytes, &len,
                        reinterpret_cast<const unsigned char*>(pass.data()),
                        static_cast<int>(pass.size())) == 1 &&
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
  if (!blob || blob->size() <= kNonceBytes + kTagBytes)
    return make_error(Errc::kMalformed, "bad sealed Razor password");
  std::size_t n = blob->size() - kNonceBytes - kTagBytes;
  std::string pass(n, '\0');
  std::string aad = aad_for(name);
  CipherCtx ctx;
  int len = 0;
  bool ok =
      ctx.p != nullptr &&
      EVP_DecryptInit_ex(ctx.p, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) ==
          1 &&
      EVP_DecryptInit_ex(ctx.p, nullptr, nullptr, key_->bytes().data(), blob->data()) == 1 &&
      EVP_DecryptUpdate(ctx.p, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.p, reinterpret_cast<unsigned char*>(pass.data()), &len,
                        blob->data() + kNonceBytes, static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          blob->data() + kNonceBytes + n) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM decryption setup failed");
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.p, reinterpret_cast<unsigned char*>(pass.data()) + len, &fin) != 1) {
    OPENSSL_cleanse(pass.data(), pass.size());
    return make_error(Errc::kUnauthorized,
                      "sealed Razor password does not open with this node key");
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
  std::string mac = strop::hmac(DigestAlgorithm::kSha256, *cred, kPyzorLabel);
  OPENSSL_cleanse(cred->data(), cred->size());
  std::string out = hex_encode(std::string_view(mac).substr(0, 20));
  OPENSSL_cleanse(mac.data(), mac.size());
  return out;
}

}  // namespace strop::node
