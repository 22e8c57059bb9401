// libFuzzer target for the HTTP request framing as the node sees it: Beast's request parser
// with the node's default header and body limits, then the node's own RFC 9112 checks
// (node/src/http_framing.hpp). Besides "no crash, no UB, no leak" it checks that a request
// the node would accept never carries Transfer-Encoding together with Content-Length, nor a
// Transfer-Encoding other than one final "chunked".
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/config.hpp"
#include "node/src/http_framing.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const strop::node::Config defaults;
  if (strop::node::has_obs_fold(in)) return 0;  // refused before the parser sees it
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(defaults.max_header_bytes));
  parser.body_limit(defaults.limits.max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!parser.is_header_done()) return 0;
  const auto& req = parser.get();
  if (!strop::node::framing_error(req).empty()) return 0;
  auto te = req.find(http::field::transfer_encoding);
  if (te != req.end()) {
    if (req.count(http::field::content_length) != 0 || req.version() < 11) std::abort();
    if (!parser.chunked()) std::abort();  // accepted framing is exactly one final chunked
  }
  return 0;
}
