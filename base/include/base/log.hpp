// log.hpp: the one log layout of every Strop program (strop-node, strop-milter, strop), as
// an spdlog sink that every logger of a program shares.
//
// Text (log format "text"), one line per record:
//   2026-12-05T08:01:02.123+01:00 info strop-node: ready: listening on 127.0.0.1:7420
//   2026-12-05T08:01:02.125+01:00 warn strop-node: storage: map grown to 128 MiB
// RFC 3339 local time with milliseconds and the UTC offset, the level (spdlog's names, as in
// strop/log_level.hpp), the program, the component when the logger is not the program's main
// one (and the message does not already start with "component: "), then the message, whose
// key=value fields follow logfmt (logfmt_value() quotes a value). When stderr is the journal
// (JOURNAL_STREAM names stderr's device:inode, as systemd sets it for a service) the timestamp is
// left out and each line starts with its syslog priority
// ("<6>info strop-node: ..."), which journald files and strips (sd-daemon.h SD_INFO etc.).
// JSON (log format "json"): one object per line,
//   {"time":"2026-...","level":"info","program":"strop-node","msg":"...","queue":"4Xz"}
// with "component" when not the main logger and each logfmt field of the message as a member
// (never overriding the fixed ones); under the journal it is prefixed with "<N>" too.
// Target "syslog": syslog(3) with the program as ident, LOG_PID and facility LOG_MAIL; the
// line is the message (with its component) or the JSON object, the priority the level's.
//
// Thread-safety: setup() once from main before other threads log; reconfigure() from any
// thread at any time (SIGHUP); Sink::log from any thread (one mutex). The pure functions are
// thread-safe.
#pragma once

#include <spdlog/common.h>
#include <spdlog/sinks/sink.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "base/thread_annotations.hpp"

namespace strop::log {

// The accepted values of each program's log target and log format keys.
inline constexpr std::array<std::string_view, 2> kTargets = {"stderr", "syslog"};
inline constexpr std::array<std::string_view, 2> kFormats = {"text", "json"};

enum class Format : std::uint8_t { kText, kJson };

// What a program's configuration says about its logs (validated by its key table).
struct Options {
  std::string target = "stderr";  // kTargets
  std::string format = "text";    // kFormats
  std::string level = "info";     // strop/log_level.hpp
};

// One record, as the layout functions see it.
struct Record {
  std::chrono::system_clock::time_point time;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string_view program;    // "strop-node"
  std::string_view component;  // "" for the program's main logger, else e.g. "storage"
  std::string_view message;
};

// RFC 3339 local time with milliseconds and the numeric UTC offset,
// "2026-12-05T08:01:02.123+01:00" ("+00:00" for UTC).
std::string rfc3339(std::chrono::system_clock::time_point t);

// The syslog priority of a level (sd-daemon.h / syslog.h): trace, debug 7; info 6; warn 4;
// err 3; critical 2.
int syslog_priority(spdlog::level::level_enum level);

// One line in `format`, newline included; `journal` adds the "<N>" prefix (and, for text,
// drops the timestamp).
std::string format_line(const Record& r, Format format, bool journal);

// The key=value fields of a message in logfmt (values bare or double-quoted, with backslash
// escapes of quote and backslash), in order. Words without '=' are skipped.
std::vector<std::pair<std::string, std::string>> logfmt_fields(std::string_view message);

// A logfmt value: as is when it is non-empty and has no space, '"', '=' or control
// character; otherwise double-quoted with '"' and '\' escaped and control characters as '?'.
std::string logfmt_value(std::string_view value);

// True when stderr is the systemd journal: $JOURNAL_STREAM is "DEV:INODE" of fd 2.
bool stderr_is_journal();

// The sink behind every logger of a program. configure() switches target and format at run
// time (the loggers keep their sink).
class Sink final : public spdlog::sinks::sink {
 public:
  // `main_component`: the logger name shown without a component ("node").
  Sink(std::string program, std::string main_component);
  ~Sink() override;

  // Applies target and format (the level is the loggers'). Reopens the target: syslog is
  // closed and opened again; stderr is re-examined for the journal.
  void configure(const Options& o) EXCLUDES(mu_);

  void log(const spdlog::details::log_msg& msg) override EXCLUDES(mu_);
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  const std::string program_;
  const std::string main_component_;
  Mutex mu_;
  bool syslog_ GUARDED_BY(mu_) = false;
  bool syslog_open_ GUARDED_BY(mu_) = false;
  bool journal_ GUARDED_BY(mu_) = false;
  Format format_ GUARDED_BY(mu_) = Format::kText;
};

// Sets up the program's loggers `components` (the first is the main one and becomes
// spdlog's default logger), all on one Sink, at o.level. Replaces loggers of those names.
void setup(std::string_view program, const std::vector<std::string>& components, const Options& o);

// Applies `o` to what setup() made: target, format and every logger's level. Without setup()
// it does nothing. For SIGHUP.
void reconfigure(const Options& o);

}  // namespace strop::log
