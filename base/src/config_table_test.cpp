#include "base/config_table.hpp"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <chrono>

namespace strop::config {
namespace {

enum class Color { kRed, kBlue };
Result<Color> parse_color(std::string_view s) {
  if (s == "red") return Color::kRed;
  if (s == "blue") return Color::kBlue;
  return make_error(Errc::kInvalidArgument, "unknown color '" + std::string(s) + "'");
}
const char* color_name(Color c) { return c == Color::kRed ? "red" : "blue"; }

struct Inner {
  int depth = 3;
};

struct Sample {
  std::string name = "strop";
  bool enabled = true;
  unsigned threads = 4;
  double ratio = 0.5;
  std::chrono::milliseconds timeout{1500};
  std::chrono::seconds expire{3600};
  int retry_ms = 100;
  double wait_s = 2.5;
  std::vector<std::string> hosts = {"a", "b"};
  Color color = Color::kRed;
  std::string level = "info";
  std::string target = "stderr";
  Inner inner;
};

const Table<Sample>& table() {
  static const Table<Sample> t({
      string_key<Sample>("main", "name", "a name", &Sample::name),
      bool_key<Sample>("main", "enabled", "on or off", &Sample::enabled),
      integer_key<Sample>("main", "threads", "threads", &Sample::threads, 1, 64),
      double_key<Sample>("main", "ratio", "a ratio", &Sample::ratio, 0, 1),
      duration_key<Sample>("main", "timeout_ms", "a timeout", &Sample::timeout, 1, 60'000)
          .old_name("timeout"),
      duration_key<Sample>("main", "expire_seconds", "expiry", &Sample::expire, 0, 86400),
      duration_count_key<Sample>("main", "retry_ms", "retry", "ms", &Sample::retry_ms, 0, 1000),
      seconds_key<Sample>("main", "wait_seconds", "wait", &Sample::wait_s, 0.001, 60),
      string_list_key<Sample>("main", "hosts", "hosts", &Sample::hosts),
      enum_key<Sample>("look", "color", "a color", &Sample::color, {"red", "blue"}, parse_color,
                       color_name),
      log_level_key<Sample>("look", "level", "log level", &Sample::level, {"info", "debug"}),
      choice_key<Sample>("look", "target", "log target", &Sample::target, {"stderr", "syslog"}),
      integer_key<Sample>(
          "look", "depth", "nested", [](Sample& s) -> int& { return s.inner.depth; }, 0, 9),
  });
  return t;
}

Result<Sample> load(std::string_view text, Sources* sources = nullptr) {
  Sample s;
  STROP_TRY(table().load(text, "t.toml", s, sources, "file t.toml"));
  return s;
}

TEST(ConfigTable, DefaultsWhenEmptyAndEveryTypeLoads) {
  auto d = load("");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->name, "strop");
  EXPECT_EQ(d->timeout.count(), 1500);
  auto s = load(R"(
[main]
name = "x"
enabled = false
threads = 8
ratio = 1
timeout_ms = 250
expire_seconds = 60
retry_ms = 7
wait_seconds = 0.25
hosts = ["h1"]
[look]
color = "blue"
level = "debug"
target = "syslog"
depth = 9
)");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->name, "x");
  EXPECT_FALSE(s->enabled);
  EXPECT_EQ(s->threads, 8u);
  EXPECT_DOUBLE_EQ(s->ratio, 1.0);  // an integer is a number
  EXPECT_EQ(s->timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(s->expire, std::chrono::seconds(60));
  EXPECT_EQ(s->retry_ms, 7);
  EXPECT_DOUBLE_EQ(s->wait_s, 0.25);
  EXPECT_EQ(s->hosts, std::vector<std::string>{"h1"});
  EXPECT_EQ(s->color, Color::kBlue);
  EXPECT_EQ(s->level, "debug");
  EXPECT_EQ(s->target, "syslog");
  EXPECT_EQ(s->inner.depth, 9);
}

// Each bad file and the one-line error it gets: FILE:LINE:COL: section.key: message.
struct BadFile {
  std::string_view text;
  std::string_view error;
};

void expect_errors(std::initializer_list<BadFile> cases) {
  for (const auto& c : cases) {
    auto r = load(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << c.text;
    EXPECT_EQ(r.error().message, c.error) << c.text;
  }
}

TEST(ConfigTable, ErrorsCarryFileLineColumnAndKey) {
  expect_errors({
      {"[main]\nthreads = 0\n", "t.toml:2:11: main.threads: 0 is outside 1..64"},
      {"[main]\nthreads = 65\n", "t.toml:2:11: main.threads: 65 is outside 1..64"},
      {"[main]\nratio = 1.5\n", "t.toml:2:9: main.ratio: 1.5 is outside 0..1"},
      {"[main]\nratio = nan\n", "t.toml:2:9: main.ratio: nan is outside 0..1"},
      {"[main]\nwait_seconds = 0\n", "t.toml:2:16: main.wait_seconds: 0 is outside 0.001..60"},
      {"[main]\nthreads = \"two\"\n", "t.toml:2:11: main.threads: expected an integer"},
      {"[main]\ntimeout_ms = 1.5\n", "t.toml:2:14: main.timeout_ms: expected an integer"},
      {"[main]\nenabled = 1\n", "t.toml:2:11: main.enabled: expected true or false"},
      {"[main]\nname = 1\n", "t.toml:2:8: main.name: expected a string"},
      {"[main]\nhosts = [\"a\", 2]\n", "t.toml:2:9: main.hosts: expected an array of strings"},
      {"[look]\ncolor = \"green\"\n", "t.toml:2:9: look.color: unknown color 'green'"},
      {"[look]\ntarget = \"file\"\n",
       "t.toml:2:10: look.target: unknown value \"file\" (stderr or syslog)"},
      {"[main]\nthreds = 2\n", "t.toml:2:1: main.threds: unknown key (did you mean \"threads\"?)"},
  });
  auto syntax = load("[main\n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().code, Errc::kMalformed);
  EXPECT_TRUE(syntax.error().message.starts_with("t.toml:1:")) << syntax.error().message;
}

TEST(ConfigTable, UnknownKeysAndSectionsAreRejected) {
  expect_errors({
      {"[look]\nzzzzzzzz = 2\n",
       "t.toml:2:1: look.zzzzzzzz: unknown key (known: color, level, target, depth)"},
      {"\n[mian]\n", "t.toml:2:2: mian: unknown section (did you mean \"main\"?)"},
      {"top = 1\n", "t.toml:1:1: top: unknown key (keys belong in a [section])"},
  });
  EXPECT_EQ(load("[main.sub]\nx = 1\n").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(load("[[main]]\n").error().code, Errc::kInvalidArgument);
}

TEST(ConfigTable, OldNamesAreAcceptedOnceAndPrintedUnderTheNewName) {
  auto s = load("[main]\ntimeout = 9\n");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->timeout.count(), 9);
  EXPECT_NE(table().print(*s).find("\ntimeout_ms = 9\n"), std::string::npos);
  EXPECT_EQ(load("[main]\ntimeout = 9\ntimeout_ms = 10\n").error().message,
            "t.toml:3:1: main.timeout_ms: set twice (also as main.timeout, an earlier name of "
            "main.timeout_ms)");
}

TEST(ConfigTable, PrinterEscapesAndAlwaysWritesValidToml) {
  Sample s;
  s.name = std::string("tab\there \"q\" back\\slash nl\n cr\r bell\x07 nul") + '\0' +
           " del\x7f c1\xc2\x85 bad\xff utf8 \xc3\xa9";
  s.hosts = {"x\x1b[31m", ""};
  std::string text = table().print(s);
  EXPECT_NE(text.find(R"(name = "tab\there \"q\" back\\slash nl\n cr\r bell\u0007 nul\u0000)"
                      R"( del\u007f c1\u0085 bad)"
                      "\xef\xbf\xbd"
                      " utf8 \xc3\xa9\"\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(hosts = ["x\u001b[31m", ""])"), std::string::npos) << text;
  toml::table parsed;
  ASSERT_NO_THROW(parsed = toml::parse(text)) << text;
  EXPECT_EQ(parsed["main"]["hosts"][0].value<std::string>(), "x\x1b[31m");
}

TEST(ConfigTable, PrintedConfigRoundTrips) {
  Sample s;
  s.name = "a\tb\"c\x01";
  s.ratio = 0.1;
  s.wait_s = 3;
  s.timeout = std::chrono::milliseconds(60'000);
  s.hosts = {};
  s.color = Color::kBlue;
  s.inner.depth = 0;
  std::string text = table().print(s);
  auto back = load(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  EXPECT_EQ(back->name, s.name);
  EXPECT_DOUBLE_EQ(back->ratio, 0.1);
  EXPECT_EQ(back->hosts, s.hosts);
  EXPECT_EQ(back->color, Color::kBlue);
  EXPECT_EQ(table().print(*back), text);
  // Doubles stay TOML floats; whole fractional-duration seconds print as integers.
  EXPECT_NE(text.find("\nratio = 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nwait_seconds = 3\n"), std::string::npos) << text;
  Sample whole;
  whole.ratio = 1;
  EXPECT_NE(table().print(whole).find("\nratio = 1.0\n"), std::string::npos);
}

TEST(ConfigTable, PrintShowsWhereEachValueCameFrom) {
  Sources sources;
  auto s = load("[main]\nthreads = 8\nname = \"strop\"\n", &sources);
  ASSERT_TRUE(s.ok());
  s->enabled = false;  // a flag, after loading
  s->threads = 2;      // a flag over the file
  PrintOptions o;
  o.header = "sample";
  o.sources = &sources;
  std::string text = table().print(*s, o);
  EXPECT_TRUE(text.starts_with("# sample\n\n[main]\n# a name (from: file t.toml)\nname = "))
      << text;
  EXPECT_NE(text.find("# on or off (from: flag)\nenabled = false\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# threads (from: flag)\nthreads = 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# a ratio (from: default)\nratio = 0.5\n"), std::string::npos) << text;
  // Labels without a recorded value are shown as given, inline.
  Sources fixed{{"main.name", {"env NAME", std::nullopt}}};
  o.sources = &fixed;
  o.inline_sources = true;
  text = table().print(*s, o);
  EXPECT_NE(text.find("\nname = \"strop\"  # env NAME\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nthreads = 2  # flag\n"), std::string::npos) << text;
}

TEST(ConfigTable, FlatTablesHaveNoSections) {
  struct Flat {
    std::vector<std::string> nodes;
    double timeout = 10;
  };
  Key<Flat> nodes = string_list_key<Flat>("", "node", "node URLs", &Flat::nodes);
  nodes.info.string_as_list = true;
  Table<Flat> t({nodes, seconds_key<Flat>("", "timeout", "seconds", &Flat::timeout, 0.001, 60)});
  Flat f;
  ASSERT_TRUE(t.load("node = \"a, b c\"\ntimeout = 2\n", "f", f).ok());
  EXPECT_EQ(f.nodes, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t.load("[node]\n", "f", f).error().message, "f:1:2: node: unknown section");
  EXPECT_EQ(t.load("nodes = 1\n", "f", f).error().message,
            "f:1:1: nodes: unknown key (did you mean \"node\"?)");
  PrintOptions o;
  o.inline_sources = true;
  EXPECT_EQ(t.print(f, o), "node = [\"a\", \"b\", \"c\"]  # flag\ntimeout = 2  # flag\n");
}

TEST(ConfigTable, ReadFile) {
  EXPECT_EQ(read_file("/nonexistent/strop.toml").error().code, Errc::kIo);
}

}  // namespace
}  // namespace strop::config
