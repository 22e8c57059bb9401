// log.cpp: the one log layout (log.hpp).
#include "base/log.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace strop::log {

namespace {

void append_2(std::string* out, long v) {
  out->push_back(static_cast<char>('0' + (v / 10) % 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

void append_json_string(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\u00");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xf]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

bool is_fixed_key(std::string_view k) {
  return k == "time" || k == "level" || k == "program" || k == "component" || k == "msg";
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  long frac = static_cast<long>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + frac / 100));
  append_2(&out, frac % 100);
  long off = tm.tm_gmtoff / 60;  // minutes east of UTC
  out.push_back(off < 0 ? '-' : '+');
  if (off < 0) off = -off;
  append_2(&out, off / 60);
  out.push_back(':');
  append_2(&out, off % 60);
  return out;
}

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return LOG_DEBUG;
    case spdlog::level::info: return LOG_INFO;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::critical: return LOG_CRIT;
    default: return LOG_INFO;
  }
}

std::vector<std::pair<std::string, std::string>> logfmt_fields(std::string_view m) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < m.size()) {
    while (i < m.size() && m[i] == ' ') ++i;
    std::size_t start = i;
    while (i < m.size() && m[i] != ' ' && m[i] != '=' && m[i] != '"') ++i;
    if (i >= m.size() || m[i] != '=' || i == start) {
      // Not a key: skip the word (a quoted run as one word).
      bool quoted = false;
      while (i < m.size() && (quoted || m[i] != ' ')) {
        if (m[i] == '"') quoted = !quoted;
        ++i;
      }
      continue;
    }
    std::string key(m.substr(start, i - start));
    ++i;  // '='
    std::string value;
    if (i < m.size() && m[i] == '"') {
      ++i;
      while (i < m.size() && m[i] != '"') {
        if (m[i] == '\\' && i + 1 < m.size()) ++i;
        value.push_back(m[i++]);
      }
      if (i < m.size()) ++i;  // closing quote
    } else {
      while (i < m.size() && m[i] != ' ') value.push_back(m[i++]);
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

std::string logfmt_value(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    plain = plain && c != ' ' && c != '"' && c != '=' && c != '\\' && u >= 0x20 && u != 0x7f;
  }
  if (plain) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  out.push_back('"');
  return out;
}

std::string format_line(const Record& r, Format format, bool journal) {
  std::string out;
  out.reserve(r.message.size() + 80);
  if (journal) {
    out.push_back('<');
    out.push_back(static_cast<char>('0' + syslog_priority(r.level)));
    out.push_back('>');
  }
  if (format == Format::kJson) {
    out.append("{\"time\":");
    append_json_string(&out, rfc3339(r.time));
    out.append(",\"level\":");
    append_json_string(&out, level_name(r.level));
    out.append(",\"program\":");
    append_json_string(&out, r.program);
    if (!r.component.empty()) {
      out.append(",\"component\":");
      append_json_string(&out, r.component);
    }
    out.append(",\"msg\":");
    append_json_string(&out, r.message);
    std::vector<std::string> seen;
    for (auto& [k, v] : logfmt_fields(r.message)) {
      if (is_fixed_key(k)) continue;
      bool dup = false;
      for (const auto& s : seen) dup = dup || s == k;
      if (dup) continue;
      seen.push_back(k);
      out.push_back(',');
      append_json_string(&out, k);
      out.push_back(':');
      append_json_string(&out, v);
    }
    out.append("}\n");
    return out;
  }
  if (!journal) {
    out.append(rfc3339(r.time));
    out.push_back(' ');
  }
  out.append(level_name(r.level));
  out.push_back(' ');
  out.append(r.program);
  out.append(": ");
  // The component, unless the message already starts with it ("storage: indexed ...").
  if (!r.component.empty() &&
      !(r.message.size() > r.component.size() + 1 && r.message.starts_with(r.component) &&
        r.message.substr(r.component.size(), 2) == ": ")) {
    out.append(r.component);
    out.append(": ");
  }
  out.append(r.message);
  out.push_back('\n');
  return out;
}

bool stderr_is_journal() {
  const char* e = std::getenv("JOURNAL_STREAM");
  if (e == nullptr) return false;
  std::string_view s(e);
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long dev = 0, ino = 0;
  auto r1 = std::from_chars(s.data(), s.data() + colon, dev);
  auto r2 = std::from_chars(s.data() + colon + 1, s.data() + s.size(), ino);
  if (r1.ec != std::errc() || r1.ptr != s.data() + colon || r2.ec != std::errc() ||
      r2.ptr != s.data() + s.size())
    return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

// ---- Sink -----------------------------------------------------------------------------------

Sink::Sink(std::string program, std::string main_component)
    : program_(std::move(program)), main_component_(std::move(main_component)) {}

Sink::~Sink() {
  MutexLock lock(&mu_);
  if (syslog_open_) ::closelog();
}

void Sink::configure(const Options& o) {
  MutexLock lock(&mu_);
  format_ = o.format == "json" ? Format::kJson : Format::kText;
  journal_ = stderr_is_journal();
  if (syslog_open_) {
    ::closelog();
    syslog_open_ = false;
  }
  syslog_ = o.target == "syslog";
  if (syslog_) {
    // openlog keeps the pointer: program_ lives as long as the sink.
    ::openlog(program_.c_str(), LOG_PID, LOG_MAIL);
    syslog_open_ = true;
  }
}

void Sink::log(const spdlog::details::log_msg& msg) {
  Record r;
  r.time = msg.time;
  r.level = msg.level;
  r.program = program_;
  std::string_view name(msg.logger_name.data(), msg.logger_name.size());
  if (name != main_component_) r.component = name;
  r.message = std::string_view(msg.payload.data(), msg.payload.size());
  MutexLock lock(&mu_);
  if (syslog_) {
    std::string line;
    if (format_ == Format::kJson) {
      line = format_line(r, Format::kJson, false);
      line.pop_back();
    } else {
      if (!r.component.empty()) line.append(r.component).append(": ");
      line.append(r.message);
    }
    ::syslog(syslog_priority(r.level), "%s", line.c_str());
    return;
  }
  write_all(STDERR_FILENO, format_line(r, format_, journal_));
}

// ---- process-wide setup ---------------------------------------------------------------------

namespace {

struct Registry {
  Mutex mu;
  std::shared_ptr<Sink> sink GUARDED_BY(mu);
  std::vector<std::string> components GUARDED_BY(mu);
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: loggers may log at exit
  return *r;
}

}  // namespace

void setup(std::string_view program, const std::vector<std::string>& components, const Options& o) {
  auto sink = std::make_shared<Sink>(std::string(program),
                                     components.empty() ? std::string() : components.front());
  sink->configure(o);
  auto level = spdlog::level::from_str(o.level);
  for (const auto& name : components) {
    spdlog::drop(name);
    auto l = std::make_shared<spdlog::logger>(name, sink);
    l->set_level(level);
    spdlog::register_logger(l);
  }
  if (!components.empty()) spdlog::set_default_logger(spdlog::get(components.front()));
  Registry& reg = registry();
  MutexLock lock(&reg.mu);
  reg.sink = std::move(sink);
  reg.components = components;
}

void reconfigure(const Options& o) {
  Registry& reg = registry();
  std::shared_ptr<Sink> sink;
  std::vector<std::string> components;
  {
    MutexLock lock(&reg.mu);
    sink = reg.sink;
    components = reg.components;
  }
  if (!sink) return;
  sink->configure(o);
  auto level = spdlog::level::from_str(o.level);
  for (const auto& name : components) {
    if (auto l = spdlog::get(name)) l->set_level(level);
  }
}

}  // namespace strop::log
