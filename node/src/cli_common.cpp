// cli_common.cpp: what every strop-node command shares: the effective configuration and the
// loggers (base/log.hpp's one layout).
#include <sysexits.h>

#include <cstdio>

#include "base/log.hpp"
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
  log::Options o;
  o.target = c.log;
  o.format = c.log_format;
  o.level = c.log_level;
  log::setup("strop-node", {"node", "storage"}, o);
}

}  // namespace strop::node::cli
