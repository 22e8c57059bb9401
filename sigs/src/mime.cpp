// MIME parsing: RFC 822 headers, RFC 2045-2047 bodies, nested multiparts, message/rfc822.
#include <algorithm>
#include <cctype>
#include <string>

#include "base/base64.hpp"
#include "base/hex.hpp"
#include "sigs/message.hpp"
#include "text_util.hpp"

namespace strop::sigs {
namespace {

using detail::iequals;
using detail::to_lower;
using detail::trim;

struct ContentType {
  std::string type = "text/plain";
  std::string charset;
  std::string boundary;
  std::string name;
};

// Splits `text` into header block and body at the first empty line (LF or CRLF).
void split_header_body(std::string_view text, std::string_view* hdr, std::string_view* body) {
  std::size_t i = 0;
  // An entity that starts with an empty line has no headers.
  if (text.starts_with("\n")) {
    *hdr = {};
    *body = text.substr(1);
    return;
  }
  if (text.starts_with("\r\n")) {
    *hdr = {};
    *body = text.substr(2);
    return;
  }
  while (true) {
    std::size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) {
      *hdr = text;
      *body = {};
      return;
    }
    std::size_t next = nl + 1;
    if (next < text.size() && text[next] == '\n') {
      *hdr = text.substr(0, nl + 1);
      *body = text.substr(next + 1);
      return;
    }
    if (next + 1 < text.size() && text[next] == '\r' && text[next + 1] == '\n') {
      *hdr = text.substr(0, nl + 1);
      *body = text.substr(next + 2);
      return;
    }
    i = next;
  }
}

// Parses a header block into unfolded fields (raw values, not yet RFC 2047 decoded).
std::vector<Header> parse_headers(std::string_view block, const MimeLimits& lim,
                                  std::vector<std::string>* limits_hit) {
  std::vector<Header> out;
  if (block.size() > lim.max_header_bytes) {
    block = block.substr(0, lim.max_header_bytes);
    limits_hit->push_back("max_header_bytes");
  }
  std::size_t i = 0;
  while (i < block.size()) {
    std::size_t nl = block.find('\n', i);
    std::string_view line = block.substr(i, nl == std::string_view::npos ? block.npos : nl - i);
    i = nl == std::string_view::npos ? block.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) {
      auto& v = out.back().value;
      if (v.size() < lim.max_header_bytes) {
        v += ' ';
        v += trim(line);
      }
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;  // not a field; ignore
    std::string_view name = trim(line.substr(0, colon));
    if (name.find(' ') != std::string_view::npos) continue;
    if (out.size() >= lim.max_headers) {
      limits_hit->push_back("max_headers");
      break;
    }
    out.push_back(Header{std::string(name), std::string(trim(line.substr(colon + 1)))});
  }
  return out;
}

const Header* find_header(const std::vector<Header>& hs, std::string_view name) {
  for (const auto& h : hs) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

// Parses "value; a=b; c="d"" parameters. RFC 2231 continuations and charsets are handled
// for the common single-segment form (name*=utf-8''text).
void parse_params(std::string_view v, std::string* main_value,
                  std::vector<std::pair<std::string, std::string>>* params) {
  std::size_t semi = v.find(';');
  *main_value = to_lower(trim(v.substr(0, semi)));
  std::size_t i = semi == std::string_view::npos ? v.size() : semi + 1;
  int guard = 0;
  while (i < v.size() && guard++ < 64) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ';')) ++i;
    std::size_t eq = v.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key = to_lower(trim(v.substr(i, eq - i)));
    i = eq + 1;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    std::string val;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        val += v[i];
        ++i;
      }
      ++i;
    } else {
      std::size_t e = v.find(';', i);
      if (e == std::string_view::npos) e = v.size();
      val = std::string(trim(v.substr(i, e - i)));
      i = e;
    }
    if (key.ends_with("*") || key.find("*0") != std::string::npos) {
      // RFC 2231: charset'lang'percent-encoded
      std::string base = key.substr(0, key.find('*'));
      std::string charset;
      std::size_t q1 = val.find('\'');
      std::size_t q2 = q1 == std::string::npos ? std::string::npos : val.find('\'', q1 + 1);
      std::string_view enc = val;
      if (q2 != std::string::npos) {
        charset = val.substr(0, q1);
        enc = std::string_view(val).substr(q2 + 1);
      }
      const std::string decoded = percent_decode(enc);
      bool found = false;
      for (auto& p : *params) {
        if (p.first == base) {
          p.second += to_utf8(decoded, charset);
          found = true;
        }
      }
      if (!found) params->emplace_back(base, to_utf8(decoded, charset));
      continue;
    }
    params->emplace_back(std::move(key), std::move(val));
  }
}

