// http_framing.cpp: the node's RFC 9112 framing checks (http_framing.hpp).
#include "http_framing.hpp"

#include "base/ascii.hpp"

namespace strop::node {

namespace http = boost::beast::http;

bool has_obs_fold(std::string_view raw) {
  std::size_t i = 0;
  while (raw.substr(i, 2) == "\r\n") i += 2;
  for (;;) {
    auto eol = raw.find("\r\n", i);
    if (eol == std::string_view::npos || eol + 2 >= raw.size()) return false;  // undecided yet
    char next = raw[eol + 2];
    if (next == ' ' || next == '\t') return true;
    if (next == '\r') return false;  // the empty line: end of the header section
    i = eol + 2;
  }
}

std::string framing_error(const http::request<http::string_body>& req) {
  bool te = false;
  std::size_t chunked = 0;
  std::string unsupported;
  for (const auto& f : req) {
    if (f.name() != http::field::transfer_encoding) continue;
    te = true;
    std::string_view v(f.value().data(), f.value().size());
    while (!v.empty()) {
      auto comma = v.find(',');
      auto item = v.substr(0, comma);
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      item = trim(item, " \t");
      if (item.empty()) continue;
      if (iequals(item, "chunked")) {
        ++chunked;
      } else if (unsupported.empty()) {
        unsupported.assign(item.substr(0, 32));
      }
    }
  }
  if (!te) return {};
  if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  if (req.count(http::field::content_length)) return "both Transfer-Encoding and Content-Length";
  if (!unsupported.empty())
    return "unsupported transfer coding \"" + unsupported + "\" (only chunked is implemented)";
  if (chunked > 1) return "chunked applied more than once";
  if (chunked == 0) return "empty Transfer-Encoding";
  return {};
}

}  // namespace strop::node
