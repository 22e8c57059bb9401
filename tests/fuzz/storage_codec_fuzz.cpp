// libFuzzer target: the storage codecs that see untrusted or on-disk bytes.
//  - codec::decode_fuzzy / fuzzy_equal_positions_text take signature values straight from
//    reporters and checkers; decode_fuzzy must agree with sigs::decode_fuzzy exactly.
//  - the record decoders must reject (never crash on) any bytes a damaged file might hold,
//    and round-trip what they accept.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "storage/src/codec.hpp"

using namespace strop::storage::codec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto a = decode_fuzzy(in);
  auto b = strop::sigs::decode_fuzzy(in);
  if (a.has_value() != b.has_value() || (a && *a != *b)) std::abort();
  if (a && strop::sigs::encode_fuzzy(*a) != in) std::abort();
  int eq = fuzzy_equal_positions_text(in, in);
  if (eq != (in.size() == 256 ? 32 : -1)) std::abort();
  if (auto r = decode_sig(in)) {
    if (decode_sig(encode_sig(*r))->value != r->value) std::abort();
  }
  (void)peek_sig(in);
  if (auto v = decode_vote(in)) {
    if (encode_vote(*v) != in.substr(0, kVoteSize) && in[3] == 0) std::abort();
  }
  if (auto r = decode_reporter(in)) {
    auto again = decode_reporter(encode_reporter(*r));
    if (!again || again->name != r->name || again->secret != r->secret) std::abort();
  }
  if (auto a = decode_allow(in)) {
    auto again = decode_allow(encode_allow(a->since, a->value));
    if (!again || again->value != a->value || again->since != a->since) std::abort();
  }
  (void)decode_counts(in);
  (void)decode_u32(in);
  (void)decode_u64(in);
  return 0;
}
