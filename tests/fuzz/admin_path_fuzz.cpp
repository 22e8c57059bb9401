// libFuzzer target for the admin API's request parsing (node/src/admin_api_internal.hpp): the
// route, parsed before the request is authenticated, and after it the signature ID or the
// reporter name (percent-decoded), the query of GET /admin/reporters and the body of a trust
// change (the rest of the input serves as both). Input: one byte choosing the method, then
// the path. Besides "no crash, no UB, no leak" it checks that a route's ID is a non-empty
// piece of the path under /admin/sig/ or /admin/reporter/ (none for /admin/reporters), that
// the method a route asks for is GET, POST or DELETE, that an accepted ID names a signature
// whose text form, plain or percent-encoded, parses back to it, that an accepted name is
// 1..64 bytes, and that a page's limit is within 1..kMaxReporterPage.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/hex.hpp"
#include "node/src/admin_api_internal.hpp"

namespace admin = strop::node::admin_internal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "POST", "DELETE", "PUT", "get"};
  const std::string_view method = kMethods[data[0] % std::size(kMethods)];
  const std::string_view path(reinterpret_cast<const char*>(data + 1), size - 1);

  if (auto page = admin::parse_reporter_query(path); page) {
    if (page->limit == 0 || page->limit > admin::kMaxReporterPage) std::abort();
  }
  if (auto trust = admin::parse_trust_body(path); trust) {
    if (path.size() > admin::kMaxTrustBody) std::abort();
  }
  if (auto peer = admin::parse_peer_body(path); peer) {
    if (path.size() > admin::kMaxPeerBody || peer->secret.size() < admin::kMinPeerSecret ||
        peer->secret.size() > admin::kMaxPeerSecret)
      std::abort();
  }

  auto route = admin::route_of(path, method);
  if (!route) return 0;
  if (route->method != "GET" && route->method != "POST" && route->method != "DELETE") std::abort();
  if (admin::reporter_action(route->action)) {
    if (route->action == admin::Action::kReporterList) {
      if (path != admin::kReportersPath || !route->id.empty()) std::abort();
      return 0;
    }
    if (!path.starts_with(admin::kReporterPrefix) || route->id.empty()) std::abort();
    if (route->id.data() != path.data() + admin::kReporterPrefix.size()) std::abort();
    auto name = admin::parse_name(route->id);
    if (name && (name->empty() || name->size() > 64)) std::abort();
    return 0;
  }
  if (admin::peer_action(route->action)) {
    if (route->action == admin::Action::kPeerList || route->action == admin::Action::kPeerAdd) {
      if (path != admin::kPeersPath || !route->id.empty()) std::abort();
      return 0;
    }
    if (!path.starts_with(admin::kPeerPrefix) || route->id.empty()) std::abort();
    if (route->id.data() != path.data() + admin::kPeerPrefix.size()) std::abort();
    return 0;
  }
  if (!path.starts_with(admin::kSigPrefix) || route->id.empty()) std::abort();
  if (route->id.data() != path.data() + admin::kSigPrefix.size()) std::abort();

  auto sig = admin::parse_id(route->id);
  if (!sig) return 0;
  if (route->id.size() > admin::kMaxIdChars) std::abort();
  const std::string text = sig->text();
  auto again = admin::parse_id(text);
  if (!again || !(*again == *sig)) std::abort();
  std::string encoded;
  for (unsigned char c : text) {
    encoded += '%';
    strop::append_hex(&encoded, c, strop::HexCase::kUpper);
  }
  if (encoded.size() <= admin::kMaxIdChars) {
    auto decoded = admin::parse_id(encoded);
    if (!decoded || !(*decoded == *sig)) std::abort();
  }
  return 0;
}
