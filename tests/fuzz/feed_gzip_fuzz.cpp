// libFuzzer target: a federation feed response as received with Content-Encoding gzip
// (protocol::decode_feed_body: bounded decompression, then the strop-feed/1 decoder).
// Invariants: never crashes, never yields more than kMaxFeedBody decoded bytes (a bomb is
// refused); a batch that decodes re-encodes, compresses and decodes again to an equal batch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/gzip.hpp"
#include "protocol/feed.hpp"

using namespace strop::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto plain = strop::gzip_decompress(in, kMaxFeedBody);
  if (plain.ok() && plain->size() > kMaxFeedBody) std::abort();
  auto b = decode_feed_body(in, "gzip");
  if (!b.ok()) return 0;
  if (!plain.ok() || b->entries.size() > kMaxFeedEntries) std::abort();
  auto bytes = encode_feed(*b);
  if (!bytes.ok() || *bytes != *plain) std::abort();
  auto back = decode_feed_body(strop::gzip_compress(*bytes), "gzip");
  if (!back.ok() || !(*back == *b)) std::abort();
  return 0;
}
