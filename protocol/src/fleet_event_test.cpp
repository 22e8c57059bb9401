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
  newer[2] = 2;
  EXPECT_EQ(decode_fleet_event(newer).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(decode_fleet_event(*good + "x").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_fleet_event(good->substr(0, good->size() - 1)).error().code, Errc::kMalformed);
  std::string bad_type = *good;
  bad_type[3] = 9;
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
