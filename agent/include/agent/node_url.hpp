// node_url.hpp: parsing of node addresses ("http://host:port", "https://[::1]:7443/prefix").
//
// A node URL names one Strop node's native API: scheme http or https, a host (name, IPv4
// or bracketed IPv6 literal), an optional port (default 80 / 443) and an optional path
// prefix under which the node's /v1 API lives. A bare "host:port" means http.
// "udp://host:port" names a node's strop-udp/1 check listener (port required, no path):
// such a node answers checks only. Pure values, no I/O; every function is thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strop::agent {

struct NodeUrl {
  bool tls = false;       // https
  bool udp = false;       // udp:// (strop-udp/1 checks only)
  std::string host;       // without brackets for IPv6 literals
  std::string port;       // decimal, never empty after parsing
  std::string base_path;  // "" or "/prefix" (no trailing slash)
  std::string text;       // normalised form, e.g. "http://127.0.0.1:7713"

  // "host:port" as written in a Host header (IPv6 literals bracketed).
  std::string host_header() const;
};

// Parses `url`. Errors (kInvalidArgument) name what is wrong: unknown scheme, empty host,
// bad port, query or fragment present.
Result<NodeUrl> parse_node_url(std::string_view url);

}  // namespace strop::agent