ContentType parse_content_type(const std::vector<Header>& hs) {
  ContentType ct;
  const Header* h = find_header(hs, "Content-Type");
  if (!h) return ct;
  std::string main;
  std::vector<std::pair<std::string, std::string>> params;
  parse_params(h->value, &main, &params);
  if (main.find('/') != std::string::npos)
    ct.type = main;
  else if (main == "text")
    ct.type = "text/plain";
  for (auto& [k, v] : params) {
    if (k == "charset")
      ct.charset = v;
    else if (k == "boundary")
      ct.boundary = v;
    else if (k == "name")
      ct.name = decode_rfc2047(v);
  }
  return ct;
}

struct Parser {
  const MimeLimits& lim;
  Message* msg;
  std::size_t entities = 0;
  std::size_t text_bytes = 0;
  int next_alt_group = 0;

  void hit(const char* name) {
    if (std::find(msg->limits_hit.begin(), msg->limits_hit.end(), name) == msg->limits_hit.end())
      msg->limits_hit.emplace_back(name);
  }

  std::string decode_body(std::string_view body, const std::vector<Header>& hs) {
    const Header* cte = find_header(hs, "Content-Transfer-Encoding");
    if (cte) {
      std::string enc = to_lower(trim(cte->value));
      if (enc.starts_with("base64")) return base64_decode_lenient(body);
      if (enc.starts_with("quoted-printable")) return detail::decode_qp(body);
    }
    return std::string(body);
  }

  void add_text(Part&& p) {
    if (text_bytes >= lim.max_text_bytes) {
      hit("max_text_bytes");
      return;
    }
    if (text_bytes + p.text.size() > lim.max_text_bytes) {
      // Cut on a UTF-8 boundary.
      std::size_t keep = lim.max_text_bytes - text_bytes;
      while (keep > 0 && (static_cast<unsigned char>(p.text[keep]) & 0xC0) == 0x80) --keep;
      p.text.resize(keep);
      hit("max_text_bytes");
    }
    text_bytes += p.text.size();
    msg->parts.push_back(std::move(p));
  }

  void leaf(std::string_view body, const std::vector<Header>& hs, const ContentType& ct,
            int alt_group) {
    Part p;
    p.content_type = ct.type;
    p.alternative_group = alt_group;
    std::string disp_main;
    std::vector<std::pair<std::string, std::string>> dparams;
    if (const Header* d = find_header(hs, "Content-Disposition")) {
      parse_params(d->value, &disp_main, &dparams);
      for (auto& [k, v] : dparams) {
        if (k == "filename") p.filename = decode_rfc2047(v);
      }
    }
    if (p.filename.empty()) p.filename = ct.name;
    std::string decoded = decode_body(body, hs);
    bool is_text = ct.type.starts_with("text/") || ct.type == "message/delivery-status";
    bool attachment = disp_main == "attachment" && !p.filename.empty();
    if (is_text && !attachment && (ct.type == "text/html" || ct.type == "text/x-html")) {
      p.kind = PartKind::kHtml;
      std::string html = to_utf8(decoded, ct.charset);
      p.text = html_to_text(html, &p.urls, lim, &p.media_urls);
      p.data = std::move(html);
      add_text(std::move(p));
    } else if (is_text && !attachment &&
               (ct.type == "text/plain" || ct.type == "text/enriched" ||
                ct.type == "text/richtext" || ct.type == "message/delivery-status")) {
      p.kind = PartKind::kText;
      p.text = to_utf8(decoded, ct.charset);
      detail::find_text_urls(p.text, &p.urls, lim.max_urls);
      add_text(std::move(p));
    } else {
      p.kind = PartKind::kAttachment;
      p.data = std::move(decoded);
      msg->parts.push_back(std::move(p));
    }
  }

  void entity(std::string_view text, int depth, int alt_group, bool top) {
    if (++entities > lim.max_parts) {
      hit("max_parts");
      return;
    }
    std::string_view hdr, body;
    split_header_body(text, &hdr, &body);
    std::vector<Header> hs = parse_headers(hdr, lim, &msg->limits_hit);
    if (top) {
      msg->raw_body = std::string(body);
      for (auto& h : hs) h.value = decode_rfc2047(h.value);
      msg->headers = hs;
    }
    ContentType ct = parse_content_type(hs);
    if (ct.type.starts_with("multipart/")) {
      if (depth >= lim.max_depth) {
        hit("max_depth");
        return;
      }
      if (ct.boundary.empty() || ct.boundary.size() > 200) {
        ContentType plain;
        plain.charset = ct.charset;
        leaf(body, hs, plain, alt_group);
        return;
      }
      int group = alt_group;
      if (ct.type == "multipart/alternative") group = next_alt_group++;
      multipart(body, ct.boundary, depth, group);
      return;
    }
    if (ct.type == "message/rfc822" || ct.type == "message/global") {
      if (depth >= lim.max_depth) {
        hit("max_depth");
        return;
      }
      std::string decoded = decode_body(body, hs);
      entity(decoded, depth + 1, alt_group, false);
      return;
    }
    leaf(body, hs, ct, alt_group);
  }

