// feed.cpp: the federation feed codec (feed.hpp; layout in docs/federation.md).
#include "protocol/feed.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>

#include "base/ascii.hpp"
#include "base/bytes.hpp"
#include "base/digest.hpp"
#include "base/gzip.hpp"
#include "protocol/limits.hpp"

namespace strop::protocol {

namespace {

const char* entry_problem(const FeedWireEntry& e) { return feed_entry_problem(e); }

Error malformed(const std::string& what) {
  return make_error(Errc::kMalformed, "feed batch: " + what);
}

std::string response_canonical(unsigned status, std::string_view nonce, std::string_view body) {
  std::string s(kFeedResponseScheme);
  s.push_back('\n');
  s.append(std::to_string(status));
  s.push_back('\n');
  s.append(nonce);
  s.push_back('\n');
  s.append(sha256_hex(body));
  return s;
}

}  // namespace

const char* feed_entry_problem(const FeedWireEntry& e) {
  if (!sigs::engine_from_number(static_cast<std::uint8_t>(e.sig.engine))) return "unknown engine";
  if (e.sig.value.empty() || e.sig.value.size() > kMaxFeedValue) return "value size";
  if (e.hop > kMaxFeedHop) return "hop over the limit";
  if (e.confidence > 100) return "confidence over 100";
  if (!is_lower_host_name(e.origin, kMaxFeedOrigin)) return "origin";
  return nullptr;
}

Result<std::string> encode_feed(const FeedBatch& batch) {
  if (batch.entries.size() > kMaxFeedEntries) {
    return make_error(Errc::kLimitExceeded, "feed batch: too many entries");
  }
  ByteWriter w;
  w.raw(kFeedMagic);
  w.u64(batch.head);
  w.u64(batch.oldest);
  w.u32(static_cast<std::uint32_t>(batch.entries.size()));
  std::uint64_t last = 0;
  for (const auto& e : batch.entries) {
    if (const char* p = entry_problem(e)) {
      return make_error(Errc::kInvalidArgument, std::string("feed entry: ") + p);
    }
    if (e.seq <= last) return make_error(Errc::kInvalidArgument, "feed entries out of order");
    last = e.seq;
    write_feed_entry(w, e);
  }
  if (w.out().size() > kMaxFeedBody) {
    return make_error(Errc::kLimitExceeded, "feed batch: body too large");
  }
  return std::move(w.out());
}

void write_feed_entry(ByteWriter& w, const FeedWireEntry& e) {
  w.u64(e.seq);
  w.u8(e.listed ? 1 : 2);
  w.u8(static_cast<std::uint8_t>(e.sig.engine));
  w.u8(e.hop);
  w.u8(e.confidence);
  w.u64(e.version);
  w.bytes8(e.origin);
  w.bytes16(e.sig.value);
}

const char* read_feed_entry(ByteReader& r, FeedWireEntry* e) {
  std::uint8_t state = 0, engine = 0, olen = 0;
  std::uint16_t vlen = 0;
  if (!r.u64(&e->seq) || !r.u8(&state) || !r.u8(&engine) || !r.u8(&e->hop) ||
      !r.u8(&e->confidence) || !r.u64(&e->version) || !r.u8(&olen) || !r.take(olen, &e->origin) ||
      !r.u16(&vlen) || !r.take(vlen, &e->sig.value)) {
    return "truncated";
  }
  if (state != 1 && state != 2) return "unknown state";
  e->listed = state == 1;
  e->sig.engine = static_cast<sigs::Engine>(engine);
  return nullptr;
}

Result<FeedBatch> decode_feed(std::string_view body, std::size_t max_entries) {
  if (body.size() > kMaxFeedBody)
    return make_error(Errc::kLimitExceeded, "feed batch: body too large");
  ByteReader r(body);
  std::string magic;
  if (!r.take(kFeedMagic.size(), &magic) || magic != kFeedMagic) return malformed("bad magic");
  FeedBatch b;
  std::uint32_t count = 0;
  if (!r.u64(&b.head) || !r.u64(&b.oldest) || !r.u32(&count)) return malformed("truncated");
  if (count > std::min(max_entries, kMaxFeedEntries)) {
    return make_error(Errc::kLimitExceeded, "feed batch: more entries than asked for");
  }
  b.entries.reserve(count);
  std::uint64_t last = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    FeedWireEntry e;
    if (const char* p = read_feed_entry(r, &e)) return malformed(p);
    if (e.seq <= last) return malformed("sequences do not increase");
    last = e.seq;
    if (const char* p = entry_problem(e)) return malformed(p);
    b.entries.push_back(std::move(e));
  }
  if (!r.done()) return malformed("trailing bytes");
  return b;
}

