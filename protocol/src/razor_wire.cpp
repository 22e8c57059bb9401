// razor_wire.cpp: Razor2 SIS lines, request framing, replies, auth math, uploads
// (razor_wire.hpp; razor2.md §8).
#include "protocol/razor_wire.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

#include "base/ascii.hpp"
#include "base/digest.hpp"
#include "base/hex.hpp"
#include "sigs/razor.hpp"

namespace strop::protocol::razor {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kBatchEnd = "\r\n.\r\n";
constexpr std::string_view kPartMarker = "\r\nX-Razor2-Agent:";

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Perl's split /SEP/, s: fields between separators, trailing empty fields removed.
std::vector<std::string_view> perl_split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// SHA-1 of a || b, lower-case hex.
std::string sha1_hex(std::string_view a, std::string_view b) {
  Digest d(DigestAlgorithm::kSha1);
  d.update(a);
  d.update(b);
  return d.finish_hex();
}

// Splits a header block into fields (each with its continuation lines, LF-terminated).
std::vector<std::string_view> header_fields(std::string_view block) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t end = pos;
    // A field ends before the next line that does not start with SP or HT.
    for (;;) {
      std::size_t nl = block.find('\n', end);
      if (nl == std::string_view::npos) {
        end = block.size();
        break;
      }
      end = nl + 1;
      if (end >= block.size() || (block[end] != ' ' && block[end] != '\t')) break;
    }
    fields.push_back(block.substr(pos, end - pos));
    pos = end;
  }
  return fields;
}

bool is_content_field(std::string_view field) {
  return istarts_with(field, "content-") || istarts_with(field, "mime-version:") ||
         istarts_with(field, "mime-version ");
}

// The subtype of a "Content-Type: multipart/<subtype>" field among `fields`, or "".
std::string multipart_subtype(const std::vector<std::string_view>& fields) {
  for (auto f : fields) {
    if (!istarts_with(f, "content-type:")) continue;
    std::string_view v = f.substr(13);
    while (!v.empty() &&
           (v.front() == ' ' || v.front() == '\t' || v.front() == '\n' || v.front() == '\r')) {
      v.remove_prefix(1);
    }
    if (!istarts_with(v, "multipart/")) return "";
    v.remove_prefix(10);
    std::string sub;
    for (char c : v) {
      bool tok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_';
      if (!tok || sub.size() >= 40) break;
      sub += ascii_lower(c);
    }
    return sub;
  }
  return "";
}

// A part's headers (without the X-Razor2-Agent line, LF-terminated) and body.
std::pair<std::string, std::string_view> part_pieces(std::string_view part) {
  std::string_view head;
  std::string_view body;
  auto sep = part.find("\n\n");
  if (sep == std::string_view::npos) {
    head = part;
  } else {
    head = part.substr(0, sep + 1);
    body = part.substr(sep + 2);
  }
  std::string out;
  for (auto f : header_fields(head)) {
    if (istarts_with(f, "x-razor2-agent:")) continue;
    out.append(f);
    if (out.back() != '\n') out += '\n';
  }
  return {std::move(out), body};
}

}  // namespace

// ---- SIS ----------------------------------------------------------------------------------

const std::string* Sis::find(std::string_view key) const {
  for (auto it = pairs.rbegin(); it != pairs.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

std::string_view Sis::get(std::string_view key) const {
  const std::string* v = find(key);
  return v ? std::string_view(*v) : std::string_view();
}

std::string url_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      append_hex(&out, c, HexCase::kUpper);
    }
  }
  return out;
}

std::string url_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_digit_value(s[i + 1]);
      int lo = hex_digit_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

Result<Sis> parse_sis(std::string_view line, bool unescape, const Limits& limits) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Sis sis;
  auto pieces = perl_split(line, "&");
  if (pieces.size() > limits.max_pairs) {
    return make_error(Errc::kLimitExceeded,
                      "more than " + std::to_string(limits.max_pairs) + " pairs in a line");
  }
  sis.pairs.reserve(pieces.size());
  for (auto piece : pieces) {
    // split /=/: key, then the value up to a second '=' (trailing empty fields dropped).
    auto eq = piece.find('=');
    std::string_view key = piece.substr(0, eq);
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = piece.substr(eq + 1);
      auto eq2 = value.find('=');
      if (eq2 != std::string_view::npos) value = value.substr(0, eq2);
    }
    sis.pairs.emplace_back(std::string(key), unescape ? url_unescape(value) : std::string(value));
  }
  return sis;
}

std::string make_sis(const Sis& sis) {
  std::string out;
  bool first = true;
  for (const auto& [k, v] : sis.pairs) {
    if (!first) out += '&';
    first = false;
    out += k;
    out += '=';
    out += url_escape(v);
  }
  out += kCrlf;
  return out;
}

