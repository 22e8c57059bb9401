// console_core.cpp: see console_core.hpp.
#include "console_core.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "base/base64.hpp"
#include "base/hex.hpp"

namespace strop::node::console {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kTokenBytes = 32;  // 256 bits
constexpr std::uint64_t kMaxMem = 1ull << 30;

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, 64> buf{};
  if (bytes > buf.size() || RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return hex_encode(buf.data(), bytes);
}

std::optional<std::string> scrypt(std::string_view password, std::string_view salt,
                                  const KdfParams& k) {
  std::string out(kHashBytes, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), k.n, k.r,
                     k.p, kMaxMem, reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string b64(std::string_view bytes) {
  return base64_encode(bytes, kBase64Url, Base64Padding::kNone);
}

}  // namespace

Result<std::string> hash_password(std::string_view password, const KdfParams& params) {
  if (password.empty()) return make_error(Errc::kInvalidArgument, "empty password");
  if (password.size() > kMaxPasswordBytes) {
    return make_error(Errc::kInvalidArgument,
                      "password longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return make_error(Errc::kInternal, "RAND_bytes failed");
  }
  std::string_view salt_view(reinterpret_cast<const char*>(salt.data()), salt.size());
  auto h = scrypt(password, salt_view, params);
  if (!h) return make_error(Errc::kInternal, "EVP_PBE_scrypt failed");
  return "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + b64(salt_view) + "$" + b64(*h);
}

bool verify_password(std::string_view password, std::string_view encoded) {
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  std::vector<std::string_view> parts;
  while (parts.size() < 7) {
    auto d = encoded.find('$');
    parts.push_back(encoded.substr(0, d));
    if (d == std::string_view::npos) break;
    encoded.remove_prefix(d + 1);
  }
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  auto n = parse_u64(parts[1]);
  auto r = parse_u64(parts[2]);
  auto p = parse_u64(parts[3]);
  if (!n || !r || !p || *n < 2 || *n > kMaxKdfN || *r == 0 || *r > kMaxKdfR || *p == 0 ||
      *p > kMaxKdfP) {
    return false;
  }
  auto salt = base64_decode(parts[4], kBase64Url);
  auto want = base64_decode(parts[5], kBase64Url);
  if (!salt || !want || want->size() != kHashBytes) return false;
  auto got = scrypt(password, *salt, KdfParams{*n, *r, *p});
  return got && constant_time_equal(*got, *want);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view role_name(Role r) { return r == Role::kAdmin ? "admin" : "read-only"; }

std::optional<Role> parse_role(std::string_view s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "read-only") return Role::kReadOnly;
  return std::nullopt;
}

SessionTable::SessionTable(std::int64_t idle_ns, std::size_t max_sessions)
    : idle_ns_(idle_ns), max_sessions_(std::max<std::size_t>(1, max_sessions)) {}

Session SessionTable::create(std::string user, Role role, std::int64_t now_ns) {
  Session s;
  s.id = random_hex(kTokenBytes);
  s.csrf = random_hex(kTokenBytes);
  s.user = std::move(user);
  s.role = role;
  s.last_used_ns = now_ns;
  MutexLock lock(&mu_);
  std::erase_if(sessions_,
                [&](const auto& kv) { return now_ns - kv.second.last_used_ns > idle_ns_; });
  while (sessions_.size() >= max_sessions_) {
    auto oldest = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used_ns < b.second.last_used_ns; });
    sessions_.erase(oldest);
  }
  sessions_.emplace(s.id, s);
  return s;
}

std::optional<Session> SessionTable::find(std::string_view id, std::int64_t now_ns) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end()) return std::nullopt;
  if (now_ns - it->second.last_used_ns > idle_ns_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used_ns = now_ns;
  return it->second;
}

void SessionTable::remove(std::string_view id) {
  MutexLock lock(&mu_);
  sessions_.erase(std::string(id));
}

void SessionTable::remove_user(std::string_view user) {
  MutexLock lock(&mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.user == user; });
}

std::size_t SessionTable::size() const {
  MutexLock lock(&mu_);
  return sessions_.size();
}

bool csrf_ok(const Session& s, std::string_view header_value) {
  return !header_value.empty() && constant_time_equal(s.csrf, header_value);
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view v = pair.substr(eq + 1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      return v;
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

LoginThrottle::LoginThrottle(std::size_t max_failures, std::int64_t window_ns,
                             std::size_t max_addresses)
    : max_failures_(max_failures),
      window_ns_(window_ns),
      max_addresses_(std::max<std::size_t>(1, max_addresses)) {}

bool LoginThrottle::allowed(std::string_view address, std::int64_t now_ns) {
  MutexLock lock(&mu_);
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) return true;
  if (now_ns - it->second.window_start_ns > window_ns_) {
    entries_.erase(it);
    return true;
  }
  return it->second.failures < max_failures_;
}

void LoginThrottle::failed(std::string_view address, std::int64_t now_ns) {
  MutexLock lock(&mu_);
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) {
    if (entries_.size() >= max_addresses_) {
      auto oldest =
          std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
            return a.second.window_start_ns < b.second.window_start_ns;
          });
      entries_.erase(oldest);
    }
    it = entries_.emplace(std::string(address), Entry{0, now_ns}).first;
  } else if (now_ns - it->second.window_start_ns > window_ns_) {
    it->second = Entry{0, now_ns};
  }
  ++it->second.failures;
}

void LoginThrottle::succeeded(std::string_view address) {
  MutexLock lock(&mu_);
  entries_.erase(std::string(address));
}

SeriesRing::SeriesRing(std::size_t capacity) : capacity_(std::max<std::size_t>(1, capacity)) {}

void SeriesRing::push(Sample s) {
  MutexLock lock(&mu_);
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(s));
    return;
  }
  ring_[next_] = std::move(s);
  next_ = (next_ + 1) % capacity_;
}

std::vector<Sample> SeriesRing::snapshot() const {
  MutexLock lock(&mu_);
  std::vector<Sample> out;
  out.reserve(ring_.size());
  for (std::size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(next_ + i) % ring_.size()]);
  return out;
}

TopK::TopK(std::size_t capacity) : capacity_(std::max<std::size_t>(1, capacity)) {}

void TopK::add(std::string_view key) {
  MutexLock lock(&mu_);
  ++total_;
  if (auto it = items_.find(std::string(key)); it != items_.end()) {
    ++it->second.count;
    return;
  }
  if (items_.size() < capacity_) {
    items_.emplace(std::string(key), Item{std::string(key), 1, 0});
    return;
  }
  auto smallest = std::min_element(items_.begin(), items_.end(), [](const auto& a, const auto& b) {
    return a.second.count < b.second.count;
  });
  const std::uint64_t floor = smallest->second.count;
  items_.erase(smallest);
  items_.emplace(std::string(key), Item{std::string(key), floor + 1, floor});
}

std::vector<TopK::Item> TopK::top(std::size_t n) const {
  std::vector<Item> all;
  {
    MutexLock lock(&mu_);
    all.reserve(items_.size());
    for (const auto& kv : items_) all.push_back(kv.second);
  }
  std::sort(all.begin(), all.end(), [](const Item& a, const Item& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (all.size() > n) all.resize(n);
  return all;
}

std::uint64_t TopK::total() const {
  MutexLock lock(&mu_);
  return total_;
}

double bucket_quantile(double q, const std::vector<double>& bounds,
                       const std::vector<std::uint64_t>& counts) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  if (total == 0 || bounds.empty()) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    if (cumulative >= rank) return i < bounds.size() ? bounds[i] : bounds.back();
  }
  return bounds.back();
}

}  // namespace strop::node::console
