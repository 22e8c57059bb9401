#include "milter/clamd.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace strop::milter {
namespace {

using testing::FakeServer;
using testing::TempDir;

TEST(ClamdCodec, ChunkHeaderIsBigEndian) {
  EXPECT_EQ(clamd::chunk_header(0x01020304), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(clamd::chunk_header(0), std::string(4, '\0'));
}

TEST(ClamdCodec, EncodeInstreamChunksAndTerminates) {
  std::string req = clamd::encode_instream("abcde", 2);
  EXPECT_EQ(req, std::string("zINSTREAM\0", 10) +
                     std::string("\0\0\0\x02"
                                 "ab",
                                 6) +
                     std::string("\0\0\0\x02"
                                 "cd",
                                 6) +
                     std::string("\0\0\0\x01"
                                 "e",
                                 5) +
                     std::string(4, '\0'));
  EXPECT_EQ(clamd::encode_instream("", 2), std::string("zINSTREAM\0\0\0\0\0", 14));
}

TEST(ClamdCodec, ParsesRecordedReplies) {
  // Replies recorded from clamd 1.4.6 (mail-pipeline.md §4.3).
  auto ok = clamd::parse_reply(std::string("stream: OK\0", 11));
  EXPECT_EQ(ok.status, clamd::Status::kClean);
  auto found =
      clamd::parse_reply(std::string("stream: Eicar-Test-Signature.ndb.UNOFFICIAL FOUND\0", 51));
  EXPECT_EQ(found.status, clamd::Status::kInfected);
  EXPECT_EQ(found.virus, "Eicar-Test-Signature.ndb.UNOFFICIAL");
  auto nl = clamd::parse_reply("stream: Eicar-Test-Signature.UNOFFICIAL FOUND\n");
  EXPECT_EQ(nl.virus, "Eicar-Test-Signature.UNOFFICIAL");
  auto limit = clamd::parse_reply(std::string("INSTREAM size limit exceeded. ERROR\0", 36));
  EXPECT_EQ(limit.status, clamd::Status::kError);
  EXPECT_EQ(limit.text, "INSTREAM size limit exceeded. ERROR");
  auto session = clamd::parse_reply("3: stream: Eicar FOUND");
  EXPECT_EQ(session.status, clamd::Status::kInfected);
  EXPECT_EQ(session.virus, "Eicar");
  EXPECT_EQ(clamd::parse_reply("UNKNOWN COMMAND\n").status, clamd::Status::kError);
  EXPECT_EQ(clamd::parse_reply("").status, clamd::Status::kError);
  EXPECT_EQ(clamd::parse_reply("stream:  FOUND").status, clamd::Status::kError);
  EXPECT_EQ(clamd::parse_reply("stream: x: y ERROR").status, clamd::Status::kError);
}

// A fake clamd: decodes INSTREAM, answers FOUND when the stream holds "EICAR".
FakeServer fake_clamd(const std::string& path, std::string* received = nullptr) {
  auto complete = [](const std::string& d) {
    // Complete when the zero-length chunk arrives.
    if (d.size() < 10) return false;
    std::size_t p = 10;
    while (p + 4 <= d.size()) {
      std::uint32_t n = (std::uint32_t(std::uint8_t(d[p])) << 24) |
                        (std::uint32_t(std::uint8_t(d[p + 1])) << 16) |
                        (std::uint32_t(std::uint8_t(d[p + 2])) << 8) | std::uint8_t(d[p + 3]);
      if (n == 0) return true;
      p += 4 + n;
    }
    return false;
  };
  auto respond = [received](const std::string& d) -> std::string {
    std::string body;
    std::size_t p = 10;
    while (p + 4 <= d.size()) {
      std::uint32_t n = (std::uint32_t(std::uint8_t(d[p])) << 24) |
                        (std::uint32_t(std::uint8_t(d[p + 1])) << 16) |
                        (std::uint32_t(std::uint8_t(d[p + 2])) << 8) | std::uint8_t(d[p + 3]);
      if (n == 0) break;
      body.append(d, p + 4, n);
      p += 4 + n;
    }
    if (received) *received = body;
    if (body.find("HANG") != std::string::npos) return "";
    if (body.find("EICAR") != std::string::npos)
      return std::string("stream: Eicar-Test FOUND\0", 25);
    if (body.size() > 1000) return std::string("INSTREAM size limit exceeded. ERROR\0", 36);
    return std::string("stream: OK\0", 11);
  };
  return FakeServer(path, complete, respond);
}

ClamdOptions options_for(std::vector<std::string> addrs, std::size_t chunk = 7) {
  ClamdOptions o;
  for (auto& a : addrs) o.addresses.push_back(*parse_endpoint(a));
  o.chunk_bytes = chunk;
  return o;
}

TEST(ClamdClient, CleanAndInfected) {
  TempDir dir;
  std::string got;
  auto server = fake_clamd(dir.path() + "/clamd.sock", &got);
  ClamdClient client(options_for({"unix:" + dir.path() + "/clamd.sock"}));
  auto clean =
      client.scan("hello world, a clean message", Deadline::after(std::chrono::seconds(5)));
  ASSERT_TRUE(clean.ok()) << clean.error().to_string();
  EXPECT_FALSE(clean->infected);
  EXPECT_EQ(got, "hello world, a clean message");  // reassembled from 7-byte chunks
  auto bad = client.scan("xx EICAR xx", Deadline::after(std::chrono::seconds(5)));
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(bad->infected);
  EXPECT_EQ(bad->virus, "Eicar-Test");
}

TEST(ClamdClient, SizeLimitIsLimitExceeded) {
  TempDir dir;
  auto server = fake_clamd(dir.path() + "/clamd.sock");
  ClamdClient client(options_for({"unix:" + dir.path() + "/clamd.sock"}, 4096));
  auto r = client.scan(std::string(2000, 'a'), Deadline::after(std::chrono::seconds(5)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kLimitExceeded);
}

TEST(ClamdClient, HungServerTimesOutAtTheDeadline) {
  TempDir dir;
  auto server = fake_clamd(dir.path() + "/clamd.sock");
  ClamdClient client(options_for({"unix:" + dir.path() + "/clamd.sock"}));
  auto r = client.scan("HANG", Deadline::after(std::chrono::milliseconds(200)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
}

TEST(ClamdClient, FailsOverToTheNextAddressAndRoundRobins) {
  TempDir dir;
  auto a = fake_clamd(dir.path() + "/a.sock");
  auto b = fake_clamd(dir.path() + "/b.sock");
  ClamdClient client(
      options_for({"unix:" + dir.path() + "/missing.sock", "unix:" + dir.path() + "/a.sock",
                   "unix:" + dir.path() + "/b.sock"}));
  for (int i = 0; i < 6; ++i) {
    auto r = client.scan("clean", Deadline::after(std::chrono::seconds(5)));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }
  // Scans start at positions 0..5 in turn; a dead first address fails over to the next:
  // a serves the scans starting at 0 (failover), 1, 3 (failover) and 4; b those at 2 and 5.
  EXPECT_EQ(a.connections(), 4);
  EXPECT_EQ(b.connections(), 2);
}

TEST(ClamdClient, NothingListeningIsUnavailable) {
  TempDir dir;
  ClamdClient client(options_for({"unix:" + dir.path() + "/none.sock", "127.0.0.1:1"}));
  auto r = client.scan("x", Deadline::after(std::chrono::seconds(2)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  ClamdClient empty(ClamdOptions{});
  EXPECT_EQ(empty.scan("x", Deadline::never()).error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace strop::milter
