// razor_wire.hpp: the Vipul's Razor v2 wire format (razor-agents 2.85 / 2.84 on the wire),
// as a strop-node listener needs it: SIS lines, batches and mail uploads, request framing,
// reply framing, query classification, the a=ai/a=auth challenge-response and the split of
// an uploaded mail into its signed parts. ../shared/specs/razor2.md §8 is the reference;
// docs/protocol.md "## Razor2 listener" documents what the node does with it.
//
// Everything here is a pure function of its arguments (no sockets, no clock, no store), so
// the framing and parsing are unit-tested and fuzzed without a network. Untrusted input is
// bounded by Limits; hitting a limit is an Error value, never a crash.
// Thread-safety: all functions are pure and may be called from any thread. Returned values
// own their bytes (no views into the input).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace strop::protocol::razor {

inline constexpr unsigned short kDefaultPort = 2703;

// Named limits on what one client may send.
struct Limits {
  // One SIS line, CRLF included (a check, report or register line is < 200 bytes).
  // Default: 4 KiB.
  std::size_t max_line_bytes = 4 * 1024;
  // One request: a batch or a mail upload, framing included. razor-report keeps an upload
  // below bqs*1024 = 128 KiB (razor2.md §8.3). Default: 256 KiB.
  std::size_t max_request_bytes = 256 * 1024;
  // Queries in one batch. The client sends at most bql (4) per batch, and every reply must
  // fit in one read of 1024 bytes (a reply line is <= 17 bytes + CRLF). Default: 48.
  std::size_t max_batch_queries = 48;
  // key=value pairs in one SIS line. Default: 32.
  std::size_t max_pairs = 32;
};

// ---- SIS lines ------------------------------------------------------------------------

// One SIS line: key/value pairs in wire order, values URL-unescaped.
struct Sis {
  std::vector<std::pair<std::string, std::string>> pairs;

