// razor_domains.hpp: the Whiplash domain suffix list (private to the razor model).
#pragma once

#include <array>
#include <string_view>

namespace strop::sigs::razor::detail {

// Razor2::Signature::Whiplash @DPL, in order (547 entries, duplicates kept).
extern const std::array<std::string_view, 547> kWhiplashDomains;

}  // namespace strop::sigs::razor::detail