// ---- Requests -----------------------------------------------------------------------------

Result<std::optional<Request>> next_request(std::string_view buf, const Limits& limits,
                                            std::size_t* consumed) {
  *consumed = 0;
  if (buf.empty()) return std::optional<Request>();
  if (buf.front() != '-') {
    auto nl = buf.find('\n');
    if (nl == std::string_view::npos) {
      if (buf.size() >= limits.max_line_bytes) {
        return make_error(Errc::kLimitExceeded,
                          "line longer than " + std::to_string(limits.max_line_bytes) + " bytes");
      }
      return std::optional<Request>();
    }
    if (nl + 1 > limits.max_line_bytes) {
      return make_error(Errc::kLimitExceeded,
                        "line longer than " + std::to_string(limits.max_line_bytes) + " bytes");
    }
    auto sis = parse_sis(buf.substr(0, nl + 1), true, limits);
    if (!sis) return sis.error();
    Request r;
    r.framing = Framing::kSingle;
    r.queries.push_back(std::move(*sis));
    *consumed = nl + 1;
    return std::optional<Request>(std::move(r));
  }

  // A batch, template or upload: the first line ends at the first CRLF, the request at the
  // first "\r\n.\r\n" from there.
  auto first_end = buf.find(kCrlf);
  if (first_end == std::string_view::npos) {
    if (buf.size() >= limits.max_line_bytes) {
      return make_error(Errc::kLimitExceeded,
                        "line longer than " + std::to_string(limits.max_line_bytes) + " bytes");
    }
    return std::optional<Request>();
  }
  if (first_end + 2 > limits.max_line_bytes) {
    return make_error(Errc::kLimitExceeded,
                      "line longer than " + std::to_string(limits.max_line_bytes) + " bytes");
  }
  auto end = buf.find(kBatchEnd, first_end);
  if (end == std::string_view::npos) {
    if (buf.size() >= limits.max_request_bytes) {
      return make_error(
          Errc::kLimitExceeded,
          "request larger than " + std::to_string(limits.max_request_bytes) + " bytes");
    }
    return std::optional<Request>();
  }
  std::size_t total = end + kBatchEnd.size();
  if (total > limits.max_request_bytes) {
    return make_error(Errc::kLimitExceeded,
                      "request larger than " + std::to_string(limits.max_request_bytes) + " bytes");
  }
  std::string_view first = buf.substr(1, first_end - 1);
  std::string_view rest =
      end > first_end ? buf.substr(first_end + 2, end - first_end - 2) : std::string_view();
  if (end == first_end) rest = std::string_view();

  Request r;
  if (first.find('?') != std::string_view::npos) {
    // Template: keys whose value is "?" take their values from each row, in order.
    r.framing = Framing::kTemplate;
    auto tmpl = parse_sis(first, true, limits);
    if (!tmpl) return tmpl.error();
    std::vector<std::string> seq;
    Sis base;
    for (auto& [k, v] : tmpl->pairs) {
      if (v == "?") {
        seq.push_back(k);
      } else {
        base.pairs.emplace_back(k, v);
      }
    }
    for (auto row : perl_split(rest, kCrlf)) {
      if (r.queries.size() >= limits.max_batch_queries) {
        return make_error(
            Errc::kLimitExceeded,
            "more than " + std::to_string(limits.max_batch_queries) + " queries in a batch");
      }
      auto values = perl_split(row, ",");
      Sis q = base;
      for (std::size_t i = 0; i < seq.size(); ++i) {
        q.pairs.emplace_back(seq[i], i < values.size() ? std::string(values[i]) : std::string());
      }
      r.queries.push_back(std::move(q));
    }
    if (r.queries.empty()) return make_error(Errc::kMalformed, "template batch without rows");
  } else if (first.find('*') != std::string_view::npos) {
    // Upload: the first key whose value is "*" holds everything up to the terminator.
    r.framing = Framing::kUpload;
    auto q = parse_sis(first, true, limits);
    if (!q) return q.error();
    for (auto& [k, v] : q->pairs) {
      if (v == "*") {
        v.assign(rest);
        break;
      }
    }
    r.queries.push_back(std::move(*q));
  } else {
    r.framing = Framing::kBatch;
    auto q = parse_sis(first, true, limits);
    if (!q) return q.error();
    r.queries.push_back(std::move(*q));
    for (auto line : perl_split(rest, kCrlf)) {
      if (r.queries.size() >= limits.max_batch_queries) {
        return make_error(
            Errc::kLimitExceeded,
            "more than " + std::to_string(limits.max_batch_queries) + " queries in a batch");
      }
      if (line.size() + 2 > limits.max_line_bytes) {
        return make_error(Errc::kLimitExceeded,
                          "line longer than " + std::to_string(limits.max_line_bytes) + " bytes");
      }
      auto s = parse_sis(line, false, limits);
      if (!s) return s.error();
      r.queries.push_back(std::move(*s));
    }
  }
  *consumed = total;
  return std::optional<Request>(std::move(r));
}

