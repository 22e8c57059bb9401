// libFuzzer target for the native API's decoders of untrusted bytes (node side: check,
// report/revoke and register requests; client side: every response and the identity file).
// Besides "no crash, no UB, no leak" it checks two differential properties:
//  1. the private pull reader accepts exactly the JSON texts nlohmann-json accepts (within
//     its depth bound);
//  2. whenever the fast check decoder accepts a request, a straightforward nlohmann-based
//     reference decoder accepts it too and yields the same messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/src/json_reader.hpp"
#include "sigs/signature.hpp"

namespace {

using nlohmann::json;
using strop::protocol::CheckRequest;

std::size_t depth_of(std::string_view s) {
  std::size_t depth = 0, max = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max = std::max(max, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max;
}

void check_syntax_differential(std::string_view in) {
  if (in.size() >= 3 && in.substr(0, 3) == "\xEF\xBB\xBF") return;  // nlohmann skips a BOM
  if (depth_of(in) > 32) return;
  strop::protocol::detail::JsonReader r(in, 64);
  bool mine = r.skip_value() && r.at_end();
  bool theirs = json::accept(in.begin(), in.end());
  // nlohmann-json treats a NUL byte as the end of input ("1\0garbage" is accepted); ours
  // is strict. With a NUL present, only "we accept => they accept" must hold.
  if (in.find('\0') != std::string_view::npos) {
    if (mine && !theirs) std::abort();
    return;
  }
  if (mine != theirs) std::abort();
}

void check_semantic_differential(std::string_view in, const CheckRequest& got) {
  json j = json::parse(in.begin(), in.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) std::abort();
  auto it = j.find("messages");
  if (it == j.end() || !it->is_array() || it->size() != got.messages.size()) std::abort();
  for (std::size_t i = 0; i < got.messages.size(); ++i) {
    const json& m = (*it)[i];
    if (!m.is_object()) std::abort();
    auto id = m.find("id");
    std::string want_id = (id != m.end() && id->is_string()) ? id->get<std::string>() : "";
    if (want_id != got.messages[i].id) std::abort();
    auto sigs = m.find("sigs");
    std::size_t n = (sigs != m.end() && sigs->is_array()) ? sigs->size() : 0;
    if (n != got.messages[i].sigs.size()) std::abort();
    for (std::size_t k = 0; k < n; ++k) {
      if (!(*sigs)[k].is_string()) std::abort();
      // The decoder accepts what parse_signature accepts (e.g. "body:HEX" for "body/1:HEX")
      // and keeps the canonical form: compare with that, not with the raw string.
      auto want = strop::sigs::parse_signature((*sigs)[k].get<std::string>());
      if (!want.ok() || want->text() != got.messages[i].sigs[k].text()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  strop::protocol::Limits limits;
  limits.max_messages = 64;
  limits.max_sigs_per_message = 64;

  check_syntax_differential(in);

  auto check = strop::protocol::decode_check_request(in, limits);
  if (check.ok()) {
    check_semantic_differential(in, *check);
    // What we decoded re-encodes to something we decode to the same value.
    auto again = strop::protocol::decode_check_request(strop::protocol::encode(*check), limits);
    if (!again.ok() || again->messages.size() != check->messages.size()) std::abort();
  } else {
    (void)strop::protocol::api_errc_for(check.error());
  }
  auto vote = strop::protocol::decode_vote_request(in, limits);
  if (vote.ok() && !check.ok()) std::abort();  // a valid vote request is a valid check request

  (void)strop::protocol::decode_register_request(in, limits);
  (void)strop::protocol::decode_check_response(in);
  (void)strop::protocol::decode_vote_response(in);
  (void)strop::protocol::decode_register_response(in);
  (void)strop::protocol::decode_state_response(in);
  (void)strop::protocol::decode_error_body(in);
  (void)strop::protocol::decode_identity(in);
  return 0;
}
