// http_framing.hpp (private to strop_node): the HTTP/1.1 framing checks the node applies on
// top of Beast's parser (RFC 9112): obs-fold in the raw header bytes, and Transfer-Encoding /
// Content-Length combinations that could let a body be read as a second request. Pure
// functions of their input; used by server.cpp and fuzzed by http_framing_fuzz.cpp.
// Thread-safety: stateless.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

namespace strop::node {

// True when the header section at the start of `raw` (as far as it has arrived) contains
// obs-fold, a line break followed by SP or HTAB (RFC 9112 §5.2). Beast would join the
// folded lines silently; the node rejects them, as RFC 9112 allows, so that no proxy in
// front of it can see different header fields than it does. Leading empty lines are
// skipped (RFC 9112 §2.2); the scan stops at the empty line that ends the header.
bool has_obs_fold(std::string_view raw);

// RFC 9112 §6: the only transfer coding the node implements is one final "chunked", and
// a message with both Transfer-Encoding and Content-Length (or Transfer-Encoding in
// HTTP/1.0) has untrustworthy framing. Returns the reason such a request is refused, or an
// empty string when the framing is acceptable. (Beast itself refuses a second
// Transfer-Encoding field and Content-Length after Transfer-Encoding: chunked, but treats
// an unknown coding as "no body".)
std::string framing_error(const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace strop::node