std::string encode_reply(std::span<const Sis> replies) {
  if (replies.empty()) return {};
  if (replies.size() == 1) return make_sis(replies[0]);
  std::string out = "-";
  for (const auto& r : replies) out += make_sis(r);
  out += ".\r\n";
  return out;
}

// ---- Semantics ----------------------------------------------------------------------------

Action classify(const Sis& q) {
  const std::string* a = q.find("a");
  if (a == nullptr) return q.has("cn") ? Action::kIdentify : Action::kUnknown;
  const std::string& v = *a;
  if (v == "c") return Action::kCheck;
  if (v == "r") return q.has("message") ? Action::kReportUpload : Action::kReportCheck;
  if (v == "revoke") return Action::kRevoke;
  if (v == "q") return Action::kQuit;
  if (v == "g") {
    std::string_view pm = q.get("pm");
    if (pm == "state") return Action::kGetState;
    if (pm == "csl") return Action::kGetCsl;
    if (pm == "nsl") return Action::kGetNsl;
    return Action::kGetOther;
  }
  if (v == "reg") return Action::kRegister;
  if (v == "ai") return Action::kAuthInit;
  if (v == "auth") return Action::kAuth;
  return Action::kUnknown;
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kIdentify: return "identify";
    case Action::kQuit: return "quit";
    case Action::kGetState: return "state";
    case Action::kGetCsl: return "csl";
    case Action::kGetNsl: return "nsl";
    case Action::kGetOther: return "get";
    case Action::kCheck: return "check";
    case Action::kReportCheck: return "report-check";
    case Action::kReportUpload: return "report-upload";
    case Action::kRevoke: return "revoke";
    case Action::kRegister: return "register";
    case Action::kAuthInit: return "auth-init";
    case Action::kAuth: return "auth";
    case Action::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string auth_response(std::string_view pass, std::string_view achal) {
  std::size_t n = std::max<std::size_t>(64, pass.size());
  std::string iv1(n, '\0');
  std::string iv2(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    auto p = static_cast<unsigned char>(i < pass.size() ? pass[i] : 0);
    unsigned char a = i < 64 ? 0x36 : 0;
    unsigned char b = i < 64 ? 0x5C : 0;
    iv1[i] = static_cast<char>(a ^ p);
    iv2[i] = static_cast<char>(b ^ p);
  }
  std::string inner = sha1_hex(iv2, achal);
  std::string outer = sha1_hex(iv1, inner);
  return sigs::razor::hextobase64(outer);
}

// ---- Uploads ------------------------------------------------------------------------------

Upload split_upload(std::string_view mail) {
  Upload u;
  std::string_view marker = kPartMarker;
  auto first = mail.find(marker);
  if (first == std::string_view::npos) {
    // Not the 2.x part layout: fall back to "\r\n" as the only separator.
    marker = kCrlf;
    first = mail.find(marker);
    if (first == std::string_view::npos) {
      u.headers.assign(mail);
      return u;
    }
  }
  u.headers.assign(mail.substr(0, first));
  std::size_t pos = first + 2;  // the part starts after "\r\n"
  for (;;) {
    auto next = mail.find(marker, pos);
    if (next == std::string_view::npos) {
      u.parts.emplace_back(mail.substr(pos));
      break;
    }
    u.parts.emplace_back(mail.substr(pos, next - pos));
    pos = next + 2;
  }
  return u;
}

std::string rebuild_message(const Upload& upload, std::string_view boundary) {
  auto fields = header_fields(upload.headers);
  std::string out;
  out.reserve(upload.headers.size() + 256);
  for (auto f : fields) {
    if (is_content_field(f)) continue;
    out.append(f);
    if (out.back() != '\n') out += '\n';
  }
  if (upload.parts.size() == 1) {
    auto [head, body] = part_pieces(upload.parts[0]);
    out += head;
    out += '\n';
    out.append(body);
    return out;
  }
  std::string sub = multipart_subtype(fields);
  if (sub.empty()) sub = "mixed";
  out += "MIME-Version: 1.0\nContent-Type: multipart/";
  out += sub;
  out += "; boundary=\"";
  out.append(boundary);
  out += "\"\n\n";
  for (const auto& p : upload.parts) {
    auto [head, body] = part_pieces(p);
    out += "--";
    out.append(boundary);
    out += '\n';
    out += head;
    out += '\n';
    out.append(body);
    if (out.back() != '\n') out += '\n';
  }
  out += "--";
  out.append(boundary);
  out += "--\n";
  return out;
}

}  // namespace strop::protocol::razor
