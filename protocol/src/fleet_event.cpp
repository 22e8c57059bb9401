// fleet_event.cpp: the fleet event codec (fleet_event.hpp; layout in docs/fleet.md).
#include "protocol/fleet_event.hpp"

#include <bit>
#include <cmath>

#include "base/ascii.hpp"
#include "base/bytes.hpp"

namespace strop::protocol {

namespace {

// Flags of a vote event.
constexpr std::uint8_t kVoteRevoke = 1;
constexpr std::uint8_t kVoteReplay = 2;
constexpr std::uint8_t kVoteKnown = kVoteRevoke | kVoteReplay;
// Flags of an add-reporter event.
constexpr std::uint8_t kAddTrust = 1;
constexpr std::uint8_t kAddPinned = 2;
constexpr std::uint8_t kAddAdmin = 4;
constexpr std::uint8_t kAddOpen = 8;
constexpr std::uint8_t kAddKnown = kAddTrust | kAddPinned | kAddAdmin | kAddOpen;

using Writer = ByteWriter;
using Reader = ByteReader;

Error truncated() { return make_error(Errc::kMalformed, "fleet event truncated"); }
Error too_long(const char* what) {
  return make_error(Errc::kLimitExceeded, std::string("fleet event: ") + what + " too long");
}

bool valid_trust(double t) { return t >= 0.0 && t <= 1.0; }  // false for NaN

// Short strings (u8 length) with a limit; empty allowed only when allow_empty.
Result<std::string> read_short(Reader& r, std::size_t limit, const char* what,
                               bool allow_empty = false) {
  std::uint8_t n = 0;
  if (!r.u8(&n)) return truncated();
  if (n > limit) return too_long(what);
  if (n == 0 && !allow_empty) {
    return make_error(Errc::kMalformed, std::string("fleet event: empty ") + what);
  }
  std::string s;
  if (!r.take(n, &s)) return truncated();
  return s;
}

Result<void> write_short(Writer& w, std::string_view s, std::size_t limit, const char* what) {
  if (s.size() > limit || s.size() > 255) return too_long(what);
  w.bytes8(s);
  return {};
}

Result<void> write_sigs(Writer& w, const std::vector<sigs::Signature>& sigs) {
  if (sigs.size() > kMaxFleetEventSigs) return too_long("signature list");
  w.u16(static_cast<std::uint16_t>(sigs.size()));
  for (const auto& s : sigs) {
    if (s.value.empty()) return make_error(Errc::kInvalidArgument, "empty signature value");
    if (s.value.size() > kMaxFleetSigValue) return too_long("signature value");
    w.u8(static_cast<std::uint8_t>(s.engine));
    w.bytes16(s.value);
  }
  return {};
}

Result<std::vector<sigs::Signature>> read_sigs(Reader& r) {
  std::uint16_t n = 0;
  if (!r.u16(&n)) return truncated();
  std::vector<sigs::Signature> out;
  out.reserve(std::min<std::size_t>(n, 1024));
  for (std::uint16_t i = 0; i < n; ++i) {
    std::uint8_t e = 0;
    std::uint16_t len = 0;
    if (!r.u8(&e) || !r.u16(&len)) return truncated();
    if (!sigs::engine_from_number(e))
      return make_error(Errc::kMalformed, "fleet event: unknown engine");
    if (len == 0) return make_error(Errc::kMalformed, "fleet event: empty signature value");
    if (len > kMaxFleetSigValue) return too_long("signature value");
    sigs::Signature s;
    s.engine = static_cast<sigs::Engine>(e);
    if (!r.take(len, &s.value)) return truncated();
    out.push_back(std::move(s));
  }
  return out;
}

Result<void> encode_write(Writer& w, const FleetVote& v) {
  std::uint8_t flags = 0;
  if (v.revoke) flags |= kVoteRevoke;
  if (v.replay) flags |= kVoteReplay;
  w.u8(flags);
  STROP_TRY(write_short(w, v.reporter, kMaxFleetReporterName, "reporter name"));
  STROP_TRY(write_sigs(w, v.sigs));
  if (v.message_sizes.size() > kMaxFleetEventMessages) return too_long("message list");
  w.u16(static_cast<std::uint16_t>(v.message_sizes.size()));
  for (auto n : v.message_sizes) w.u32(n);
  if (v.replay) {
    STROP_TRY(write_short(w, v.replay->nonce, kMaxFleetNonce, "replay nonce"));
    w.u64(v.replay->expires);
  }
  return {};
}

Result<FleetVote> decode_vote(Reader& r) {
  FleetVote v;
  std::uint8_t flags = 0;
  if (!r.u8(&flags)) return truncated();
  if ((flags & ~kVoteKnown) != 0) return make_error(Errc::kMalformed, "fleet event: vote flags");
  v.revoke = (flags & kVoteRevoke) != 0;
  auto name = read_short(r, kMaxFleetReporterName, "reporter name");
  if (!name) return name.error();
  v.reporter = std::move(*name);
  auto sigs = read_sigs(r);
  if (!sigs) return sigs.error();
  v.sigs = std::move(*sigs);
  std::uint16_t m = 0;
  if (!r.u16(&m)) return truncated();
  if (m > v.sigs.size()) {
    return make_error(Errc::kMalformed, "fleet event: more messages than signatures");
  }
  std::uint64_t total = 0;
  for (std::uint16_t i = 0; i < m; ++i) {
    std::uint32_t n = 0;
    if (!r.u32(&n)) return truncated();
    total += n;
    v.message_sizes.push_back(n);
  }
  if (m > 0 && total != v.sigs.size()) {
    return make_error(Errc::kMalformed, "fleet event: message sizes do not add up");
  }
  if ((flags & kVoteReplay) != 0) {
    auto nonce = read_short(r, kMaxFleetNonce, "replay nonce");
    if (!nonce) return nonce.error();
    FleetVote::Replay rp;
    rp.nonce = std::move(*nonce);
    if (!r.u64(&rp.expires)) return truncated();
    v.replay = std::move(rp);
  }
  return v;
}

Result<void> encode_write(Writer& w, const FleetAddReporter& a) {
  std::uint8_t flags = 0;
  if (a.trust) flags |= kAddTrust;
  if (a.pinned) flags |= kAddPinned;
  if (a.admin) flags |= kAddAdmin;
  if (a.open_registration) flags |= kAddOpen;
  w.u8(flags);
  STROP_TRY(write_short(w, a.name, kMaxFleetReporterName, "reporter name"));
  STROP_TRY(write_short(w, a.secret, kMaxFleetSecret, "secret"));
  if (a.trust) {
    if (!valid_trust(*a.trust)) return make_error(Errc::kInvalidArgument, "trust out of range");
    w.u64(std::bit_cast<std::uint64_t>(*a.trust + 0.0));  // + 0.0: -0.0 becomes 0.0
  }
  return {};
}

Result<double> read_trust(Reader& r) {
  std::uint64_t bits = 0;
  if (!r.u64(&bits)) return truncated();
  double t = std::bit_cast<double>(bits);
  // -0.0 compares equal to 0.0 but has other bits: refuse it so encode(decode(b)) == b.
  if (!valid_trust(t) || std::signbit(t)) {
    return make_error(Errc::kMalformed, "fleet event: trust out of range");
  }
  return t;
}

Result<FleetAddReporter> decode_add(Reader& r) {
  FleetAddReporter a;
  std::uint8_t flags = 0;
  if (!r.u8(&flags)) return truncated();
  if ((flags & ~kAddKnown) != 0) return make_error(Errc::kMalformed, "fleet event: flags");
  a.pinned = (flags & kAddPinned) != 0;
  a.admin = (flags & kAddAdmin) != 0;
  a.open_registration = (flags & kAddOpen) != 0;
  auto name = read_short(r, kMaxFleetReporterName, "reporter name");
  if (!name) return name.error();
  a.name = std::move(*name);
  auto secret = read_short(r, kMaxFleetSecret, "secret");
  if (!secret) return secret.error();
  a.secret = std::move(*secret);
  if ((flags & kAddTrust) != 0) {
    auto t = read_trust(r);
    if (!t) return t.error();
    a.trust = *t;
  }
  return a;
}

Result<void> encode_write(Writer& w, const FleetSetTrust& s) {
  STROP_TRY(write_short(w, s.name, kMaxFleetReporterName, "reporter name"));
  if (!valid_trust(s.trust)) return make_error(Errc::kInvalidArgument, "trust out of range");
  w.u64(std::bit_cast<std::uint64_t>(s.trust + 0.0));
  w.u8(s.pinned ? 1 : 0);
  return {};
}

Result<bool> read_bool(Reader& r) {
  std::uint8_t b = 0;
  if (!r.u8(&b)) return truncated();
  if (b > 1) return make_error(Errc::kMalformed, "fleet event: flag out of range");
  return b == 1;
}

Result<FleetSetTrust> decode_trust(Reader& r) {
  FleetSetTrust s;
  auto name = read_short(r, kMaxFleetReporterName, "reporter name");
  if (!name) return name.error();
  s.name = std::move(*name);
  auto t = read_trust(r);
  if (!t) return t.error();
  s.trust = *t;
  auto p = read_bool(r);
  if (!p) return p.error();
  s.pinned = *p;
  return s;
}

Result<void> encode_write(Writer& w, const FleetSetDisabled& s) {
  STROP_TRY(write_short(w, s.name, kMaxFleetReporterName, "reporter name"));
  w.u8(s.disabled ? 1 : 0);
  return {};
}

Result<FleetSetDisabled> decode_disabled(Reader& r) {
  FleetSetDisabled s;
  auto name = read_short(r, kMaxFleetReporterName, "reporter name");
  if (!name) return name.error();
  s.name = std::move(*name);
  auto d = read_bool(r);
  if (!d) return d.error();
  s.disabled = *d;
  return s;
}

Result<void> encode_write(Writer& w, const FleetSetAllowed& s) {
  w.u8(s.allowed ? 1 : 0);
  return write_sigs(w, s.sigs);
}

Result<FleetSetAllowed> decode_allowed(Reader& r) {
  FleetSetAllowed s;
  auto a = read_bool(r);
  if (!a) return a.error();
  s.allowed = *a;
  auto sigs = read_sigs(r);
  if (!sigs) return sigs.error();
  s.sigs = std::move(*sigs);
  return s;
}

Result<void> encode_write(Writer& w, const FleetDeleteSignatures& s) {
  return write_sigs(w, s.sigs);
}

Result<FleetDeleteSignatures> decode_delete(Reader& r) {
  auto sigs = read_sigs(r);
  if (!sigs) return sigs.error();
  return FleetDeleteSignatures{std::move(*sigs)};
}

// ---- federation events (version 2)

bool valid_site(std::string_view s) { return is_lower_host_name(s, kMaxFeedOrigin); }

Result<void> write_site(Writer& w, std::string_view name) {
  if (!valid_site(name)) {
    return make_error(Errc::kInvalidArgument, "fleet event: peer name must be 1-64 of [a-z0-9.-]");
  }
  w.bytes8(name);
  return {};
}

Result<std::string> read_site(Reader& r) {
  auto name = read_short(r, kMaxFeedOrigin, "peer name");
  if (!name) return name.error();
  if (!valid_site(*name)) return make_error(Errc::kMalformed, "fleet event: peer name");
  return name;
}

// Checks a batch's shape: the entries as the feed decoder would take them, sequences
// strictly increasing above `after`, the cursor the last one's (or `after`).
const char* batch_problem(const FleetPeerBatch& b) {
  if (b.entries.size() > kMaxFleetPeerEntries) return "too many entries";
  std::uint64_t last = b.after;
  for (const auto& e : b.entries) {
    if (const char* p = feed_entry_problem(e)) return p;
    if (e.seq <= last) return "entry sequences do not increase above the cursor";
    last = e.seq;
  }
  if (b.cursor != last) return "cursor is not the last entry's sequence";
  return nullptr;
}

Result<void> encode_write(Writer& w, const FleetPeerBatch& b) {
  if (b.entries.size() > kMaxFleetPeerEntries) return too_long("peer batch");
  if (const char* p = batch_problem(b)) {
    return make_error(Errc::kInvalidArgument, std::string("fleet event: peer batch: ") + p);
  }
  STROP_TRY(write_site(w, b.peer));
  w.u64(b.after);
  w.u64(b.cursor);
  w.u16(static_cast<std::uint16_t>(b.entries.size()));
  for (const auto& e : b.entries) write_feed_entry(w, e);  // the strop-feed/1 layout
  return {};
}

Result<FleetPeerBatch> decode_peer_batch(Reader& r) {
  FleetPeerBatch b;
  auto peer = read_site(r);
  if (!peer) return peer.error();
  b.peer = std::move(*peer);
  std::uint16_t n = 0;
  if (!r.u64(&b.after) || !r.u64(&b.cursor) || !r.u16(&n)) return truncated();
  if (n > kMaxFleetPeerEntries) return too_long("peer batch");
  b.entries.reserve(n);
  for (std::uint16_t i = 0; i < n; ++i) {
    FeedWireEntry e;
    if (const char* p = read_feed_entry(r, &e)) {
      return make_error(Errc::kMalformed, std::string("fleet event: peer batch entry: ") + p);
    }
    b.entries.push_back(std::move(e));
  }
  if (const char* p = batch_problem(b)) {
    return make_error(Errc::kMalformed, std::string("fleet event: peer batch: ") + p);
  }
  return b;
}

Result<void> encode_write(Writer& w, const FleetAddPeer& a) {
  STROP_TRY(write_site(w, a.name));
  if (a.url.empty()) return make_error(Errc::kInvalidArgument, "fleet event: empty peer url");
  if (a.url.size() > kMaxFleetPeerUrl) return too_long("peer url");
  w.bytes16(a.url);
  if (a.secret.empty()) return make_error(Errc::kInvalidArgument, "fleet event: empty secret");
  STROP_TRY(write_short(w, a.secret, kMaxFleetSecret, "secret"));
  if (!valid_trust(a.trust)) return make_error(Errc::kInvalidArgument, "trust out of range");
  w.u64(std::bit_cast<std::uint64_t>(a.trust + 0.0));
  return {};
}

Result<FleetAddPeer> decode_add_peer(Reader& r) {
  FleetAddPeer a;
  auto name = read_site(r);
  if (!name) return name.error();
  a.name = std::move(*name);
  std::uint16_t n = 0;
  if (!r.u16(&n)) return truncated();
  if (n == 0) return make_error(Errc::kMalformed, "fleet event: empty peer url");
  if (n > kMaxFleetPeerUrl) return too_long("peer url");
  if (!r.take(n, &a.url)) return truncated();
  auto secret = read_short(r, kMaxFleetSecret, "secret");
  if (!secret) return secret.error();
  a.secret = std::move(*secret);
  auto t = read_trust(r);
  if (!t) return t.error();
  a.trust = *t;
  return a;
}

Result<void> encode_write(Writer& w, const FleetRemovePeer& p) { return write_site(w, p.name); }

Result<FleetRemovePeer> decode_remove_peer(Reader& r) {
  auto name = read_site(r);
  if (!name) return name.error();
  return FleetRemovePeer{std::move(*name)};
}

// ---- activity events (version 3)

Result<void> encode_write(Writer& w, const FleetTouch& t) {
  if (t.sigs.empty()) return make_error(Errc::kInvalidArgument, "fleet event: empty touch");
  if (t.sigs.size() > kMaxFleetTouchSigs) return too_long("touch");
  return write_sigs(w, t.sigs);
}

Result<FleetTouch> decode_touch(Reader& r) {
  auto sigs = read_sigs(r);
  if (!sigs) return sigs.error();
  if (sigs->empty()) return make_error(Errc::kMalformed, "fleet event: empty touch");
  if (sigs->size() > kMaxFleetTouchSigs) return too_long("touch");
  return FleetTouch{std::move(*sigs)};
}

Result<void> encode_write(Writer& w, const FleetExpire& x) {
  if (x.limit == 0 || x.limit > kMaxFleetExpireLimit) {
    return make_error(Errc::kInvalidArgument, "fleet event: expire limit out of range");
  }
  w.u64(x.cutoff);
  w.u32(x.limit);
  return {};
}

Result<FleetExpire> decode_expire(Reader& r) {
  FleetExpire x;
  if (!r.u64(&x.cutoff) || !r.u32(&x.limit)) return truncated();
  if (x.limit == 0) return make_error(Errc::kMalformed, "fleet event: expire limit 0");
  if (x.limit > kMaxFleetExpireLimit) return too_long("expire limit");
  return x;
}

std::uint8_t version_of(FleetEventType t) {
  if (t >= FleetEventType::kTouch) return kFleetEventVersionActivity;
  return t >= FleetEventType::kPeerBatch ? kFleetEventVersionPeers : kFleetEventVersion;
}

template <class T>
Result<FleetWrite> widen(Result<T> r) {
  if (!r) return r.error();
  return FleetWrite(std::move(*r));
}

}  // namespace

FleetEventType fleet_event_type(const FleetEvent& e) {
  return static_cast<FleetEventType>(e.write.index() + 1);
}

Result<std::string> encode_fleet_event(const FleetEvent& e) {
  Writer w;
  w.u8(kFleetEventMagic0);
  w.u8(kFleetEventMagic1);
  w.u8(version_of(fleet_event_type(e)));
  w.u8(static_cast<std::uint8_t>(fleet_event_type(e)));
  if (e.origin.empty()) return make_error(Errc::kInvalidArgument, "fleet event: empty origin");
  STROP_TRY(write_short(w, e.origin, kMaxFleetOrigin, "origin"));
  w.u64(e.request);
  w.u64(e.time);
  Result<void> body = std::visit([&w](const auto& v) { return encode_write(w, v); }, e.write);
  if (!body) return body.error();
  if (w.out().size() > kMaxFleetEventBytes) return too_long("event");
  return std::move(w.out());
}

Result<FleetEvent> decode_fleet_event(std::string_view bytes) {
  if (bytes.size() > kMaxFleetEventBytes) return too_long("event");
  Reader r(bytes);
  std::uint8_t m0 = 0, m1 = 0, version = 0, type = 0;
  if (!r.u8(&m0) || !r.u8(&m1) || !r.u8(&version) || !r.u8(&type)) return truncated();
  if (m0 != kFleetEventMagic0 || m1 != kFleetEventMagic1) {
    return make_error(Errc::kMalformed, "not a fleet event (bad magic)");
  }
  if (version == 0 || version > kFleetEventVersionActivity) {
    return make_error(Errc::kInvalidArgument, "fleet event version " + std::to_string(version) +
                                                  " is not supported by this node (version " +
                                                  std::to_string(kFleetEventVersionActivity) +
                                                  "): upgrade it");
  }
  if (type >= 1 && type <= static_cast<std::uint8_t>(FleetEventType::kExpire) &&
      version != version_of(static_cast<FleetEventType>(type))) {
    return make_error(Errc::kMalformed, "fleet event: type under the wrong version");
  }
  FleetEvent e;
  auto origin = read_short(r, kMaxFleetOrigin, "origin");
  if (!origin) return origin.error();
  e.origin = std::move(*origin);
  if (!r.u64(&e.request) || !r.u64(&e.time)) return truncated();
  Result<FleetWrite> w = make_error(Errc::kMalformed, "fleet event: unknown type");
  switch (static_cast<FleetEventType>(type)) {
    case FleetEventType::kVote: w = widen(decode_vote(r)); break;
    case FleetEventType::kAddReporter: w = widen(decode_add(r)); break;
    case FleetEventType::kSetTrust: w = widen(decode_trust(r)); break;
    case FleetEventType::kSetDisabled: w = widen(decode_disabled(r)); break;
    case FleetEventType::kSetAllowed: w = widen(decode_allowed(r)); break;
    case FleetEventType::kDeleteSignatures: w = widen(decode_delete(r)); break;
    case FleetEventType::kPeerBatch: w = widen(decode_peer_batch(r)); break;
    case FleetEventType::kAddPeer: w = widen(decode_add_peer(r)); break;
    case FleetEventType::kRemovePeer: w = widen(decode_remove_peer(r)); break;
    case FleetEventType::kTouch: w = widen(decode_touch(r)); break;
    case FleetEventType::kExpire: w = widen(decode_expire(r)); break;
  }
  if (!w) return w.error();
  if (!r.done()) return make_error(Errc::kMalformed, "fleet event: trailing bytes");
  e.write = std::move(*w);
  return e;
}

Result<std::string> encode_fleet_beat(const FleetBeat& b) {
  if (b.origin.empty()) return make_error(Errc::kInvalidArgument, "fleet beat: empty origin");
  Writer w;
  w.raw(kFleetBeatMagic);
  STROP_TRY(write_short(w, b.origin, kMaxFleetOrigin, "origin"));
  w.u64(b.applied);
  w.u64(b.head);
  return std::move(w.out());
}

Result<FleetBeat> decode_fleet_beat(std::string_view bytes) {
  if (bytes.size() > kMaxFleetBeat) return make_error(Errc::kLimitExceeded, "fleet beat: too long");
  if (!bytes.starts_with(kFleetBeatMagic))
    return make_error(Errc::kMalformed, "fleet beat: bad magic");
  Reader r(bytes.substr(kFleetBeatMagic.size()));
  FleetBeat b;
  auto origin = read_short(r, kMaxFleetOrigin, "origin");
  if (!origin) return origin.error();
  b.origin = std::move(*origin);
  for (char c : b.origin) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return make_error(Errc::kMalformed, "fleet beat: origin outside [A-Za-z0-9._-]");
  }
  if (!r.u64(&b.applied) || !r.u64(&b.head)) return truncated();
  if (!r.done()) return make_error(Errc::kMalformed, "fleet beat: trailing bytes");
  return b;
}

}  // namespace strop::protocol
