// mime_fuzz: libFuzzer target for the whole message path of sigs: sigs::compute with every
// native engine, sigs::parse_message with default and tight limits, RFC 2047 and charset
// decoding of the first line, and compare() of the result with itself. Any crash, hang, leak
// or sanitizer report fails the run; invariants that must hold on any input are checked with
// __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sigs/compute.hpp"
#include "sigs/message.hpp"
#include "sigs/signature.hpp"

namespace sigs = strop::sigs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);

  auto set = sigs::compute(raw);
  if (set.ok()) {
    // Every signature has a non-empty value and survives its text form.
    for (const auto& s : set->sigs) {
      if (s.value.empty()) __builtin_trap();
      auto back = sigs::parse_signature(s.text());
      if (!back.ok() || !(*back == s)) __builtin_trap();
    }
    (void)set->text();
    // A message always matches itself when it has any deciding signature.
    auto cmp = sigs::compare(*set, *set);
    bool deciding = !set->of(sigs::Engine::kBody).empty() ||
                    !set->of(sigs::Engine::kFuzzy).empty() ||
                    !set->of(sigs::Engine::kUrl).empty() || !set->of(sigs::Engine::kAttach).empty();
    if (deciding && !cmp.match) __builtin_trap();
    // Deterministic.
    auto again = sigs::compute(raw);
    if (!again.ok() || again->sigs != set->sigs) __builtin_trap();
  }

  // Tight limits exercise every truncation path.
  sigs::MimeLimits tight;
  tight.max_message_bytes = 4096;
  tight.max_header_bytes = 512;
  tight.max_headers = 8;
  tight.max_depth = 2;
  tight.max_parts = 4;
  tight.max_text_bytes = 1024;
  tight.max_urls = 4;
  tight.max_html_depth = 4;
  auto msg = sigs::parse_message(raw, tight);
  if (msg.ok()) {
    if (msg->parts.size() > tight.max_parts) __builtin_trap();
    (void)sigs::compute_native(*msg);
  }

  std::size_t nl = raw.find('\n');
  std::string_view first = raw.substr(0, nl == std::string_view::npos ? raw.size() : nl);
  (void)sigs::decode_rfc2047(first);
  (void)sigs::to_utf8(first, "iso-8859-1");
  (void)sigs::to_utf8(raw.substr(0, 512), "utf-8");
  (void)sigs::to_utf8(raw.substr(0, 512), "big5");
  return 0;
}
