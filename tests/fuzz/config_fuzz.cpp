// libFuzzer target for configuration files as an operator writes them: the TOML text goes
// through strop-node's and strop-milter's loaders (toml++ and the typed key tables of
// base/config_table.hpp, with their type, range and unknown-key checks), then validate().
// Besides "no crash, no UB, no leak" it checks the printer's promise: what a loader accepts,
// printed (--print-config), loads again, and prints the same text again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milter/config.hpp"
#include "node/config.hpp"

namespace {

template <class Parse, class Print, class Validate>
void round_trip(std::string_view text, Parse parse, Print print, Validate validate) {
  auto c = parse(text);
  if (!c) return;
  (void)validate(*c);
  const std::string printed = print(*c);
  auto again = parse(printed);
  if (!again) std::abort();  // the printer wrote what the loader refuses
  if (print(*again) != printed) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip(
      text, [](std::string_view t) { return strop::node::parse_config(t, "fuzz.toml"); },
      [](const strop::node::Config& c) { return strop::node::to_toml(c); },
      [](const strop::node::Config& c) { return strop::node::validate(c); });
  round_trip(
      text, [](std::string_view t) { return strop::milter::parse_config(t, "fuzz.toml"); },
      [](const strop::milter::Config& c) { return strop::milter::print_config(c); },
      [](const strop::milter::Config& c) { return strop::milter::validate(c); });
  return 0;
}
