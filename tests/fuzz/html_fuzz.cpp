// html_fuzz: libFuzzer target for sigs::html_to_text (visible text and hrefs of untrusted
// HTML), with default and tight limits. Any crash, hang, leak or sanitizer report fails the run.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sigs/message.hpp"

namespace sigs = strop::sigs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view html(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> urls;
  std::string text = sigs::html_to_text(html, &urls);
  sigs::MimeLimits defaults;
  if (urls.size() > defaults.max_urls) __builtin_trap();

  sigs::MimeLimits tight;
  tight.max_text_bytes = 256;
  tight.max_urls = 2;
  tight.max_html_depth = 3;
  std::vector<std::string> few;
  std::string small = sigs::html_to_text(html, &few, tight);
  if (few.size() > tight.max_urls) __builtin_trap();
  (void)sigs::html_to_text(html, nullptr, tight);
  (void)text;
  (void)small;
  return 0;
}
