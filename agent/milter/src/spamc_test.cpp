#include "milter/spamc.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace strop::milter {
namespace {

TEST(SpamcCodec, EncodesRequest) {
  EXPECT_EQ(
      spamc::encode_request("SYMBOLS", "Subject: x\r\n\r\nhi\r\n", "nobody"),
      "SYMBOLS SPAMC/1.5\r\nContent-length: 18\r\nUser: nobody\r\n\r\nSubject: x\r\n\r\nhi\r\n");
}

TEST(SpamcCodec, ParsesRecordedReplies) {
  auto r = spamc::parse_reply(
      "SPAMD/1.1 0 EX_OK\r\nContent-length: 27\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n"
      "GTUBE,NO_RECEIVED,NO_RELAYS");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->spam);
  EXPECT_EQ(r->score, 1000.0);
  EXPECT_EQ(r->threshold, 5.0);
  EXPECT_EQ(r->symbols, (std::vector<std::string>{"GTUBE", "NO_RECEIVED", "NO_RELAYS"}));
  auto ham = spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\nSpam: False ; -1.0 / 5.0\r\n\r\n");
  ASSERT_TRUE(ham.ok());
  EXPECT_FALSE(ham->spam);
  EXPECT_EQ(ham->score, -1.0);
  EXPECT_TRUE(ham->symbols.empty());
  auto yes = spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\nSpam: Yes ; 6.1 / 5.0\r\n\r\n");
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(yes->spam);
}

TEST(SpamcCodec, Errors) {
  auto e =
      spamc::parse_reply("SPAMD/1.0 69 Service Unavailable: TELL commands are not enabled\r\n");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::kUnavailable);
  EXPECT_EQ(spamc::parse_reply("HTTP/1.1 200 OK\r\n\r\n").error().code, Errc::kMalformed);
  EXPECT_EQ(spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\n\r\n").error().code, Errc::kMalformed);
  EXPECT_EQ(spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n").error().code,
            Errc::kMalformed);
  EXPECT_EQ(spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\nSpam: True ; x / 5\r\n\r\n").error().code,
            Errc::kMalformed);
  EXPECT_EQ(spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n").error().code,
            Errc::kMalformed);
  spamc::Limits lim;
  lim.max_reply_bytes = 10;
  EXPECT_EQ(spamc::parse_reply("SPAMD/1.1 0 EX_OK\r\n\r\n", lim).error().code,
            Errc::kLimitExceeded);
}

TEST(SpamdClient, TalksToAFakeSpamd) {
  testing::TempDir dir;
  std::string path = dir.path() + "/spamd.sock";
  testing::FakeServer server(
      path, [](const std::string&) { return false; },  // read until the client half-closes
      [](const std::string& req) -> std::string {
        if (!req.starts_with("SYMBOLS SPAMC/1.5\r\n")) return "SPAMD/1.0 76 Bad header line\r\n";
        return "SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 7.5 / 5.0\r\n\r\nRULE1";
      });
  SpamdOptions o;
  o.address = *parse_endpoint("unix:" + path);
  SpamdClient client(o);
  auto r = client.score("Subject: x\r\n\r\nbody\r\n", Deadline::after(std::chrono::seconds(5)));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->score, 7.5);
  EXPECT_EQ(r->symbols, std::vector<std::string>{"RULE1"});
  EXPECT_NE(server.last_request().find("User: nobody\r\n"), std::string::npos);
}

}  // namespace
}  // namespace strop::milter