bool accepts_gzip(std::string_view accept_encoding) {
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto semi = item.find(';');
    std::string_view token = trim(item.substr(0, semi));
    if (!iequals(token, "gzip") && !iequals(token, "x-gzip")) continue;
    if (semi == std::string_view::npos) return true;
    std::string_view param = trim(item.substr(semi + 1));
    if (!istarts_with(param, "q=")) return true;
    std::string_view q = trim(param.substr(2));
    // q=0, q=0.0, q=0.000: refused; any other weight accepts.
    return !(q.starts_with("0") && q.find_first_not_of("0.") == std::string_view::npos);
  }
  return false;
}

Result<FeedBatch> decode_feed_body(std::string_view body, std::string_view content_encoding,
                                   std::size_t max_entries) {
  if (content_encoding.empty() || iequals(content_encoding, "identity")) {
    return decode_feed(body, max_entries);
  }
  if (!iequals(content_encoding, "gzip")) {
    return make_error(Errc::kMalformed, "feed: unknown Content-Encoding");
  }
  auto plain = gzip_decompress(body, kMaxFeedBody);
  if (!plain) return plain.error();
  return decode_feed(*plain, max_entries);
}

Result<FeedQuery> parse_feed_query(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos)
    return make_error(Errc::kMalformed, "feed query: after= missing");
  std::string_view rest = target.substr(q + 1);
  FeedQuery out;
  bool have_after = false, have_limit = false, have_wait = false;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return make_error(Errc::kMalformed, "feed query: bad parameter");
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    std::uint64_t n = 0;
    auto r = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || value.size() > 20 || r.ec != std::errc() ||
        r.ptr != value.data() + value.size()) {
      return make_error(Errc::kMalformed, "feed query: not a number");
    }
    if (name == "after" && !have_after) {
      out.after = n;
      have_after = true;
    } else if (name == "limit" && !have_limit) {
      if (n < 1 || n > kMaxFeedEntries) {
        return make_error(Errc::kMalformed, "feed query: limit must be 1-10000");
      }
      out.limit = static_cast<std::size_t>(n);
      have_limit = true;
    } else if (name == "wait" && !have_wait) {
      if (n > kMaxFeedWait) return make_error(Errc::kMalformed, "feed query: wait must be 0-30");
      out.wait = static_cast<unsigned>(n);
      have_wait = true;
    } else {
      return make_error(Errc::kMalformed, "feed query: unknown or repeated parameter");
    }
  }
  if (!have_after) return make_error(Errc::kMalformed, "feed query: after= missing");
  return out;
}

std::string feed_target(std::uint64_t after, std::size_t limit, unsigned wait) {
  std::string t = std::string(kPathPeerFeed) + "?after=" + std::to_string(after) +
                  "&limit=" + std::to_string(limit);
  if (wait > 0) t += "&wait=" + std::to_string(wait);
  return t;
}

std::string sign_feed_response(std::string_view secret, unsigned status, std::string_view nonce,
                               std::string_view body) {
  return hmac_hex(DigestAlgorithm::kSha256, secret, response_canonical(status, nonce, body));
}

bool verify_feed_response(std::string_view secret, unsigned status, std::string_view nonce,
                          std::string_view body, std::string_view signature) {
  std::string expected = sign_feed_response(secret, status, nonce, body);
  return signature.size() == expected.size() &&
         CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

}  // namespace strop::protocol
