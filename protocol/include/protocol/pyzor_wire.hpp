// pyzor_wire.hpp: the Pyzor 2.1 datagram format (Debian pyzor 1:1.0.0-6), as a strop-node
// listener needs it: a request is an RFC 5322 header block with no body, parsed as pyzord
// parses it (Python's email package, compat32 policy, after pyzord's "\n\n" -> "\n"
// collapse); replies are header blocks in pyzord's field order; accounts sign requests with
// a nested SHA-1 MAC (User/Time/Sig). ../shared/specs/pyzor.md is the reference;
// docs/protocol.md "## Pyzor listener" documents what the node does with it.
//
// Pure functions, no sockets or clock: unit-tested and fuzzed without a network. Untrusted
// input is bounded by Limits; hitting a limit is an Error value.
// Thread-safety: all functions are pure and may be called from any thread. Returned values
// own their bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strop::protocol::pyzor {

inline constexpr unsigned short kDefaultPort = 24441;
inline constexpr std::string_view kProtocolVersion = "2.1";
inline constexpr int kProtocolMajor = 2;
inline constexpr std::string_view kAnonymousUser = "anonymous";
// pong's "always hits" count (Python's sys.maxsize on 64-bit).
inline constexpr std::int64_t kPongCount = 9223372036854775807LL;
// pyzord's accepted clock skew for signed requests, seconds.
inline constexpr std::int64_t kDefaultTimeWindowSeconds = 300;

struct Limits {
  // Largest datagram read (pyzord's max_packet_size). Default: 8192 bytes.
  std::size_t max_datagram_bytes = 8192;
  // Header fields in one request. The client sends at most ~17 (10 digests). Default: 64.
  std::size_t max_fields = 64;
  // Op-Digest fields processed in one report/whitelist (the client packs 10). Default: 32.
  std::size_t max_digests = 32;
};

struct Field {
  std::string name;   // as received (lookups are case-insensitive)
  std::string value;  // leading SP/HT removed, continuation lines kept, final line end removed
};

struct Message {
  std::vector<Field> fields;  // in wire order

  // The first field named `name` (case-insensitive), as Python's msg[name]; nullptr if none.
  const std::string* find(std::string_view name) const;
  // Every field named `name`, in order (msg.get_all(name)).
  std::vector<std::string_view> find_all(std::string_view name) const;
};

// Parses a request datagram as pyzord does: every "\n\n" becomes "\n", a "\n" is appended,
// then the header block is read with Python's feedparser rules (universal newlines; a header
// line is `name:` with name bytes 0x21-0x7E except ':', or a continuation starting with SP
// or HT, or "From " on the first line; the block ends at an empty line or the first line
// that is none of these; continuation lines before any field are dropped).
// Garbage never fails: it yields the fields that parse (maybe none). Errors: kLimitExceeded
// (datagram larger than max_datagram_bytes, more than max_fields fields).
Result<Message> parse_message(std::string_view datagram, const Limits& limits = {});

// The text pyzord signs: every field except Sig as "Name: value", joined by "\n",
// surrounding whitespace stripped (msg.as_string().strip() after del msg["Sig"]).
std::string signed_text(const Message& m);

// hash_key(): lowercase hex SHA-1 of user + ":" + lowercase(key).
std::string hash_key(std::string_view key, std::string_view user);
// sign_msg(): lowercase hex SHA-1( SHA-1(text) || ":" <timestamp> ":" hashed_key ).
std::string sign(std::string_view hashed_key, std::int64_t timestamp, std::string_view text);

// Parses a Time field as Python's int() does for the values clients send (optional
// surrounding whitespace, optional sign, ASCII digits). nullopt when it would raise.
std::optional<std::int64_t> parse_time(std::string_view s);
// Parses a PV field's major number as int(float(pv)) does for "2.1"-style values; nullopt
// when float() would raise (or the value is not finite).
std::optional<std::int64_t> parse_pv_major(std::string_view s);

// A reply: "Name: value\n" per field, then "\n" (Message.as_string()).
std::string encode_message(const std::vector<Field>& fields);

}  // namespace strop::protocol::pyzor
