// libFuzzer target: the strop-udp/1 codecs (protocol/udp_wire.hpp). Invariants: limits
// respected; a decoded request re-encodes to the same bytes; a reply encoded for a request
// is never larger than it and decodes back; decode_reply never crashes on anything.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/udp_wire.hpp"

using namespace strop::protocol::udp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)decode_reply(in);
  (void)looks_like_reply(in);
  Limits limits;
  auto req = decode_request(in, limits);
  if (!req.ok()) return 0;
  if (req->messages.empty() || req->messages.size() > limits.max_messages) std::abort();
  CheckReply rep;
  rep.request_id = req->request_id;
  for (const auto& m : req->messages) {
    if (m.empty() || m.size() > limits.max_sigs_per_message) std::abort();
    // Worst case: every signature matched, one record per signature (more than the node sends).
    MessageResult r;
    r.spam = true;
    r.confidence = 100;
    for (const auto& s : m) r.matches.push_back({s.engine, 100, 65535, 65535});
    rep.results.push_back(std::move(r));
  }
  auto again = encode_request(*req);
  if (!again.ok() || *again != in) std::abort();
  auto out = encode_reply(rep, in.size());
  if (!out.ok() || out->size() > in.size()) std::abort();
  auto back = decode_reply(*out);
  if (!back.ok() || back->request_id != req->request_id ||
      back->results.size() != req->messages.size())
    std::abort();
  return 0;
}
