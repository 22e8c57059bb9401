// admin_api_internal.hpp (private to strop-node, for admin_api.cpp, its tests and the
// admin_path_fuzz target): the admin API's parsing of a request path, which runs on
// untrusted bytes before the request is authenticated (the route) and after (the ID).
//
// Thread-safety: pure functions. Lifetime: a Route's string_views point into the path given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/result.hpp"
#include "sigs/signature.hpp"

namespace strop::node::admin_internal {

inline constexpr std::string_view kSigPrefix = "/admin/sig/";
// Longest ID accepted in a path: the engine name, ':' and the store's longest value, with
// room for percent-encoding.
inline constexpr std::size_t kMaxIdChars = 4096;

enum class Action : std::uint8_t { kShow, kDelete, kAllow, kUnallow };

struct Route {
  Action action = Action::kShow;
  std::string_view id;      // still percent-encoded; never empty
  std::string_view method;  // the one method the route takes
};

// The route of a path (without its query) under /admin/; nullopt when there is none. The ID
// may hold '/' (the engine names do: "body/1:..."), so the action is a known last segment.
std::optional<Route> route_of(std::string_view path, std::string_view method);

// The signature a route's ID names: at most kMaxIdChars (kLimitExceeded), percent-decoded
// strictly (a stray '%' is kMalformed), then sigs::parse_signature (kMalformed).
Result<sigs::Signature> parse_id(std::string_view id);

}  // namespace strop::node::admin_internal
