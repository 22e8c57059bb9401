#include "agent/node_url.hpp"

#include <cctype>
#include <charconv>

namespace strop::agent {

std::string NodeUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + port;
}

Result<NodeUrl> parse_node_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return make_error(Errc::kInvalidArgument, "node URL '" + std::string(url) + "': " + why);
  };
  NodeUrl out;
  std::string_view rest = url;
  if (auto p = rest.find("://"); p != std::string_view::npos) {
    std::string scheme;
    for (char c : rest.substr(0, p))
      scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "https") {
      out.tls = true;
    } else if (scheme == "udp") {
      out.udp = true;
    } else if (scheme != "http") {
      return bad("unknown scheme '" + scheme + "' (use http, https or udp)");
    }
    rest.remove_prefix(p + 3);
  }
  if (rest.find_first_of("?#") != std::string_view::npos)
    return bad("query or fragment not allowed");
  std::string_view authority = rest;
  if (auto p = rest.find('/'); p != std::string_view::npos) {
    authority = rest.substr(0, p);
    std::string_view path = rest.substr(p);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.base_path = std::string(path);
  }
  if (authority.find('@') != std::string_view::npos) return bad("user information not allowed");
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 literal");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':') != colon) return bad("IPv6 literals must be in brackets");
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
      authority = authority.substr(0, colon);
    }
    out.host = std::string(authority);
  }
  if (out.host.empty()) return bad("empty host");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 32 || c == '/' || c == '\\') return bad("bad host");
  }
  if (out.udp && port.empty()) return bad("a udp:// node needs a port");
  if (out.udp && !out.base_path.empty()) return bad("a udp:// node has no path");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port '" + std::string(port) + "'");
    }
    out.port = std::to_string(value);
  }
  out.text = std::string(out.udp   ? "udp://"
                         : out.tls ? "https://"
                                   : "http://") +
             out.host_header() + out.base_path;
  return out;
}

}  // namespace strop::agent
