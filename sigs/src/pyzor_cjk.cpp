// pyzor_cjk.cpp: CPython's multibyte CJK decoders (Modules/cjkcodecs) for the pyzor model.
#include "pyzor_internal.hpp"

namespace strop::sigs::pyzor::detail {

bool cjk_supported(std::string_view module) {
  (void)module;
  return false;
}

DecodeStatus cjk_decode(std::string_view module, std::string_view in, DecodeErrors errors,
                        std::u32string* out) {
  (void)module;
  (void)in;
  (void)errors;
  (void)out;
  return DecodeStatus::kLookupError;
}

}  // namespace strop::sigs::pyzor::detail
