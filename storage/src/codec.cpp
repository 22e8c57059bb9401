#include "codec.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace strop::storage::codec {

namespace {
struct HexTable {
  std::array<std::int8_t, 256> v{};
  constexpr HexTable() {
    for (auto& x : v) x = -1;
    for (std::size_t i = 0; i < 10; ++i) v['0' + i] = static_cast<std::int8_t>(i);
    for (std::size_t i = 0; i < 6; ++i) v['a' + i] = static_cast<std::int8_t>(10 + i);
  }
};
constexpr HexTable kHex;
constexpr std::size_t kFuzzyChars = sigs::kFuzzyHashes * 8;
}  // namespace

std::optional<sigs::FuzzyHashes> decode_fuzzy(std::string_view value) {
  if (value.size() != kFuzzyChars) return std::nullopt;
  sigs::FuzzyHashes h{};
  int bad = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(sigs::kFuzzyHashes); ++i) {
    std::uint32_t x = 0;
    for (std::size_t j = 0; j < 8; ++j) {
      std::int8_t d = kHex.v[static_cast<unsigned char>(value[i * 8 + j])];
      bad |= d;  // any -1 sets the sign bit
      x = (x << 4) | static_cast<std::uint32_t>(d & 0xf);
    }
    h[i] = x;
  }
  if (bad < 0) return std::nullopt;
  return h;
}

int fuzzy_equal_positions_text(std::string_view a, std::string_view b) {
  if (a.size() != kFuzzyChars || b.size() != kFuzzyChars) return -1;
  int n = 0;
  for (std::size_t i = 0; i < kFuzzyChars; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    n += x == y;
  }
  return n;
}

SigIdKey sig_id_key(SigId id) {
  SigIdKey k;
  put_u32(k.data(), id);
  return k;
}

std::uint64_t exact_key64(sigs::Engine engine, std::string_view value) {
  return XXH3_64bits_withSeed(value.data(), value.size(), static_cast<XXH64_hash_t>(engine));
}

VoteKey vote_key(SigId sig, std::uint32_t reporter) {
  VoteKey k;
  put_u32(k.data(), sig);
  put_u32(k.data() + 4, reporter);
  return k;
}

ActivityKey activity_key(std::uint64_t time, SigId sig) {
  ActivityKey k;
  put_u64(k.data(), time);
  put_u32(k.data() + 8, sig);
  return k;
}

ReporterKey reporter_key(std::uint32_t id) {
  ReporterKey k;
  put_u32(k.data(), id);
  return k;
}

AllowKey allow_key(sigs::Engine engine, std::string_view value) {
  XXH128_hash_t h = XXH3_128bits(value.data(), value.size());
  AllowKey k;
  k[0] = static_cast<char>(engine);
  put_u64(k.data() + 1, h.high64);
  put_u64(k.data() + 9, h.low64);
  return k;
}

std::string encode_allow(std::uint64_t since, std::string_view value) {
  std::string out(kAllowHeader, '\0');
  out[0] = static_cast<char>(kValueVersion);
  put_u64(out.data() + 1, since);
  out.append(value);
  return out;
}

