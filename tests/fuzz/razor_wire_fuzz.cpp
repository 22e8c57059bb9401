// libFuzzer target: the Razor2 request parser (protocol/razor_wire.hpp) fed as a stream,
// as a listener feeds it: every complete request is classified, answered, and uploads are
// split and rebuilt. Invariants: progress on every complete request, limits respected,
// replies re-parse to what was encoded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/razor_wire.hpp"

using namespace strop::protocol::razor;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_request_bytes = 64 * 1024;
  std::string buf(in);
  for (int guard = 0; guard < 10000 && !buf.empty(); ++guard) {
    std::size_t used = 0;
    auto r = next_request(buf, limits, &used);
    if (!r.ok() || !r->has_value()) break;
    if (used == 0 || used > buf.size() || used > limits.max_request_bytes) std::abort();
    const Request& req = **r;
    if (req.queries.empty() || req.queries.size() > limits.max_batch_queries + 1) std::abort();
    std::vector<Sis> replies;
    for (const auto& q : req.queries) {
      Action a = classify(q);
      (void)action_name(a);
      Sis reply;
      reply.add("err", std::to_string(kErrBadRequest));
      if (a == Action::kAuth) reply.add("x", auth_response(q.get("aresp"), q.get("user")));
      if (a == Action::kReportUpload) {
        auto u = split_upload(q.get("message"));
        std::string m = rebuild_message(u, "strop-fuzz-boundary");
        if (u.parts.size() > 1 && m.find("strop-fuzz-boundary--") == std::string::npos)
          std::abort();
      }
      // Whatever a client sent, echoed values survive the escaping.
      for (const auto& [k, v] : q.pairs) {
        if (k.size() < 8 && k.find_first_of("&=\r\n-") == std::string::npos && !k.empty())
          reply.add(k, v);
        if (reply.pairs.size() > 4) break;
      }
      replies.push_back(std::move(reply));
    }
    std::string wire = encode_reply(replies);
    if (replies.size() == 1) {
      auto back = parse_sis(wire);
      if (!back.ok()) std::abort();
      for (const auto& [k, v] : replies[0].pairs) {
        if (back->get(k) != *replies[0].find(k)) std::abort();
      }
    }
    buf.erase(0, used);
  }
  return 0;
}
