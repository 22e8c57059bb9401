#include "milter/clamd.hpp"

#include <algorithm>
#include <cctype>

namespace strop::milter {
namespace clamd {

std::string chunk_header(std::uint32_t length) {
  std::string h(4, '\0');
  h[0] = static_cast<char>((length >> 24) & 0xff);
  h[1] = static_cast<char>((length >> 16) & 0xff);
  h[2] = static_cast<char>((length >> 8) & 0xff);
  h[3] = static_cast<char>(length & 0xff);
  return h;
}

std::string encode_instream(std::string_view data, std::size_t chunk_bytes) {
  std::string out(kInstreamCommand);
  out.reserve(out.size() + data.size() + 4 * (data.size() / chunk_bytes + 2));
  while (!data.empty()) {
    std::size_t n = std::min(chunk_bytes, data.size());
    out += chunk_header(static_cast<std::uint32_t>(n));
    out.append(data.substr(0, n));
    data.remove_prefix(n);
  }
  out += kEndOfStream;
  return out;
}

Reply parse_reply(std::string_view raw) {
  while (!raw.empty() && (raw.back() == '\0' || raw.back() == '\n' || raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  Reply r;
  r.text = std::string(raw);
  // IDSESSION replies carry "<id>: ".
  std::size_t i = 0;
  while (i < raw.size() && std::isdigit(static_cast<unsigned char>(raw[i]))) ++i;
  if (i > 0 && raw.substr(i).starts_with(": ")) raw.remove_prefix(i + 2);
  if (raw.starts_with("stream: ")) raw.remove_prefix(8);
  if (raw == "OK") {
    r.status = Status::kClean;
    return r;
  }
  constexpr std::string_view kFound = " FOUND";
  if (raw.size() > kFound.size() && raw.ends_with(kFound) && !raw.ends_with(" ERROR")) {
    auto name = raw.substr(0, raw.size() - kFound.size());
    bool printable = std::all_of(name.begin(), name.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    if (printable && !name.empty()) {
      r.status = Status::kInfected;
      r.virus = std::string(name);
      return r;
    }
  }
  r.status = Status::kError;
  return r;
}

}  // namespace clamd

Result<VirusScanResult> ClamdClient::scan_one(const Endpoint& ep, std::string_view message,
                                              const Deadline& deadline) {
  auto conn = connect_to(ep, deadline.min(Deadline::after(options_.connect_timeout)));
  if (!conn) return conn.error();
  Socket& s = *conn;
  std::string buf(clamd::kInstreamCommand);
  bool send_failed = false;
  std::string_view rest = message;
  do {
    std::size_t n = std::min(options_.chunk_bytes, rest.size());
    if (n > 0) {
      buf += clamd::chunk_header(static_cast<std::uint32_t>(n));
      buf.append(rest.substr(0, n));
      rest.remove_prefix(n);
    }
    if (rest.empty()) buf += clamd::kEndOfStream;
    auto w = send_all(s, buf, deadline);
    buf.clear();
    if (!w) {
      if (w.error().code == Errc::kTimeout) return w.error();
      // clamd closes early when StreamMaxLength is exceeded: read its reply anyway.
      send_failed = true;
      break;
    }
  } while (!rest.empty());

  std::string reply;
  char tmp[512];
  for (;;) {
    auto n = recv_some(s, tmp, sizeof tmp, deadline);
    if (!n) {
      if (send_failed && reply.empty()) {
        return make_error(Errc::kUnavailable, "clamd " + ep.text() + " closed the stream");
      }
      return make_error(n.error().code, "clamd " + ep.text() + ": " + n.error().message);
    }
    if (*n == 0) break;
    reply.append(tmp, *n);
    if (reply.find('\0') != std::string::npos) break;
    if (reply.size() > options_.max_reply_bytes) {
      return make_error(Errc::kMalformed, "clamd " + ep.text() + ": reply too long");
    }
  }
  if (reply.empty()) {
    return make_error(Errc::kUnavailable, "clamd " + ep.text() + " closed without a reply");
  }
  auto r = clamd::parse_reply(reply.substr(0, reply.find('\0')));
  switch (r.status) {
    case clamd::Status::kClean: return VirusScanResult{false, {}, ep.text()};
    case clamd::Status::kInfected: return VirusScanResult{true, r.virus, ep.text()};
    case clamd::Status::kError: break;
  }
  if (r.text.find("size limit") != std::string::npos) {
    return make_error(Errc::kLimitExceeded, "clamd " + ep.text() + ": " + r.text);
  }
  return make_error(Errc::kMalformed, "clamd " + ep.text() + ": " + r.text);
}

Result<VirusScanResult> ClamdClient::scan(std::string_view message, const Deadline& deadline) {
  const std::size_t n = options_.addresses.size();
  if (n == 0) return make_error(Errc::kInvalidArgument, "no clamd address configured");
  const std::size_t first = next_.fetch_add(1, std::memory_order_relaxed);
  Result<VirusScanResult> last = make_error(Errc::kUnavailable, "no clamd answered");
  for (std::size_t i = 0; i < n; ++i) {
    last = scan_one(options_.addresses[(first + i) % n], message, deadline);
    if (last.ok()) return last;
    // A verdict-level error (size limit, bad reply) would be the same elsewhere; connection
    // failures move on to the next address while the deadline allows.
    Errc c = last.error().code;
    if (c == Errc::kLimitExceeded || c == Errc::kMalformed || deadline.expired()) break;
  }
  return last;
}

Result<std::string> ClamdClient::ping(const Deadline& deadline) {
  Result<std::string> last = make_error(Errc::kUnavailable, "no clamd address configured");
  for (const auto& ep : options_.addresses) {
    auto conn = connect_to(ep, deadline);
    if (!conn) {
      last = conn.error();
      continue;
    }
    auto w = send_all(*conn, clamd::kPingCommand, deadline);
    if (!w) {
      last = w.error();
      continue;
    }
    auto r = recv_all(*conn, options_.max_reply_bytes, deadline);
    if (!r) {
      last = r.error();
      continue;
    }
    std::string s = *r;
    while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.pop_back();
    return s;
  }
  return last;
}

}  // namespace strop::milter