  // The value of the LAST pair named `key` (the client's "a later duplicate wins" rule), or
  // nullptr when absent.
  const std::string* find(std::string_view key) const;
  // find(key) or "" when absent.
  std::string_view get(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  Sis& add(std::string key, std::string value) {
    pairs.emplace_back(std::move(key), std::move(value));
    return *this;
  }
};

// URI::Escape as the client uses it: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX
// (uppercase hex).
std::string url_escape(std::string_view s);
// URI::Escape::uri_unescape: %XX (either case) becomes the byte; a '%' not followed by two
// hex digits is kept as is.
std::string url_unescape(std::string_view s);

// Parses one line as the client's parsesis does: a trailing "\n" then "\r" is removed, the
// line is split at '&', each piece at '=' (a value is cut at a second raw '='; a piece
// without '=' has an empty value), and values are URL-unescaped when `unescape` (the raw
// lines of a batch are not escaped by the client). Errors: kLimitExceeded (> max_pairs).
Result<Sis> parse_sis(std::string_view line, bool unescape = true, const Limits& limits = {});

// "k=v&k=v\r\n" with URL-escaped values (keys are written as given, in order).
std::string make_sis(const Sis& sis);

// ---- Requests -----------------------------------------------------------------------------

enum class Framing : unsigned char {
  kSingle,    // one plain SIS line
  kBatch,     // "-<sis>\r\n<sis>\r\n...\r\n.\r\n": one query per line
  kTemplate,  // "-k=v&k=?\r\nv1,v2\r\n...\r\n.\r\n" (parsed, never sent by razor-agents 2.85)
  kUpload,    // "-a=r&message=*\r\n<MAIL>\r\n.\r\n": one query whose '*' value is the mail
};

struct Request {
  Framing framing = Framing::kSingle;
  std::vector<Sis> queries;  // kUpload: one query, the '*' key holds the mail bytes
  // Replies are a batch when more than one query was sent, a plain line for one (§8.2).
};

// Finds one complete request at the start of `buf`. Returns nullopt when more bytes are
// needed (the caller reads more; `buf` may then hold a partial request of up to
// max_request_bytes), or the request and, in *consumed, the bytes it used. A request is a
// line ending in '\n' unless its first byte is '-', in which case it ends at the first
// "\r\n.\r\n" (uploads are not dot-stuffed, §8.3). Errors: kLimitExceeded (a line, the
// request or the batch exceeds `limits`, also while incomplete), kMalformed (an empty batch
// or template row count mismatch).
Result<std::optional<Request>> next_request(std::string_view buf, const Limits& limits,
                                            std::size_t* consumed);

// The reply to a request with replies.size() queries, framed as the client expects: nothing
// for none, a plain line for one, a batch "-l1\r\nl2\r\n...\r\n.\r\n" for more. Values are
// URL-escaped in every line (the client unescapes every reply line).
std::string encode_reply(std::span<const Sis> replies);

// ---- Query semantics ----------------------------------------------------------------------

enum class Action : unsigned char {
  kIdentify,      // cn=razor-agents&cv=2.84 (after an a=cg greeting): never answered
  kQuit,          // a=q: never answered; the server closes
  kGetState,      // a=g&pm=state
  kGetCsl,        // a=g&pm=csl (catalogue servers)
  kGetNsl,        // a=g&pm=nsl (nomination servers)
  kGetOther,      // a=g with another pm
  kCheck,         // a=c&e=N[&ep4=..]&s=SIG
  kReportCheck,   // a=r&e=N[&ep4=..]&s=SIG (report step 1: "do you know it?")
  kReportUpload,  // a=r&message=<mail> (report step 2, after err=230)
  kRevoke,        // a=revoke&e=N&s=SIG
  kRegister,      // a=reg&registrar=..[&user=..][&pass=..]
  kAuthInit,      // a=ai&user=..&cn=..&cv=..
  kAuth,          // a=auth&aresp=..
  kUnknown,
};

Action classify(const Sis& query);
// Stable lowercase name for logs ("check", "report-upload", ...).
std::string_view action_name(Action a);

// Error codes on the wire. The client knows 210, 213 and 230; any other err counts as "not
// spam" (check) or "failed" (report). The 2xx codes above 230 are Strop's own (documented in
// docs/protocol.md).
inline constexpr int kErrUserExists = 210;
inline constexpr int kErrUnknownUser = 213;
inline constexpr int kErrSendMail = 230;
inline constexpr int kErrBadRequest = 240;        // unparsable or unknown query
inline constexpr int kErrNotAuthenticated = 241;  // report/revoke before a successful a=auth
inline constexpr int kErrForbidden = 242;         // registration closed, reporter disabled
inline constexpr int kErrLimit = 243;             // a named limit was hit
inline constexpr int kErrBusy = 244;              // rate limited or writer queue full: retry later
inline constexpr int kErrInternal = 245;          // storage failure

// ---- Authentication -----------------------------------------------------------------------

// aresp for password `pass` and challenge `achal` (razor2.md §8.6): iv1 = 0x36*64 XOR pass,
// iv2 = 0x5C*64 XOR pass (the shorter operand zero-extended), inner = sha1_hex(iv2 || achal),
// outer = sha1_hex(iv1 || inner), aresp = hextobase64(outer): 28 characters.
std::string auth_response(std::string_view pass, std::string_view achal);

// ---- Uploads ------------------------------------------------------------------------------

// An uploaded mail: the original headers and the signed parts (each "X-Razor2-Agent: ...\n
// <Content-* headers>\n\n<body>", before any decoding), as razor-report sends them.
struct Upload {
  std::string headers;
  std::vector<std::string> parts;
};

// Splits MAIL (§8.3): the client joins the headers and parts with "\r\n" and turns every CRLF
// inside them into LF, so a part starts at each "\r\nX-Razor2-Agent:". The headers keep
// their final "\n". Pure; never fails.
Upload split_upload(std::string_view mail);

// Rebuilds a MIME message from an upload so the node can compute its own engines over it:
// the original headers without their Content-* / MIME-Version fields, then for one part its
// Content-* headers and body, for several a multipart/<subtype of the original, else mixed>
// wrapper around the parts. `boundary` must not occur in any part (the caller picks one).
std::string rebuild_message(const Upload& upload, std::string_view boundary);

}  // namespace strop::protocol::razor
