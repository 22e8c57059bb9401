#include "base/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>

namespace strop::log {
namespace {

using std::chrono::system_clock;

// 2026-12-05T08:01:02.123Z as a time point.
system_clock::time_point fixed_time() {
  return system_clock::time_point(std::chrono::milliseconds(1796457662123LL));
}

// Runs `f` with TZ set to `tz` (restored afterwards).
template <class F>
void with_tz(const char* tz, F f) {
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  ::setenv("TZ", tz, 1);
  ::tzset();
  f();
  if (old) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
}

TEST(Log, Rfc3339CarriesTheZone) {
  with_tz("UTC0", [] { EXPECT_EQ(rfc3339(fixed_time()), "2026-12-05T08:01:02.123+00:00"); });
  with_tz("CET-1", [] { EXPECT_EQ(rfc3339(fixed_time()), "2026-12-05T09:01:02.123+01:00"); });
  with_tz("<-0330>3:30", [] { EXPECT_EQ(rfc3339(fixed_time()), "2026-12-05T04:31:02.123-03:30"); });
}

TEST(Log, TextLine) {
  with_tz("UTC0", [] {
    Record r{fixed_time(), spdlog::level::info, "strop-node", "", "ready: listening on x"};
    EXPECT_EQ(format_line(r, Format::kText, false),
              "2026-12-05T08:01:02.123+00:00 info strop-node: ready: listening on x\n");
    r.component = "storage";
    r.level = spdlog::level::err;
    EXPECT_EQ(format_line(r, Format::kText, false),
              "2026-12-05T08:01:02.123+00:00 error strop-node: storage: ready: listening on x\n");
    r.message = "storage: indexed 0 signatures";  // already named: not twice
    EXPECT_EQ(format_line(r, Format::kText, false),
              "2026-12-05T08:01:02.123+00:00 error strop-node: storage: indexed 0 signatures\n");
  });
}

TEST(Log, JournalLineHasPriorityAndNoTimestamp) {
  Record r{fixed_time(), spdlog::level::warn, "strop-milter", "", "clamd unreachable"};
  EXPECT_EQ(format_line(r, Format::kText, true), "<4>warn strop-milter: clamd unreachable\n");
  r.level = spdlog::level::err;
  EXPECT_EQ(format_line(r, Format::kText, true).substr(0, 3), "<3>");
  r.level = spdlog::level::critical;
  EXPECT_EQ(format_line(r, Format::kText, true).substr(0, 3), "<2>");
  r.level = spdlog::level::info;
  EXPECT_EQ(format_line(r, Format::kText, true).substr(0, 3), "<6>");
  r.level = spdlog::level::debug;
  EXPECT_EQ(format_line(r, Format::kText, true).substr(0, 3), "<7>");
}

TEST(Log, JsonLineWithLogfmtFields) {
  with_tz("UTC0", [] {
    Record r{fixed_time(), spdlog::level::info, "strop-milter", "",
             "queue=4Xz verdict=tag reason=\"score 6 \\\"x\\\"\" msg=ignored"};
    EXPECT_EQ(format_line(r, Format::kJson, false),
              "{\"time\":\"2026-12-05T08:01:02.123+00:00\",\"level\":\"info\",\"program\":"
              "\"strop-milter\",\"msg\":\"queue=4Xz verdict=tag reason=\\\"score 6 "
              "\\\\\\\"x\\\\\\\"\\\" msg=ignored\",\"queue\":\"4Xz\",\"verdict\":\"tag\","
              "\"reason\":\"score 6 \\\"x\\\"\"}\n");
    r.message = "a\nb";
    r.component = "storage";
    std::string j = format_line(r, Format::kJson, true);
    EXPECT_EQ(j.substr(0, 4), "<6>{");
    EXPECT_NE(j.find("\"component\":\"storage\",\"msg\":\"a\\nb\"}"), std::string::npos) << j;
  });
}

TEST(Log, LogfmtFieldsAndValues) {
  auto f = logfmt_fields("started ok: a=1 b=\"two words\" c= =x d");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(f[1], (std::pair<std::string, std::string>{"b", "two words"}));
  EXPECT_EQ(f[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(logfmt_value("plain"), "plain");
  EXPECT_EQ(logfmt_value(""), "\"\"");
  EXPECT_EQ(logfmt_value("No such file or directory"), "\"No such file or directory\"");
  EXPECT_EQ(logfmt_value("a\"b\\c\n"), "\"a\\\"b\\\\c?\"");
}

TEST(Log, JournalStreamMatchesStderrOnly) {
  const char* old = std::getenv("JOURNAL_STREAM");
  std::string saved = old ? old : "";
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  EXPECT_TRUE(stderr_is_journal());
  std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  ::setenv("JOURNAL_STREAM", other.c_str(), 1);
  EXPECT_FALSE(stderr_is_journal());
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderr_is_journal());
  if (old) ::setenv("JOURNAL_STREAM", saved.c_str(), 1);
}

// The sink writes fd 2: the whole pipeline from spdlog through setup/reconfigure.
TEST(Log, SetupAndReconfigureThroughSpdlog) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  setup("strop-test", {"main", "part"}, Options{"stderr", "text", "info"});
  spdlog::get("main")->debug("hidden");
  spdlog::get("main")->info("shown n={}", 1);
  spdlog::get("part")->warn("from part");
  reconfigure(Options{"stderr", "json", "debug"});
  spdlog::get("main")->debug("now shown");
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  EXPECT_EQ(out.find("hidden"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(
      out,
      std::regex(
          R"(\n?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info strop-test: shown n=1\n)")))
      << out;
  EXPECT_NE(out.find(" warn strop-test: part: from part\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\"level\":\"debug\",\"program\":\"strop-test\",\"msg\":\"now shown\"}\n"),
            std::string::npos)
      << out;
  spdlog::drop("main");
  spdlog::drop("part");
}

}  // namespace
}  // namespace strop::log
