// libFuzzer target: the Pyzor datagram parser (protocol/pyzor_wire.hpp). Invariants: limits
// respected, lookups consistent, an encoded reply of the parsed fields parses back to them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/pyzor_wire.hpp"

using namespace strop::protocol::pyzor;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  auto m = parse_message(in, limits);
  if (!m.ok()) return 0;
  if (m->fields.size() > limits.max_fields) std::abort();
  std::string text = signed_text(*m);
  (void)sign(hash_key("key", "user"), 1, text);
  if (const std::string* t = m->find("Time")) (void)parse_time(*t);
  if (const std::string* pv = m->find("PV")) (void)parse_pv_major(*pv);
  auto digests = m->find_all("Op-Digest");
  if (m->find("Op-Digest") != nullptr && (digests.empty() || digests[0] != *m->find("Op-Digest")))
    std::abort();

  // Fields with plain one-line values re-encode and re-parse identically.
  std::vector<Field> plain;
  for (const auto& f : m->fields) {
    bool ok = !f.value.empty() && f.value.find_first_of("\r\n") == std::string::npos &&
              f.value.front() != ' ' && f.value.front() != '\t' && !f.name.starts_with("From ");
    if (ok) plain.push_back(f);
  }
  auto back = parse_message(encode_message(plain), Limits{1 << 20, 1 << 16, 1 << 16});
  if (!back.ok() || back->fields.size() != plain.size()) std::abort();
  for (std::size_t i = 0; i < plain.size(); ++i) {
    if (back->fields[i].name != plain[i].name) std::abort();
    std::string v = plain[i].value;
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    if (back->fields[i].value != v) std::abort();
  }
  return 0;
}
