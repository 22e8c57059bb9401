// conn_guard.cpp: per-address connection accounting (conn_guard.hpp).
#include "node/conn_guard.hpp"

#include <algorithm>
#include <cstring>
#include <random>

namespace strop::node {

std::string AddressKey::to_string() const {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMapped, sizeof kMapped) == 0) {
    return std::to_string(bytes[12]) + "." + std::to_string(bytes[13]) + "." +
           std::to_string(bytes[14]) + "." + std::to_string(bytes[15]);
  }
  boost::asio::ip::address_v6::bytes_type b{};
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return boost::asio::ip::address_v6(b).to_string() + "/64";
}

AddressKey address_key(const boost::asio::ip::address& address) {
  AddressKey k;
  if (address.is_v4()) {
    auto v4 = address.to_v4().to_bytes();
    k.bytes[10] = 0xff;
    k.bytes[11] = 0xff;
    std::copy(v4.begin(), v4.end(), k.bytes.begin() + 12);
    return k;
  }
  auto v6 = address.to_v6();
  auto b = v6.to_bytes();
  std::copy(b.begin(), b.end(), k.bytes.begin());
  // IPv4-mapped: the IPv4 key (all 16 bytes). Any other IPv6 address: its /64.
  if (!v6.is_v4_mapped()) std::fill(k.bytes.begin() + 8, k.bytes.end(), std::uint8_t{0});
  return k;
}

std::size_t ConnGuard::Hash::operator()(const AddressKey& k) const noexcept {
  // FNV-1a over the seed and the 16 bytes, then a final mix (splitmix64) so that the seed
  // changes every bucket, not only the low bits.
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (auto b : k.bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<std::size_t>(h);
}

ConnGuard::ConnGuard(ConnLimits limits)
    : limits_(limits),
      entries_(64, Hash{(std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()}) {
  limits_.reserved = std::min(limits_.reserved, limits_.max_connections / 4);
}

Result<ConnGuard::Slot> ConnGuard::admit(const AddressKey& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  std::size_t mine = it == entries_.end() ? 0 : it->second.connections;
  if (connections_ >= limits_.max_connections) {
    return make_error(Errc::kUnavailable, "all " + std::to_string(limits_.max_connections) +
                                              " connection slots are taken");
  }
  if (mine >= limits_.max_per_address) {
    return make_error(Errc::kLimitExceeded, key.to_string() + " already holds " +
                                                std::to_string(mine) +
                                                " connections (the per-address limit)");
  }
  if (mine > 0 && connections_ >= limits_.max_connections - limits_.reserved) {
    return make_error(Errc::kLimitExceeded,
                      "the last " + std::to_string(limits_.reserved) +
                          " connection slots are kept for addresses not yet connected");
  }
  if (it == entries_.end()) it = entries_.emplace(key, Entry{}).first;
  ++it->second.connections;
  ++connections_;
  return Slot(this, key);
}

std::size_t ConnGuard::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

std::size_t ConnGuard::connections(const AddressKey& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.connections;
}

std::size_t ConnGuard::held_bytes() const {
  std::lock_guard lock(mu_);
  return held_;
}

std::size_t ConnGuard::held_bytes(const AddressKey& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.held;
}

std::size_t ConnGuard::addresses() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

ConnGuard::Slot::~Slot() { release(); }

ConnGuard::Slot::Slot(Slot&& other) noexcept
    : guard_(other.guard_), key_(other.key_), held_(other.held_) {
  other.guard_ = nullptr;
  other.held_ = 0;
}

ConnGuard::Slot& ConnGuard::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    guard_ = other.guard_;
    key_ = other.key_;
    held_ = other.held_;
    other.guard_ = nullptr;
    other.held_ = 0;
  }
  return *this;
}

void ConnGuard::Slot::release() {
  if (!guard_) return;
  std::lock_guard lock(guard_->mu_);
  auto it = guard_->entries_.find(key_);
  if (it != guard_->entries_.end()) {
    it->second.held -= held_;
    guard_->held_ -= held_;
    --guard_->connections_;
    if (--it->second.connections == 0) guard_->entries_.erase(it);
  }
  guard_ = nullptr;
  held_ = 0;
}

bool ConnGuard::Slot::hold(std::size_t bytes) {
  if (!guard_) return false;
  std::lock_guard lock(guard_->mu_);
  auto it = guard_->entries_.find(key_);
  if (it == guard_->entries_.end()) return false;  // unreachable: our own connection keeps it
  Entry& e = it->second;
  if (bytes <= held_) {
    e.held -= held_ - bytes;
    guard_->held_ -= held_ - bytes;
    held_ = bytes;
    return true;
  }
  std::size_t grow = bytes - held_;
  std::size_t others = e.held - held_;
  if (others > 0 && e.held + grow > guard_->limits_.max_held_bytes_per_address) return false;
  e.held += grow;
  guard_->held_ += grow;
  held_ = bytes;
  return true;
}

}  // namespace strop::node
