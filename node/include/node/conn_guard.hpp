// conn_guard.hpp: per-address connection accounting shared by strop-node's TCP listeners
// (the HTTP API server and the Razor2 listener), so that one client address cannot take
// every connection slot or hold unbounded memory in unfinished requests.
//
// A ConnGuard admits a new connection (admit()) only if
//   - fewer than max_connections slots are taken (kUnavailable otherwise);
//   - its address holds fewer than max_per_address connections (kLimitExceeded);
//   - its address holds no connection yet, or fewer than max_connections - reserved slots
//     are taken: the last `reserved` slots are kept for addresses not yet connected
//     (kLimitExceeded).
// An admitted connection gets a Slot (RAII, released when destroyed) through which it
// declares the bytes it holds for an unfinished request (Slot::hold): an address may hold
// at most max_held_bytes_per_address in total, except that an address holding nothing else
// may always hold one request (bounded by the listener's own request limit).
//
// Addresses are aggregated by AddressKey: IPv4 per address (an IPv4-mapped IPv6 address is
// the same key as the IPv4 address), IPv6 per /64 (one host or site usually owns a whole
// /64, so per-address limits over full IPv6 addresses would be free to evade).
//
// Pure accounting: no sockets, no clock (the deadlines are the listeners' own); memory is
// one entry per address with an open connection, so at most max_connections entries. Thread-safety:
// admit(), the counters and every Slot method are safe for concurrent use (one mutex, held for a
// hash lookup). A Slot itself is used by one connection at a time. Lifetime: the ConnGuard must
// outlive every Slot it handed out.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/result.hpp"

namespace strop::node {

// A client's accounting key: 16 bytes, IPv4 as ::ffff:a.b.c.d, IPv6 with the low 64 bits
// zeroed.
struct AddressKey {
  std::array<std::uint8_t, 16> bytes{};

  bool operator==(const AddressKey&) const = default;
  // "192.0.2.7" or "2001:db8:1:2::/64".
  std::string to_string() const;
};

// The key of `address` (see above).
AddressKey address_key(const boost::asio::ip::address& address);

struct ConnLimits {
  // Concurrent connections. Default: 1024.
  std::size_t max_connections = 1024;
  // Concurrent connections per AddressKey. Default: 64.
  std::size_t max_per_address = 64;
  // Slots that only an address with no open connection may take. At most a quarter of
  // max_connections is kept (a larger value is capped). Default: 128.
  std::size_t reserved = 128;
  // Bytes of unfinished requests held per AddressKey (see Slot::hold). Default: 8 MiB.
  std::size_t max_held_bytes_per_address = 8u << 20;
};

class ConnGuard {
 public:
  explicit ConnGuard(ConnLimits limits);
  ConnGuard(const ConnGuard&) = delete;
  ConnGuard& operator=(const ConnGuard&) = delete;

  // One admitted connection. Move-only; destroying (or moving from) it gives the slot and
  // its held bytes back.
  class Slot {
   public:
    Slot() = default;
    ~Slot();
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    // Sets the bytes this connection holds for its unfinished request to `bytes`.
    // Shrinking always succeeds. Growing fails (returns false, nothing changes) when the
    // address would then hold more than max_held_bytes_per_address while another of its
    // connections holds bytes too. REQUIRES: an admitted slot (not default-constructed).
    [[nodiscard]] bool hold(std::size_t bytes);
    std::size_t held() const { return held_; }
    const AddressKey& key() const { return key_; }

   private:
    friend class ConnGuard;
    Slot(ConnGuard* guard, const AddressKey& key) : guard_(guard), key_(key) {}
    void release();

    ConnGuard* guard_ = nullptr;
    AddressKey key_;
    std::size_t held_ = 0;
  };

  // Admits a connection from `key`, or says which limit refused it: kUnavailable (every
  // slot taken) or kLimitExceeded (the address's cap, or the reserved slots).
  Result<Slot> admit(const AddressKey& key);

  // The limits in force (reserved already capped).
  const ConnLimits& limits() const { return limits_; }
  // Open connections in total / of `key`; bytes held in total / by `key`.
  std::size_t connections() const;
  std::size_t connections(const AddressKey& key) const;
  std::size_t held_bytes() const;
  std::size_t held_bytes(const AddressKey& key) const;
  // Addresses with at least one open connection.
  std::size_t addresses() const;

 private:
  // Seeded per guard, so that peers choosing many IPv6 /64s cannot aim at one bucket.
  struct Hash {
    std::uint64_t seed = 0;
    std::size_t operator()(const AddressKey& k) const noexcept;
  };
  struct Entry {
    std::size_t connections = 0;
    std::size_t held = 0;
  };

  ConnLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<AddressKey, Entry, Hash> entries_;  // GUARDED_BY(mu_)
  std::size_t connections_ = 0;                          // GUARDED_BY(mu_)
  std::size_t held_ = 0;                                 // GUARDED_BY(mu_)
};

}  // namespace strop::node
