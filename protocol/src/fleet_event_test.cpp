#include "protocol/fleet_event.hpp"

#include <gtest/gtest.h>

namespace strop::protocol {
namespace {

sigs::Signature sig(std::string_view text) {
  auto s = sigs::parse_signature(text);
  EXPECT_TRUE(s.ok()) << text;
  return *s;
}

FleetEvent base_event(FleetWrite w) {
  FleetEvent e;
  e.origin = "node-a.1f2e";
  e.request = 42;
  e.time = 1764900000;
  e.write = std::move(w);
  return e;
}

void expect_round_trip(const FleetEvent& e) {
  auto bytes = encode_fleet_event(e);
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  auto back = decode_fleet_event(*bytes);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(*back, e);
  auto again = encode_fleet_event(*back);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

TEST(FleetEvent, VoteRoundTrip) {
  FleetVote v;
  v.reporter = "postmaster";
  v.sigs = {sig("body/1:00112233445566778899aabbccddeeff"),
            sig("pyzor:0123456789abcdef0123456789abcdef01234567"),
            sig("razor-e4:AbCdEfGhIjKlMnOpQrStUvWxYz0-")};
  v.message_sizes = {2, 1};
  v.replay = FleetVote::Replay{"nonce-1", 1764900300};
  expect_round_trip(base_event(v));
  v.revoke = true;
  v.replay.reset();
  v.message_sizes.clear();
  expect_round_trip(base_event(v));
}

TEST(FleetEvent, AdminWritesRoundTrip) {
  FleetAddReporter a;
  a.name = "alice";
  a.secret = std::string("\x00\x01secret", 8);
  expect_round_trip(base_event(a));
  a.trust = 0.25;
  a.admin = true;
  a.open_registration = true;
  a.pinned = false;
  expect_round_trip(base_event(a));
  expect_round_trip(base_event(FleetSetTrust{"alice", 1.0, true}));
  expect_round_trip(base_event(FleetSetDisabled{"alice", true}));
  expect_round_trip(
      base_event(FleetSetAllowed{{sig("url/1:ffeeddccbbaa99887766554433221100")}, false}));
  expect_round_trip(
      base_event(FleetDeleteSignatures{{sig("body/1:00112233445566778899aabbccddeeff")}}));
}

TEST(FleetEvent, LayoutIsStable) {
  // The documented bytes of a small revoke (docs/fleet.md "Event format").
  FleetVote v;
  v.reporter = "r";
  v.revoke = true;
  v.sigs = {sigs::Signature{sigs::Engine::kBody, "ab"}};
  FleetEvent e = base_event(v);
  e.origin = "n";
  e.request = 1;
  e.time = 2;
  auto b = encode_fleet_event(e);
  ASSERT_TRUE(b.ok());
  const std::string want = std::string("SF\x01\x01\x01n", 6) + std::string(7, '\0') + "\x01" +
                           std::string(7, '\0') + "\x02" +
                           std::string(
                               "\x01\x01r\x00\x01\x01\x00\x02"
                               "ab\x00\x00",
                               12);
  EXPECT_EQ(*b, want);
}

TEST(FleetEvent, DecodeRefusesBadInput) {
  FleetVote v;
  v.reporter = "postmaster";
  v.sigs = {sig("body/1:00112233445566778899aabbccddeeff")};
  auto good = encode_fleet_event(base_event(v));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(decode_fleet_event("").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_fleet_event("XF\x01\x01").error().code, Errc::kMalformed);
  std::string newer = *good;
  newer[2] = static_cast<char>(kFleetEventVersionActivity + 1);
  EXPECT_EQ(decode_fleet_event(newer).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(decode_fleet_event(*good + "x").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_fleet_event(good->substr(0, good->size() - 1)).error().code, Errc::kMalformed);
  std::string bad_type = *good;
  bad_type[3] = 10;
  EXPECT_EQ(decode_fleet_event(bad_type).error().code, Errc::kMalformed);
  EXPECT_EQ(decode_fleet_event(std::string(kMaxFleetEventBytes + 1, 'S')).error().code,
            Errc::kLimitExceeded);
  // Message sizes must add up to the signature count.
  v.message_sizes = {2};
  auto bad_sizes = encode_fleet_event(base_event(v));
  ASSERT_TRUE(bad_sizes.ok());
  EXPECT_EQ(decode_fleet_event(*bad_sizes).error().code, Errc::kMalformed);
}

TEST(FleetEvent, EncodeRefusesOverLimits) {
  FleetVote v;
  v.reporter = std::string(kMaxFleetReporterName + 1, 'a');
  v.sigs = {sig("body/1:00112233445566778899aabbccddeeff")};
  EXPECT_EQ(encode_fleet_event(base_event(v)).error().code, Errc::kLimitExceeded);
  EXPECT_EQ(encode_fleet_event(base_event(FleetSetTrust{"a", 1.5, true})).error().code,
            Errc::kInvalidArgument);
  FleetEvent no_origin = base_event(FleetSetDisabled{"a", true});
  no_origin.origin.clear();
  EXPECT_FALSE(encode_fleet_event(no_origin).ok());
}

FeedWireEntry feed_entry(std::uint64_t seq, bool listed) {
  FeedWireEntry e;
  e.seq = seq;
  e.listed = listed;
  e.sig = sig("body/1:00112233445566778899aabbccddeeff");
  e.hop = 2;
  e.confidence = 80;
  e.version = 7;
  e.origin = "solo.example";
  return e;
}

FleetPeerBatch two_entry_batch() {
  FleetPeerBatch b;
  b.peer = "solo.example";
  b.after = 10;
  b.entries = {feed_entry(11, true), feed_entry(14, false)};
  b.cursor = 14;
  return b;
}

TEST(FleetEvent, PeerEventsRoundTripUnderVersion2) {
  expect_round_trip(base_event(two_entry_batch()));
  FleetPeerBatch empty;
  empty.peer = "p";
  empty.after = 5;
  empty.cursor = 5;
  expect_round_trip(base_event(empty));
  expect_round_trip(
      base_event(FleetAddPeer{"solo.example", "http://127.0.0.1:8080", "0123456789abcdef", 1.0}));
  expect_round_trip(base_event(FleetRemovePeer{"solo.example"}));
  auto b = encode_fleet_event(base_event(FleetRemovePeer{"p"}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[2], static_cast<char>(kFleetEventVersionPeers));
  EXPECT_EQ((*b)[3], static_cast<char>(FleetEventType::kRemovePeer));
  // The earlier types keep version 1 (their bytes do not change).
  auto v1 = encode_fleet_event(base_event(FleetSetDisabled{"a", true}));
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ((*v1)[2], static_cast<char>(kFleetEventVersion));
  // A type under the other version is malformed, both ways.
  std::string wrong = *b;
  wrong[2] = static_cast<char>(kFleetEventVersion);
  EXPECT_EQ(decode_fleet_event(wrong).error().code, Errc::kMalformed);
  wrong = *v1;
  wrong[2] = static_cast<char>(kFleetEventVersionPeers);
  EXPECT_EQ(decode_fleet_event(wrong).error().code, Errc::kMalformed);
}

TEST(FleetEvent, ActivityEventsRoundTripUnderVersion3) {
  FleetTouch t{{sig("body/1:00112233445566778899aabbccddeeff"),
                sig("url/1:ffeeddccbbaa99887766554433221100")}};
  expect_round_trip(base_event(t));
  expect_round_trip(base_event(FleetExpire{1764000000, 1000}));
  expect_round_trip(base_event(FleetExpire{0, kMaxFleetExpireLimit}));
  auto b = encode_fleet_event(base_event(FleetExpire{1764000000, 1000}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[2], static_cast<char>(kFleetEventVersionActivity));
  EXPECT_EQ((*b)[3], static_cast<char>(FleetEventType::kExpire));
  // The layout: cutoff (u64) and limit (u32) after the common header.
  EXPECT_EQ(b->size(), 4 + 1 + 11 + 8 + 8 + 8 + 4);
  // Under an older version the activity types are malformed; a node of version 2 would say
  // "upgrade it" for version 3 (tested by the version check below).
  std::string wrong = *b;
  wrong[2] = static_cast<char>(kFleetEventVersionPeers);
  EXPECT_EQ(decode_fleet_event(wrong).error().code, Errc::kMalformed);
  wrong[2] = static_cast<char>(kFleetEventVersionActivity + 1);
  EXPECT_EQ(decode_fleet_event(wrong).error().code, Errc::kInvalidArgument);
}

TEST(FleetEvent, ActivityEventsRefuseBadValues) {
  // An empty touch, a touch over its limit, an expire limit of 0 or over its limit: refused
  // when encoding and when decoding.
  EXPECT_EQ(encode_fleet_event(base_event(FleetTouch{})).error().code, Errc::kInvalidArgument);
  FleetTouch big;
  big.sigs.assign(kMaxFleetTouchSigs + 1, sig("body/1:00112233445566778899aabbccddeeff"));
  EXPECT_EQ(encode_fleet_event(base_event(big)).error().code, Errc::kLimitExceeded);
  EXPECT_EQ(encode_fleet_event(base_event(FleetExpire{5, 0})).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(encode_fleet_event(base_event(FleetExpire{5, kMaxFleetExpireLimit + 1})).error().code,
            Errc::kInvalidArgument);

  auto ok = encode_fleet_event(base_event(FleetExpire{5, 1}));
  ASSERT_TRUE(ok.ok());
  std::string zero = *ok;
  zero.replace(zero.size() - 4, 4, std::string(4, '\0'));
  EXPECT_EQ(decode_fleet_event(zero).error().code, Errc::kMalformed);
  std::string over = *ok;
  over.replace(over.size() - 4, 4, std::string("\xff\xff\xff\xff", 4));
  EXPECT_EQ(decode_fleet_event(over).error().code, Errc::kLimitExceeded);
  EXPECT_EQ(decode_fleet_event(ok->substr(0, ok->size() - 1)).error().code, Errc::kMalformed);
  EXPECT_EQ(decode_fleet_event(*ok + "x").error().code, Errc::kMalformed);

  auto touch =
      encode_fleet_event(base_event(FleetTouch{{sig("body/1:00112233445566778899aabbccddeeff")}}));
  ASSERT_TRUE(touch.ok());
  // The signature count says 0: an empty touch.
  std::string empty = touch->substr(0, 4 + 1 + 11 + 8 + 8) + std::string(2, '\0');
  EXPECT_EQ(decode_fleet_event(empty).error().code, Errc::kMalformed);
  // At the limit it decodes; one more signature (count and bytes patched) is over it.
  FleetTouch full;
  full.sigs.assign(kMaxFleetTouchSigs, sig("body/1:00112233445566778899aabbccddeeff"));
  auto at_limit = encode_fleet_event(base_event(full));
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().to_string();
  EXPECT_TRUE(decode_fleet_event(*at_limit).ok());
  const std::size_t head = 4 + 1 + 11 + 8 + 8;
  const std::string one_sig =
      at_limit->substr(head + 2, (at_limit->size() - head - 2) / full.sigs.size());
  std::string over_limit = *at_limit + one_sig;
  over_limit[head] = static_cast<char>((kMaxFleetTouchSigs + 1) >> 8);
  over_limit[head + 1] = static_cast<char>((kMaxFleetTouchSigs + 1) & 0xff);
  EXPECT_EQ(decode_fleet_event(over_limit).error().code, Errc::kLimitExceeded);
}

TEST(FleetEvent, PeerBatchRefusesBadShape) {
  // Encoding refuses what decoding would refuse.
  auto bad = two_entry_batch();
  bad.cursor = 13;  // not the last entry's seq
  EXPECT_EQ(encode_fleet_event(base_event(bad)).error().code, Errc::kInvalidArgument);
  bad = two_entry_batch();
  bad.after = 11;  // an entry at the cursor
  EXPECT_EQ(encode_fleet_event(base_event(bad)).error().code, Errc::kInvalidArgument);
  bad = two_entry_batch();
  bad.entries[1].hop = kMaxFeedHop + 1;
  EXPECT_EQ(encode_fleet_event(base_event(bad)).error().code, Errc::kInvalidArgument);
  bad = two_entry_batch();
  bad.peer = "Not A Site";
  EXPECT_EQ(encode_fleet_event(base_event(bad)).error().code, Errc::kInvalidArgument);
  bad = two_entry_batch();
  bad.entries.assign(kMaxFleetPeerEntries + 1, feed_entry(1, true));
  EXPECT_EQ(encode_fleet_event(base_event(bad)).error().code, Errc::kLimitExceeded);

  // And decoding refuses bytes edited into each shape.
  auto good = encode_fleet_event(base_event(two_entry_batch()));
  ASSERT_TRUE(good.ok());
  // Header: SF v t (4), origin (1 + 11), request (8), time (8); then peer (1 + 12), after,
  // cursor, count; the first entry's seq follows.
  const std::size_t body = 4 + 12 + 16;
  const std::size_t cursor_at = body + 13 + 8;
  const std::size_t count_at = cursor_at + 8;
  const std::size_t state_at = count_at + 2 + 8;
  std::string edited = *good;
  edited[cursor_at + 7] = 13;
  EXPECT_EQ(decode_fleet_event(edited).error().code, Errc::kMalformed);
  edited = *good;
  edited[state_at] = 3;  // unknown state
  EXPECT_EQ(decode_fleet_event(edited).error().code, Errc::kMalformed);
  edited = *good;
  edited[count_at] = static_cast<char>(0xff);  // a count over the limit
  EXPECT_EQ(decode_fleet_event(edited).error().code, Errc::kLimitExceeded);
  edited = *good;
  edited[count_at + 1] = 3;  // more entries than there are bytes
  EXPECT_EQ(decode_fleet_event(edited).error().code, Errc::kMalformed);
  EXPECT_EQ(decode_fleet_event(*good + "x").error().code, Errc::kMalformed);
}

TEST(FleetEvent, AddPeerRefusesBadValues) {
  EXPECT_EQ(encode_fleet_event(base_event(FleetAddPeer{"p", "http://x", "s", 1.5})).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(encode_fleet_event(base_event(FleetAddPeer{"p", "", "s", 1.0})).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(encode_fleet_event(
                base_event(FleetAddPeer{"p", std::string(kMaxFleetPeerUrl + 1, 'u'), "s", 1.0}))
                .error()
                .code,
            Errc::kLimitExceeded);
  EXPECT_EQ(encode_fleet_event(base_event(FleetAddPeer{"p", "http://x", "", 1.0})).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(encode_fleet_event(base_event(FleetRemovePeer{""})).error().code,
            Errc::kInvalidArgument);
}

TEST(FleetBeat, RoundTripsAndRefusesWhatIsNotABeat) {
  FleetBeat b{"node-a.example", 41, 42};
  auto bytes = encode_fleet_beat(b);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), 4u + 1 + b.origin.size() + 16);
  EXPECT_TRUE(bytes->starts_with(kFleetBeatMagic));
  auto back = decode_fleet_beat(*bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, b);
  EXPECT_EQ(decode_fleet_beat(bytes->substr(0, bytes->size() - 1)).error().code,
            Errc::kMalformed);                                                // truncated
  EXPECT_EQ(decode_fleet_beat(*bytes + "x").error().code, Errc::kMalformed);  // trailing
  EXPECT_EQ(decode_fleet_beat("SFD1" + bytes->substr(4)).error().code, Errc::kMalformed);
  // An origin that could break a metrics label or a log line is refused.
  auto evil = encode_fleet_beat(FleetBeat{"a\"}\n", 1, 1});
  ASSERT_TRUE(evil);
  EXPECT_EQ(decode_fleet_beat(*evil).error().code, Errc::kMalformed);
  EXPECT_FALSE(encode_fleet_beat(FleetBeat{"", 1, 1}));
  EXPECT_FALSE(encode_fleet_beat(FleetBeat{std::string(kMaxFleetOrigin + 1, 'a'), 1, 1}));
  EXPECT_EQ(decode_fleet_beat(std::string(kMaxFleetBeat + 1, 'S')).error().code,
            Errc::kLimitExceeded);
}

}  // namespace
}  // namespace strop::protocol
