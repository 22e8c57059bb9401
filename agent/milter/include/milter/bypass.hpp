// bypass.hpp: messages the milter lets through unscanned: clients in trusted networks,
// authenticated senders (SMTP AUTH, the {auth_authen} macro), envelope senders matching a
// pattern, and messages whose recipients all match a pattern.
//
// Patterns are case-insensitive globs over the bare address ('*' any run, '?' one
// character), e.g. "*@example.org" or "postmaster@*". Networks are CIDR blocks, IPv4 or IPv6
// (an IPv4-mapped IPv6 client address matches IPv4 blocks). A Bypass is immutable after
// create() and safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strop::milter {

struct IpAddress {
  int family = 0;  // 4 or 6
  std::array<std::uint8_t, 16> bytes{};
};

// Parses a numeric IPv4 or IPv6 address; "::ffff:a.b.c.d" becomes IPv4.
std::optional<IpAddress> parse_ip(std::string_view text);

struct Cidr {
  IpAddress net;
  int prefix = 0;
  std::string text;
  bool contains(const IpAddress& a) const;
};

// "10.0.0.0/8", "::1/128", or a bare address (a full-length prefix).
Result<Cidr> parse_cidr(std::string_view text);

// Case-insensitive glob with '*' and '?'; linear in practice (no backtracking explosion).
bool glob_match(std::string_view pattern, std::string_view text);

// "<Foo@Example.org>" -> "foo@example.org".
std::string bare_address(std::string_view envelope_address);

struct BypassOptions {
  std::vector<std::string> networks;    // Default: none
  bool authenticated = true;            // Default: skip SMTP-authenticated senders
  std::vector<std::string> senders;     // Default: none
  std::vector<std::string> recipients;  // Default: none
};

class Bypass {
 public:
  Bypass() = default;
  static Result<Bypass> create(const BypassOptions& options);

  // Each returns the reason when the message is to bypass scanning.
  std::optional<std::string> client(std::string_view ip) const;
  std::optional<std::string> sender(std::string_view auth_authen, std::string_view mail_from) const;
  // All recipients (at least one) match a recipient pattern.
  std::optional<std::string> recipients(const std::vector<std::string>& rcpts) const;

  // Which decisions can bypass at all (the milter needs the MTA's reply only for those steps).
  bool has_networks() const { return !networks_.empty(); }
  bool has_sender_rules() const { return authenticated_ || !senders_.empty(); }
  bool has_recipient_rules() const { return !recipients_.empty(); }

 private:
  std::vector<Cidr> networks_;
  bool authenticated_ = true;
  std::vector<std::string> senders_, recipients_;
};

}  // namespace strop::milter
