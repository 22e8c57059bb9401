// legacy.cpp: entry points of the bit-exact legacy engines (see legacy.hpp).
#include "sigs/legacy.hpp"

namespace strop::sigs {

void add_razor_signatures(std::string_view raw, std::string_view ep4, bool e4, bool e8,
                          std::vector<Signature>* out) {
  (void)raw;
  (void)ep4;
  (void)e4;
  (void)e8;
  (void)out;
}

std::optional<std::string> pyzor_digest(std::string_view raw) {
  (void)raw;
  return std::nullopt;
}

}  // namespace strop::sigs