std::optional<AllowRecord> decode_allow(std::string_view v) {
  if (v.size() <= kAllowHeader || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  return AllowRecord{get_u64(v.data() + 1), std::string(v.substr(kAllowHeader))};
}

std::string encode_id(std::uint32_t id) { return encode_u32(id); }
std::optional<std::uint32_t> decode_id(std::string_view v) { return decode_u32(v); }

std::string encode_sig(const SigRecord& r) {
  std::string out(kSigHeader + r.value.size(), '\0');
  char* p = out.data();
  p[0] = static_cast<char>(kValueVersion);
  p[1] = static_cast<char>(r.engine);
  put_u16(p + 2, r.flags);
  put_u64(p + 4, r.first_seen);
  put_u64(p + 12, r.last_vote);
  put_u64(p + 20, r.last_hit);
  put_u32(p + 28, r.reports);
  put_u32(p + 32, r.revokes);
  out.replace(kSigHeader, r.value.size(), r.value);
  return out;
}

std::optional<SigRecord> decode_sig(std::string_view v) {
  if (v.size() <= kSigHeader || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  const char* p = v.data();
  SigRecord r;
  r.engine = static_cast<sigs::Engine>(static_cast<std::uint8_t>(p[1]));
  r.flags = get_u16(p + 2);
  r.first_seen = get_u64(p + 4);
  r.last_vote = get_u64(p + 12);
  r.last_hit = get_u64(p + 20);
  r.reports = get_u32(p + 28);
  r.revokes = get_u32(p + 32);
  r.value.assign(v.substr(kSigHeader));
  return r;
}

std::optional<SigPeek> peek_sig(std::string_view v) {
  if (v.size() <= kSigHeader || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  return SigPeek{static_cast<sigs::Engine>(static_cast<std::uint8_t>(v[1])), get_u64(v.data() + 4),
                 get_u64(v.data() + 20), v.substr(kSigHeader)};
}

std::string encode_vote(const VoteRecord& r) {
  std::string out(kVoteSize, '\0');
  out[0] = static_cast<char>(kValueVersion);
  out[1] = static_cast<char>(r.kind);
  out[2] = static_cast<char>(r.flags);
  out[3] = static_cast<char>(r.hop);
  put_u64(out.data() + 4, r.time);
  return out;
}

std::optional<VoteRecord> decode_vote(std::string_view v) {
  if (v.size() != kVoteSize || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  auto kind = static_cast<std::uint8_t>(v[1]);
  if (kind < 1 || kind > 3) return std::nullopt;
  VoteRecord r;
  r.kind = static_cast<VoteKind>(kind);
  r.flags = static_cast<std::uint8_t>(v[2]);
  r.hop = static_cast<std::uint8_t>(v[3]);
  r.time = get_u64(v.data() + 4);
  return r;
}

std::string encode_reporter(const ReporterRecord& r) {
  std::string out(kReporterHeader, '\0');
  char* p = out.data();
  p[0] = static_cast<char>(kValueVersion);
  p[1] = static_cast<char>(r.flags);
  put_u16(p + 2, r.trust);
  put_u16(p + 4, r.base);
  // p[6..7] reserved
  put_u64(p + 8, r.created);
  put_u64(p + 16, r.last_active);
  put_u64(p + 24, r.reports);
  put_u64(p + 32, r.revokes);
  put_u64(p + 40, r.good);
  put_u64(p + 48, r.bad);
  put_u32(p + 56, r.corroborated);
  put_u32(p + 60, r.contradicted);
  out += static_cast<char>(r.name.size());
  out += r.name;
  out += static_cast<char>(r.secret.size());
  out += r.secret;
  bool any = false;
  for (const auto& e : r.credits) any = any || e.judge != 0;
  if (any) {
    std::size_t at = out.size();
    out.resize(at + kReporterCreditsSize);
    for (const auto& e : r.credits) {
      put_u32(out.data() + at, e.judge);
      put_u32(out.data() + at + 4, e.day);
      at += 8;
    }
  }
  return out;
}

std::optional<ReporterRecord> decode_reporter(std::string_view v) {
  if (v.size() < kReporterHeader + 2 || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  const char* p = v.data();
  ReporterRecord r;
  r.flags = static_cast<std::uint8_t>(p[1]);
  r.trust = get_u16(p + 2);
  r.base = get_u16(p + 4);
  r.created = get_u64(p + 8);
  r.last_active = get_u64(p + 16);
  r.reports = get_u64(p + 24);
  r.revokes = get_u64(p + 32);
  r.good = get_u64(p + 40);
  r.bad = get_u64(p + 48);
  r.corroborated = get_u32(p + 56);
  r.contradicted = get_u32(p + 60);
  std::size_t pos = kReporterHeader;
  std::size_t name_len = static_cast<unsigned char>(v[pos++]);
  if (pos + name_len + 1 > v.size()) return std::nullopt;
  r.name.assign(v.substr(pos, name_len));
  pos += name_len;
  std::size_t secret_len = static_cast<unsigned char>(v[pos++]);
  if (pos + secret_len > v.size()) return std::nullopt;
  r.secret.assign(v.substr(pos, secret_len));
  pos += secret_len;
  if (pos == v.size()) return r;  // no credit log (never credited, or an older record)
  if (v.size() - pos != kReporterCreditsSize) return std::nullopt;
  for (auto& e : r.credits) {
    e.judge = get_u32(v.data() + pos);
    e.day = get_u32(v.data() + pos + 4);
    pos += 8;
  }
  return r;
}

std::string encode_counts(const Counts& c) {
  std::string out(1 + 8 * 10, '\0');
  out[0] = static_cast<char>(kValueVersion);
  for (std::size_t i = 0; i < 8; ++i) put_u64(out.data() + 1 + 8 * i, c.by_engine[i]);
  put_u64(out.data() + 1 + 64, c.votes);
  put_u64(out.data() + 1 + 72, c.reporters);
  return out;
}

std::optional<Counts> decode_counts(std::string_view v) {
  if (v.size() != 1 + 8 * 10 || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  Counts c;
  for (std::size_t i = 0; i < 8; ++i) c.by_engine[i] = get_u64(v.data() + 1 + 8 * i);
  c.votes = get_u64(v.data() + 1 + 64);
  c.reporters = get_u64(v.data() + 1 + 72);
  return c;
}

namespace {

// A fixed-width integer value: the value-format version byte, then the integer big-endian.
template <class Int, void (*Put)(char*, Int)>
std::string encode_versioned(Int v) {
  std::string out(1 + sizeof(Int), '\0');
  out[0] = static_cast<char>(kValueVersion);
  Put(out.data() + 1, v);
  return out;
}

template <class Int, Int (*Get)(const char*)>
std::optional<Int> decode_versioned(std::string_view v) {
  if (v.size() != 1 + sizeof(Int) || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  return Get(v.data() + 1);
}

}  // namespace

std::string encode_u32(std::uint32_t v) { return encode_versioned<std::uint32_t, put_u32>(v); }
std::optional<std::uint32_t> decode_u32(std::string_view v) {
  return decode_versioned<std::uint32_t, get_u32>(v);
}
std::string encode_u64(std::uint64_t v) { return encode_versioned<std::uint64_t, put_u64>(v); }
std::optional<std::uint64_t> decode_u64(std::string_view v) {
  return decode_versioned<std::uint64_t, get_u64>(v);
}

std::string replay_key(std::uint32_t reporter, std::string_view nonce) {
  std::string k(4 + nonce.size(), '\0');
  put_u32(k.data(), reporter);
  std::copy(nonce.begin(), nonce.end(), k.begin() + 4);
  return k;
}

std::string replay_expiry_key(std::uint64_t expires, std::uint32_t reporter,
                              std::string_view nonce) {
  std::string k(12 + nonce.size(), '\0');
  put_u64(k.data(), expires);
  put_u32(k.data() + 8, reporter);
  std::copy(nonce.begin(), nonce.end(), k.begin() + 12);
  return k;
}

// ---- federation

std::string encode_peer(const PeerRecord& r) {
  std::string out(kPeerHeader, '\0');
  out[0] = static_cast<char>(kValueVersion);
  put_u64(out.data() + 2, r.cursor);
  put_u64(out.data() + 10, r.last_success);
  put_u64(out.data() + 18, r.applied);
  out.append(r.url);
  return out;
}

std::optional<PeerRecord> decode_peer(std::string_view v) {
  if (v.size() < kPeerHeader || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  PeerRecord r;
  r.cursor = get_u64(v.data() + 2);
  r.last_success = get_u64(v.data() + 10);
  r.applied = get_u64(v.data() + 18);
  r.url.assign(v.substr(kPeerHeader));
  return r;
}

SeqKey seq_key(std::uint64_t seq) {
  SeqKey k;
  put_u64(k.data(), seq);
  return k;
}

std::string encode_feed(const FeedRecord& r) {
  std::string out(kFeedHeader, '\0');
  out[0] = static_cast<char>(kValueVersion);
  out[1] = static_cast<char>(r.listed ? 1 : 2);
  out[2] = static_cast<char>(r.engine);
  out[3] = static_cast<char>(r.hop);
  out[4] = static_cast<char>(r.confidence);
  put_u32(out.data() + 5, r.sig);
  put_u64(out.data() + 9, r.version);
  out.push_back(static_cast<char>(r.origin.size()));
  out.append(r.origin);
  out.append(r.value);
  return out;
}

std::optional<FeedRecord> decode_feed(std::string_view v) {
  if (v.size() < kFeedHeader + 1 || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  FeedRecord r;
  auto state = static_cast<std::uint8_t>(v[1]);
  auto engine = static_cast<std::uint8_t>(v[2]);
  if ((state != 1 && state != 2) || !sigs::engine_from_number(engine)) return std::nullopt;
  r.listed = state == 1;
  r.engine = static_cast<sigs::Engine>(engine);
  r.hop = static_cast<std::uint8_t>(v[3]);
  r.confidence = static_cast<std::uint8_t>(v[4]);
  r.sig = get_u32(v.data() + 5);
  r.version = get_u64(v.data() + 9);
  std::size_t n = static_cast<std::uint8_t>(v[kFeedHeader]);
  if (v.size() < kFeedHeader + 1 + n) return std::nullopt;
  r.origin.assign(v.substr(kFeedHeader + 1, n));
  r.value.assign(v.substr(kFeedHeader + 1 + n));
  return r;
}

std::string encode_peer_entry(const PeerEntryRecord& r) {
  std::string out(kPeerEntryHeader, '\0');
  out[0] = static_cast<char>(kValueVersion);
  out[1] = static_cast<char>(r.listed ? 1 : 2);
  out[2] = static_cast<char>(r.hop);
  out[3] = static_cast<char>(r.confidence);
  put_u64(out.data() + 4, r.version);
  out.push_back(static_cast<char>(r.origin.size()));
  out.append(r.origin);
  return out;
}

std::optional<PeerEntryRecord> decode_peer_entry(std::string_view v) {
  if (v.size() < kPeerEntryHeader + 1 || static_cast<std::uint8_t>(v[0]) != kValueVersion) {
    return std::nullopt;
  }
  auto state = static_cast<std::uint8_t>(v[1]);
  std::size_t n = static_cast<std::uint8_t>(v[kPeerEntryHeader]);
  if ((state != 1 && state != 2) || v.size() != kPeerEntryHeader + 1 + n) return std::nullopt;
  PeerEntryRecord r;
  r.listed = state == 1;
  r.hop = static_cast<std::uint8_t>(v[2]);
  r.confidence = static_cast<std::uint8_t>(v[3]);
  r.version = get_u64(v.data() + 4);
  r.origin.assign(v.substr(kPeerEntryHeader + 1));
  return r;
}

OriginKey origin_key(SigId sig, std::string_view origin) {
  OriginKey k;
  put_u32(k.data(), sig);
  put_u64(k.data() + 4, XXH3_64bits(origin.data(), origin.size()));
  return k;
}

std::string encode_origin(const OriginRecord& r) {
  std::string out(10, '\0');
  out[0] = static_cast<char>(kValueVersion);
  out[1] = static_cast<char>(r.listed ? 1 : 2);
  put_u64(out.data() + 2, r.version);
  out.append(r.origin);
  return out;
}

std::optional<OriginRecord> decode_origin(std::string_view v) {
  if (v.size() < 11 || static_cast<std::uint8_t>(v[0]) != kValueVersion) return std::nullopt;
  auto state = static_cast<std::uint8_t>(v[1]);
  if (state != 1 && state != 2) return std::nullopt;
  OriginRecord r;
  r.listed = state == 1;
  r.version = get_u64(v.data() + 2);
  r.origin.assign(v.substr(10));
  return r;
}

}  // namespace strop::storage::codec
