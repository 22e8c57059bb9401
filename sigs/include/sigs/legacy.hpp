// legacy.hpp: entry points of the bit-exact legacy engines (razor-e4, razor-e8, pyzor),
// used by compute(). Details live in razor.hpp and pyzor.hpp.
// Pure, no I/O, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigs/signature.hpp"

namespace strop::sigs {

// Appends the Razor2 signatures of `raw` (as razor-check reads a file) to `out`: one
// razor-e4 per signed part when `e4`, the razor-e8 host signatures when `e8`.
void add_razor_signatures(std::string_view raw, std::string_view ep4, bool e4, bool e8,
                          std::vector<Signature>* out);

// The 40-hex Pyzor digest of `raw`, exactly as `pyzor digest` prints it; nullopt when pyzor
// would produce none.
std::optional<std::string> pyzor_digest(std::string_view raw);

}  // namespace strop::sigs