  void multipart(std::string_view body, const std::string& boundary, int depth, int group) {
    std::string delim = "--" + boundary;
    // Find delimiter lines: at start of body or after '\n'.
    std::vector<std::pair<std::size_t, std::size_t>> marks;  // (line start, line end+1)
    std::size_t pos = 0;
    while (true) {
      std::size_t p = body.find(delim, pos);
      if (p == std::string_view::npos) break;
      if (p == 0 || body[p - 1] == '\n') {
        std::size_t eol = body.find('\n', p);
        std::size_t next = eol == std::string_view::npos ? body.size() : eol + 1;
        marks.emplace_back(p, next);
        bool closing = body.substr(p + delim.size(), 2) == "--";
        if (closing) break;
        pos = next;
      } else {
        pos = p + delim.size();
      }
      if (marks.size() > lim.max_parts + 1) {
        hit("max_parts");
        break;
      }
    }
    if (marks.empty()) {
      // No delimiter at all: the body is treated as plain text, as most MUAs do.
      ContentType plain;
      leaf(body, {}, plain, group);
      return;
    }
    for (std::size_t k = 0; k < marks.size(); ++k) {
      std::size_t start = marks[k].second;
      bool closing = body.substr(marks[k].first + delim.size(), 2) == "--";
      if (closing) break;
      std::size_t end = k + 1 < marks.size() ? marks[k + 1].first : body.size();
      if (end < start) continue;
      std::string_view part = body.substr(start, end - start);
      // The CRLF before the next delimiter belongs to the delimiter.
      if (part.ends_with("\r\n"))
        part.remove_suffix(2);
      else if (part.ends_with("\n"))
        part.remove_suffix(1);
      entity(part, depth + 1, group, false);
      if (entities > lim.max_parts) break;
    }
  }
};

}  // namespace

const Header* Message::header(std::string_view name) const { return find_header(headers, name); }

std::string decode_rfc2047(std::string_view v) {
  if (v.find("=?") == std::string_view::npos) return std::string(v);
  std::string out;
  std::size_t i = 0;
  bool last_was_encoded = false;
  std::size_t pending_ws_start = std::string::npos;
  while (i < v.size()) {
    std::size_t start = v.find("=?", i);
    if (start == std::string_view::npos) {
      out.append(v.substr(i));
      break;
    }
    // =?charset?E?text?=
    std::size_t q1 = v.find('?', start + 2);
    std::size_t q2 = q1 == std::string_view::npos ? q1 : v.find('?', q1 + 1);
    std::size_t end = q2 == std::string_view::npos ? q2 : v.find("?=", q2 + 1);
    if (end == std::string_view::npos || q2 != q1 + 2) {
      out.append(v.substr(i, start + 2 - i));
      i = start + 2;
      last_was_encoded = false;
      continue;
    }
    std::string_view between = v.substr(i, start - i);
    bool only_ws = std::all_of(between.begin(), between.end(), [](char c) {
      return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    });
    if (!(last_was_encoded && only_ws)) out.append(between);
    (void)pending_ws_start;
    std::string charset(v.substr(start + 2, q1 - start - 2));
    if (auto star = charset.find('*'); star != std::string::npos)
      charset.resize(star);  // RFC 2231 lang
    char enc = detail::ascii_lower(v[q1 + 1]);
    std::string_view payload = v.substr(q2 + 1, end - q2 - 1);
    std::string bytes =
        enc == 'b' ? base64_decode_lenient(payload) : detail::decode_qp(payload, true);
    out += to_utf8(bytes, charset);
    i = end + 2;
    last_was_encoded = true;
  }
  return out;
}

Result<Message> parse_message(std::string_view raw, const MimeLimits& limits) {
  Message msg;
  if (raw.size() > limits.max_message_bytes) {
    raw = raw.substr(0, limits.max_message_bytes);
    msg.limits_hit.emplace_back("max_message_bytes");
  }
  // mbox envelope line.
  if (raw.starts_with("From ")) {
    std::size_t nl = raw.find('\n');
    raw = nl == std::string_view::npos ? std::string_view{} : raw.substr(nl + 1);
  }
  // The first line must be a header field.
  {
    std::size_t i = 0;
    bool ok = false;
    while (i < raw.size() && i < 256) {
      auto c = static_cast<unsigned char>(raw[i]);
      if (c == ':') {
        ok = i > 0;
        break;
      }
      if (c <= 32 || c >= 127) break;
      ++i;
    }
    if (!ok) return make_error(Errc::kNotMail, "not a mail message (no header block)");
  }
  Parser p{limits, &msg};
  p.entity(raw, 0, -1, true);
  return msg;
}

}  // namespace strop::sigs
