// milter_rules_fuzz: libFuzzer target for strop-milter's rules-file parser (untrusted text in,
// RuleSet or a clean error out), and evaluation of what parsed against a fixed message and
// the input itself as a raw message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "milter/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  strop::milter::RuleLimits limits;
  limits.max_file_bytes = 64u << 10;  // keep each run short; the limit itself is exercised
  limits.max_regex_mem = 1 << 20;
  auto rules = strop::milter::parse_rules(text, limits);
  if (!rules.ok()) return 0;
  strop::sigs::Message msg;
  msg.headers.push_back({"Subject", "Cheap pills and free money"});
  msg.headers.push_back({"From", "spammer@example.org"});
  strop::sigs::Part part;
  part.text = "Buy now! http://bit.ly/x alpha beta gamma";
  part.urls = {"http://bit.ly/x"};
  msg.parts.push_back(part);
  strop::milter::RuleInput in;
  in.message = &msg;
  in.raw = text;
  in.node_confidence = 60;
  in.spamd_score = 3;
  (void)strop::milter::evaluate(*rules, in);
  in.message = nullptr;
  (void)strop::milter::evaluate(*rules, in);
  return 0;
}
