// razor_accounts.hpp: credentials of the legacy protocols, mapped onto the node's reporters.
//
// Razor2's challenge-response (razor2.md §8.6) forces the server to know each password. A
// reporter registered over Razor2 therefore keeps, in its LMDB `secret` field, its password
// sealed with AES-256-GCM under the node key: "razor1:" + base64url(nonce || ciphertext ||
// tag), the reporter name as associated data. The node key is 32 random bytes in a file
// kept outside LMDB (RazorConfig::key_file, default <data_dir>/razor.key, mode 0600), so a
// copy of the store or of a backup alone does not reveal any password (docs/security.md).
// A reporter created through the native API has no sealed password: its Razor password is
// its native secret (the one in its identity file).
//
// Pyzor accounts need a shared key per user. Every reporter has one, derived from its
// credential (the unsealed Razor password, or the native secret): 40 lowercase hex digits of
// HMAC-SHA256(credential, "strop pyzor key/1"); `strop-node pyzor-account NAME` prints the
// line for the client's accounts file.
//
// Thread-safety: a RazorAccounts is immutable after construction; all methods are const and
// safe from any thread. NodeKey is a plain value.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "node/config.hpp"
#include "storage/reporter.hpp"

namespace strop::node {

// Longest Razor password accepted at registration (the sealed form must fit the store's
// 128-byte secret limit). Default and only value: 48 bytes.
inline constexpr std::size_t kMaxRazorPassword = 48;
inline constexpr std::string_view kSealedPrefix = "razor1:";

class NodeKey {
 public:
  static constexpr std::size_t kBytes = 32;
  // Reads the key file; creates it (32 random bytes, mode 0600, fsynced) when missing and
  // `create`. Errors: kNotFound (missing and !create), kIo, kMalformed (wrong size).
  static Result<NodeKey> load(const std::string& path, bool create);
  static NodeKey from_bytes(const std::array<unsigned char, kBytes>& bytes) {
    return NodeKey(bytes);
  }
  const std::array<unsigned char, kBytes>& bytes() const { return key_; }

 private:
  explicit NodeKey(const std::array<unsigned char, kBytes>& k) : key_(k) {}
  std::array<unsigned char, kBytes> key_{};
};

// The node key file of a configuration: razor.key_file, or <data_dir>/razor.key.
std::string razor_key_path(const Config& c);

class RazorAccounts {
 public:
  // Without a key, sealing fails and sealed passwords cannot be opened (kUnavailable).
  explicit RazorAccounts(std::optional<NodeKey> key) : key_(key) {}

  bool has_key() const { return key_.has_value(); }

  // The sealed form of `pass` for reporter `name`. Errors: kInvalidArgument (empty or longer
  // than kMaxRazorPassword), kUnavailable (no node key).
  Result<std::string> seal(std::string_view name, std::string_view pass) const;
  // Inverse of seal(). Errors: kUnavailable (no node key), kUnauthorized (wrong key, other
  // reporter's blob, or tampered), kMalformed.
  Result<std::string> open(std::string_view name, std::string_view sealed) const;
  static bool is_sealed(std::string_view secret) { return secret.starts_with(kSealedPrefix); }

  // The reporter's Razor password: unsealed, or its native secret. Errors as open().
  Result<std::string> razor_password(const storage::Reporter& r) const;
  // The reporter's Pyzor key (40 lowercase hex digits). Errors as open().
  Result<std::string> pyzor_key(const storage::Reporter& r) const;

 private:
  std::optional<NodeKey> key_;
};

// `n` random characters from `alphabet` (OpenSSL RAND_bytes, rejection sampling). Used for
// achal challenges and generated Razor user names and passwords.
std::string random_text(std::size_t n, std::string_view alphabet);
inline constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace strop::node
