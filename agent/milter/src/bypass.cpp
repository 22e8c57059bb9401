#include "milter/bypass.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "milter/text.hpp"

namespace strop::milter {

std::optional<IpAddress> parse_ip(std::string_view text) {
  std::string s(trim(text));
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (istarts_with(s, "IPv6:")) s = s.substr(5);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
      IpAddress v4;
      v4.family = 4;
      std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
      return v4;
    }
    a.family = 6;
    return a;
  }
  return std::nullopt;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family != net.family) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), net.bytes.data(), static_cast<std::size_t>(full)) != 0) {
    return false;
  }
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[static_cast<std::size_t>(full)] & mask) ==
         (net.bytes[static_cast<std::size_t>(full)] & mask);
}

Result<Cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  auto slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return make_error(Errc::kInvalidArgument, "bad network '" + std::string(text) + "'");
  Cidr c;
  c.net = *ip;
  int max = ip->family == 4 ? 32 : 128;
  c.prefix = max;
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    int v = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v < 0 || v > max) {
      return make_error(Errc::kInvalidArgument, "bad prefix in '" + std::string(text) + "'");
    }
    c.prefix = v;
  }
  c.text = std::string(text);
  return c;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Classic two-pointer wildcard matching with one backtrack point: O(n*m) worst case,
  // no recursion.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || ascii_lower(pattern[p]) == ascii_lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string bare_address(std::string_view a) {
  a = trim(a);
  if (!a.empty() && a.front() == '<') {
    auto close = a.find('>');
    a = a.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  }
  return to_lower(trim(a));
}

Result<Bypass> Bypass::create(const BypassOptions& options) {
  Bypass b;
  for (const auto& n : options.networks) {
    auto c = parse_cidr(n);
    if (!c) return c.error();
    b.networks_.push_back(*c);
  }
  b.authenticated_ = options.authenticated;
  b.senders_ = options.senders;
  b.recipients_ = options.recipients;
  return b;
}

std::optional<std::string> Bypass::client(std::string_view ip) const {
  if (networks_.empty()) return std::nullopt;
  auto a = parse_ip(ip);
  if (!a) return std::nullopt;
  for (const auto& n : networks_) {
    if (n.contains(*a)) return "trusted network " + n.text;
  }
  return std::nullopt;
}

std::optional<std::string> Bypass::sender(std::string_view auth_authen,
                                          std::string_view mail_from) const {
  if (authenticated_ && !trim(auth_authen).empty()) {
    return "authenticated as " + sanitize(trim(auth_authen), 100);
  }
  std::string from = bare_address(mail_from);
  for (const auto& p : senders_) {
    if (glob_match(p, from)) return "sender matches " + p;
  }
  return std::nullopt;
}

std::optional<std::string> Bypass::recipients(const std::vector<std::string>& rcpts) const {
  if (recipients_.empty() || rcpts.empty()) return std::nullopt;
  std::string last;
  for (const auto& r : rcpts) {
    std::string addr = bare_address(r);
    bool any = false;
    for (const auto& p : recipients_) {
      if (glob_match(p, addr)) {
        any = true;
        last = p;
        break;
      }
    }
    if (!any) return std::nullopt;
  }
  return "recipients match " + last;
}

}  // namespace strop::milter
