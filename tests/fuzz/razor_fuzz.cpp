// razor_fuzz: libFuzzer target of the legacy engines (razor-agents and pyzor models):
// whole files through razor-check's intake and the pyzor digest, the same bytes as an
// uploaded Razor part (the node's sign_part path), and as HTML for pyzor's stripper.
// Registered in tests/fuzz/CMakeLists.txt; seeds: tests/fuzz/corpus/razor_fuzz.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sigs/legacy.hpp"
#include "sigs/pyzor.hpp"
#include "sigs/razor.hpp"
#include "sigs/src/pyzor_internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::vector<strop::sigs::Signature> sigs;
  strop::sigs::add_razor_signatures(raw, "7542-10", true, true, &sigs);
  for (const auto& s : sigs) {
    if (s.value.empty()) __builtin_trap();
  }
  if (std::optional<std::string> d = strop::sigs::pyzor_digest(raw)) {
    if (d->size() != 40) __builtin_trap();
  }
  static const strop::sigs::razor::Ep4 kEp4 = *strop::sigs::razor::parse_ep4("7542-10");
  (void)strop::sigs::razor::sign_part(std::string(raw), kEp4);
  std::u32string text(raw.begin(), raw.end());
  for (char32_t& c : text) c = static_cast<unsigned char>(c);
  (void)strop::sigs::pyzor::html_to_text(text);
  (void)strop::sigs::pyzor::decode(raw.substr(0, 4096), "iso2022_jp",
                                   strop::sigs::pyzor::DecodeErrors::kReplace);
  return 0;
}
