// console_assets.hpp (private to strop-node): the web console's static files (node/console/),
// embedded at build time: cmake/embed_console.cmake writes console_assets.cpp in the build tree
// with each file's bytes, Content-Type and ETag (a SHA-256 prefix of its bytes).
// Thread-safety: constant data. Lifetime: static (the views point into static arrays).
#pragma once

#include <span>
#include <string_view>

namespace strop::node {

struct ConsoleAsset {
  std::string_view path;          // relative to /ui/, e.g. "index.html"
  std::string_view content_type;  // e.g. "text/html; charset=utf-8"
  std::string_view etag;          // quoted, e.g. "\"3f2a...\""
  std::string_view body;
};

std::span<const ConsoleAsset> console_assets();

}  // namespace strop::node
