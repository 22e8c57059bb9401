// libFuzzer target: the federation feed body (protocol/feed.hpp). Invariants: decode never
// crashes and respects the named limits; a batch that decodes re-encodes to exactly the same
// bytes and decodes again to an equal batch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/feed.hpp"

using namespace strop::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto b = decode_feed(in);
  if (!b.ok()) return 0;
  if (b->entries.size() > kMaxFeedEntries) std::abort();
  for (const auto& e : b->entries) {
    if (e.origin.empty() || e.origin.size() > kMaxFeedOrigin || e.sig.value.empty() ||
        e.sig.value.size() > kMaxFeedValue || e.hop > kMaxFeedHop || e.confidence > 100)
      std::abort();
  }
  auto again = encode_feed(*b);
  if (!again.ok() || *again != in) std::abort();
  auto back = decode_feed(*again);
  if (!back.ok() || !(*back == *b)) std::abort();
  return 0;
}
