#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>
#include <syslog.h>

#include <cstdio>

#include "commands.hpp"

namespace strop::node::cli {

std::optional<Config> load_effective_config(const CommonOptions& common, int* exit_code) {
  Config c;
  if (!common.config_file.empty()) {
    auto loaded = load_config(common.config_file);
    if (!loaded) {
      std::fprintf(stderr, "strop-node: %s\n", loaded.error().message.c_str());
      *exit_code = loaded.error().code == Errc::kIo ? EX_NOINPUT : EX_CONFIG;
      return std::nullopt;
    }
    c = std::move(*loaded);
  }
  if (!common.data_dir.empty()) c.data_dir = common.data_dir;
  return c;
}

int print_effective_config(const Config& c) {
  if (auto v = validate(c); !v) {
    std::fprintf(stderr, "strop-node: %s\n", v.error().message.c_str());
    return EX_CONFIG;
  }
  std::fputs(to_toml(c).c_str(), stdout);
  return 0;
}

void setup_logging(const Config& c) {
  std::vector<spdlog::sink_ptr> sinks;
  if (c.log == "syslog") {
    sinks.push_back(
        std::make_shared<spdlog::sinks::syslog_sink_mt>("strop-node", LOG_PID, LOG_MAIL, false));
  } else {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  auto level = spdlog::level::from_str(c.log_level);
  for (const char* name : {"node", "storage"}) {
    spdlog::drop(name);
    auto l = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
    l->set_level(level);
    if (c.log == "syslog") {
      l->set_pattern("%n: %v");
    } else {
      l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
    }
    l->flush_on(spdlog::level::info);
    spdlog::register_logger(l);
  }
  spdlog::set_default_logger(spdlog::get("node"));
}

}  // namespace strop::node::cli
