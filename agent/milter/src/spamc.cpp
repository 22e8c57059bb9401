#include "milter/spamc.hpp"

#include <cctype>
#include <charconv>

#include "base/ascii.hpp"

namespace strop::milter {
namespace spamc {
namespace {

bool parse_double(std::string_view s, double* out) {
  s = trim(s);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string encode_request(std::string_view command, std::string_view message,
                           std::string_view user) {
  std::string out;
  out.reserve(message.size() + 96);
  out.append(command).append(" SPAMC/1.5\r\n");
  out.append("Content-length: ").append(std::to_string(message.size())).append("\r\n");
  if (!user.empty()) out.append("User: ").append(user).append("\r\n");
  out.append("\r\n");
  out.append(message);
  return out;
}

Result<Reply> parse_reply(std::string_view raw, const Limits& limits) {
  if (raw.size() > limits.max_reply_bytes) {
    return make_error(Errc::kLimitExceeded, "spamd reply too long");
  }
  auto eol = raw.find("\r\n");
  if (eol == std::string_view::npos) return make_error(Errc::kMalformed, "no status line");
  std::string_view status = raw.substr(0, eol);
  if (!status.starts_with("SPAMD/")) return make_error(Errc::kMalformed, "not a SPAMD reply");
  auto sp1 = status.find(' ');
  if (sp1 == std::string_view::npos) return make_error(Errc::kMalformed, "bad status line");
  std::string_view rest = status.substr(sp1 + 1);
  auto sp2 = rest.find(' ');
  std::string_view code = rest.substr(0, sp2);
  int code_v = -1;
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), code_v);
  if (ec != std::errc() || p != code.data() + code.size()) {
    return make_error(Errc::kMalformed, "bad status code");
  }
  if (code_v != 0) {
    return make_error(Errc::kUnavailable, "spamd: " + std::string(trim(rest)));
  }
  Reply r;
  bool have_spam = false;
  std::size_t content_length = std::string_view::npos;
  std::size_t pos = eol + 2;
  for (;;) {
    auto e = raw.find("\r\n", pos);
    if (e == std::string_view::npos) {
      return make_error(Errc::kMalformed, "unterminated reply headers");
    }
    std::string_view line = raw.substr(pos, e - pos);
    pos = e + 2;
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return make_error(Errc::kMalformed, "bad header line");
    std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Spam")) {
      // "True ; 1000.0 / 5.0"
      auto semi = value.find(';');
      auto slash = value.find('/');
      if (semi == std::string_view::npos || slash == std::string_view::npos || slash < semi) {
        return make_error(Errc::kMalformed, "bad Spam header");
      }
      std::string_view flag = trim(value.substr(0, semi));
      if (iequals(flag, "True") || iequals(flag, "Yes")) {
        r.spam = true;
      } else if (!(iequals(flag, "False") || iequals(flag, "No"))) {
        return make_error(Errc::kMalformed, "bad Spam flag");
      }
      if (!parse_double(value.substr(semi + 1, slash - semi - 1), &r.score) ||
          !parse_double(value.substr(slash + 1), &r.threshold)) {
        return make_error(Errc::kMalformed, "bad Spam score");
      }
      have_spam = true;
    } else if (iequals(name, "Content-length")) {
      std::size_t v = 0;
      auto [q, ec2] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec2 != std::errc() || q != value.data() + value.size()) {
        return make_error(Errc::kMalformed, "bad Content-length");
      }
      content_length = v;
    }
  }
  if (!have_spam) return make_error(Errc::kMalformed, "no Spam header");
  std::string_view body = raw.substr(pos);
  if (content_length != std::string_view::npos && content_length < body.size()) {
    body = body.substr(0, content_length);
  }
  body = trim(body);
  while (!body.empty()) {
    auto comma = body.find(',');
    std::string_view sym = trim(body.substr(0, comma));
    if (!sym.empty()) {
      if (r.symbols.size() >= limits.max_symbols) break;
      r.symbols.emplace_back(sym);
    }
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return r;
}

}  // namespace spamc

Result<spamc::Reply> SpamdClient::score(std::string_view message, const Deadline& deadline) {
  auto conn = connect_to(options_.address, deadline.min(Deadline::after(options_.connect_timeout)));
  if (!conn) return conn.error();
  auto w = send_all(*conn, spamc::encode_request("SYMBOLS", message, options_.user), deadline);
  if (!w) return w.error();
  shutdown_write(*conn);
  auto reply = recv_all(*conn, options_.limits.max_reply_bytes, deadline);
  if (!reply) return reply.error();
  return spamc::parse_reply(*reply, options_.limits);
}

}  // namespace strop::milter
