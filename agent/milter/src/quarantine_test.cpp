#include "milter/quarantine.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.hpp"

namespace strop::milter {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Quarantine, WritesMessageAndSidecar) {
  testing::TempDir dir;
  QuarantineInfo qi;
  qi.reason = "virus Eicar";
  qi.action = "quarantine";
  qi.queue_id = "ABC123";
  qi.client_addr = "127.0.0.1";
  qi.helo = "client.example";
  qi.mail_from = "<a@example.org>";
  qi.rcpts = {"<u@test.local>"};
  qi.score = 1000;
  qi.rules = {{"GTUBE", 1000}};
  qi.virus = "Eicar";
  auto id = write_quarantine(dir.path(), "Subject: x\r\n\r\nbody\r\n", qi);
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  EXPECT_NE(id->find("-ABC123-"), std::string::npos);
  std::string eml = dir.path() + "/" + *id + ".eml";
  std::string side = dir.path() + "/" + *id + ".json";
  EXPECT_EQ(slurp(eml), "Subject: x\r\n\r\nbody\r\n");
  struct stat st {};
  ASSERT_EQ(::stat(eml.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto j = nlohmann::json::parse(slurp(side));
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["reason"], "virus Eicar");
  EXPECT_EQ(j["queue_id"], "ABC123");
  EXPECT_EQ(j["envelope"]["from"], "<a@example.org>");
  EXPECT_EQ(j["envelope"]["rcpts"][0], "<u@test.local>");
  EXPECT_EQ(j["rules"][0]["name"], "GTUBE");
  EXPECT_EQ(j["virus"], "Eicar");
  EXPECT_EQ(j["size"], 20);
  EXPECT_EQ(j["message_file"], *id + ".eml");
  // No temporary files left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST(Quarantine, UntrustedEnvelopeIsSanitised) {
  QuarantineInfo qi;
  qi.mail_from = "<\xff\xfe@x>";
  qi.queue_id = "../../etc";
  auto text = quarantine_sidecar(qi, "id", 0);
  EXPECT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded());
  EXPECT_NE(text.find("<??@x>"), std::string::npos);
}

TEST(Quarantine, MissingDirectoryIsAnError) {
  auto r = write_quarantine("/nonexistent/quarantine", "x", QuarantineInfo{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
}

}  // namespace
}  // namespace strop::milter
