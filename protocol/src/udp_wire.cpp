// udp_wire.cpp: strop-udp/1 request and reply codecs (udp_wire.hpp).
#include "protocol/udp_wire.hpp"

#include <algorithm>
#include <cmath>

#include "base/base64.hpp"
#include "base/bytes.hpp"
#include "base/hex.hpp"

namespace strop::protocol::udp {

namespace {

bool razor_char(char c) { return kBase64Url.find(c) != std::string_view::npos; }

bool hex_engine(sigs::Engine e) {
  return e == sigs::Engine::kBody || e == sigs::Engine::kUrl || e == sigs::Engine::kAttach ||
         e == sigs::Engine::kFuzzy || e == sigs::Engine::kPyzor;
}

void put_header(ByteWriter* w, std::uint8_t op) {
  w->u8(kMagic[0]);
  w->u8(kMagic[1]);
  w->u8(kVersion);
  w->u8(op);
}

Error malformed(std::string why) {
  return make_error(Errc::kMalformed, "strop-udp: " + std::move(why));
}

// Binary value -> the engine's text value; nullopt when the bytes are not a valid value.
std::optional<std::string> text_value(sigs::Engine e, std::string_view raw) {
  if (hex_engine(e)) return hex_encode(raw);
  for (char c : raw) {
    if (!razor_char(c)) return std::nullopt;
  }
  return std::string(raw);
}

// Text value -> binary; false when the text is not a valid value of the engine.
bool binary_value(const sigs::Signature& s, ByteWriter* w) {
  std::size_t n = value_bytes(s.engine);
  if (hex_engine(s.engine)) {
    // Lower-case only: a signature value has one spelling.
    if (s.value.size() != 2 * n || !is_lower_hex(s.value)) return false;
    auto bytes = hex_decode(s.value);
    if (!bytes) return false;
    w->raw(*bytes);
    return true;
  }
  if (s.value.size() != n || !std::all_of(s.value.begin(), s.value.end(), razor_char)) return false;
  w->raw(s.value);
  return true;
}

}  // namespace

std::size_t value_bytes(sigs::Engine e) {
  switch (e) {
    case sigs::Engine::kBody:
    case sigs::Engine::kUrl:
    case sigs::Engine::kAttach: return 16;
    case sigs::Engine::kFuzzy: return static_cast<std::size_t>(sigs::kFuzzyHashes) * 4;
    case sigs::Engine::kRazorE4: return 28;
    case sigs::Engine::kRazorE8: return 12;
    case sigs::Engine::kPyzor: return 20;
  }
  return 0;
}

Result<CheckRequest> decode_request(std::string_view datagram, const Limits& limits) {
  if (datagram.size() > limits.max_datagram_bytes) {
    return make_error(
        Errc::kLimitExceeded,
        "strop-udp: datagram larger than " + std::to_string(limits.max_datagram_bytes) + " bytes");
  }
  ByteReader r(datagram);
  std::uint8_t m0 = 0, m1 = 0, version = 0, op = 0;
  std::uint16_t count = 0;
  CheckRequest req;
  if (!r.u8(&m0) || !r.u8(&m1) || !r.u8(&version) || !r.u8(&op) || !r.u32(&req.request_id) ||
      !r.u16(&count)) {
    return malformed("short header");
  }
  if (m0 != kMagic[0] || m1 != kMagic[1]) return malformed("bad magic");
  if (version != kVersion) return malformed("unsupported version " + std::to_string(version));
  if (op != kOpCheck) return malformed("unknown op " + std::to_string(op));
  if (count == 0) return malformed("no messages");
  if (count > limits.max_messages) {
    return make_error(Errc::kLimitExceeded,
                      "strop-udp: more than " + std::to_string(limits.max_messages) + " messages");
  }
  // Every message needs at least 1 + 1 + 12 bytes: reject impossible counts before allocating.
  if (r.left() / 14 < count) return malformed("truncated");
  req.messages.resize(count);
  for (auto& msg : req.messages) {
    std::uint8_t nsigs = 0;
    if (!r.u8(&nsigs)) return malformed("truncated");
    if (nsigs == 0) return malformed("a message without signatures");
    if (nsigs > limits.max_sigs_per_message) {
      return make_error(Errc::kLimitExceeded, "strop-udp: more than " +
                                                  std::to_string(limits.max_sigs_per_message) +
                                                  " signatures in a message");
    }
    if (r.left() / 13 < nsigs) return malformed("truncated");
    msg.reserve(nsigs);
    for (unsigned k = 0; k < nsigs; ++k) {
      std::uint8_t eb = 0;
      if (!r.u8(&eb)) return malformed("truncated");
      auto engine = sigs::engine_from_number(eb);
      if (!engine) return malformed("unknown engine " + std::to_string(eb));
      std::string_view raw;
      if (!r.view(value_bytes(*engine), &raw)) return malformed("truncated");
      auto text = text_value(*engine, raw);
      if (!text)
        return malformed("bad value for engine " + std::string(sigs::engine_name(*engine)));
      msg.push_back(sigs::Signature{*engine, std::move(*text)});
    }
  }
  if (r.left() != 0) return malformed("trailing bytes");
  return req;
}

Result<std::string> encode_request(const CheckRequest& request) {
  if (request.messages.empty() || request.messages.size() > 0xffff) {
    return make_error(Errc::kInvalidArgument, "strop-udp: a request needs 1..65535 messages");
  }
  ByteWriter w;
  w.out().reserve(kRequestHeaderBytes + request.messages.size() * 200);
  put_header(&w, kOpCheck);
  w.u32(request.request_id);
  w.u16(static_cast<std::uint16_t>(request.messages.size()));
  for (const auto& msg : request.messages) {
    if (msg.empty() || msg.size() > 0xff) {
      return make_error(Errc::kInvalidArgument, "strop-udp: a message needs 1..255 signatures");
    }
    w.u8(static_cast<std::uint8_t>(msg.size()));
    for (const auto& s : msg) {
      w.u8(static_cast<std::uint8_t>(s.engine));
      if (!binary_value(s, &w)) {
        return make_error(Errc::kInvalidArgument, "strop-udp: bad value for engine " +
                                                      std::string(sigs::engine_name(s.engine)));
      }
    }
  }
  return std::move(w.out());
}

Result<std::string> encode_reply(const CheckReply& reply, std::size_t max_bytes) {
  const bool ok = reply.status == Status::kOk;
  const std::size_t nmsgs = ok ? reply.results.size() : 0;
  if (nmsgs > 0xffff) return make_error(Errc::kLimitExceeded, "strop-udp: too many results");
  std::size_t base = kReplyHeaderBytes + nmsgs * kReplyMessageBytes;
  if (base > max_bytes) return make_error(Errc::kLimitExceeded, "strop-udp: reply does not fit");
  // Records kept: in order, while they fit.
  std::size_t budget = (max_bytes - base) / kMatchRecordBytes;
  std::uint8_t flags = reply.flags;
  std::vector<std::size_t> keep(nmsgs, 0);
  for (std::size_t i = 0; i < nmsgs; ++i) {
    std::size_t want = std::min<std::size_t>(reply.results[i].matches.size(), 0xff);
    if (want != reply.results[i].matches.size()) flags |= kFlagTruncated;
    std::size_t take = std::min(want, budget);
    if (take < want) flags |= kFlagTruncated;
    keep[i] = take;
    budget -= take;
  }
  ByteWriter w;
  w.out().reserve(max_bytes);
  put_header(&w, kOpCheckReply);
  w.u32(reply.request_id);
  w.u8(static_cast<std::uint8_t>(reply.status));
  w.u8(flags);
  w.u16(static_cast<std::uint16_t>(nmsgs));
  for (std::size_t i = 0; i < nmsgs; ++i) {
    const auto& m = reply.results[i];
    w.u8(m.spam ? 1 : 0);
    w.u8(std::min<std::uint8_t>(m.confidence, 100));
    w.u8(static_cast<std::uint8_t>(keep[i]));
    for (std::size_t k = 0; k < keep[i]; ++k) {
      const auto& x = m.matches[k];
      w.u8(static_cast<std::uint8_t>(x.engine));
      w.u8(std::min<std::uint8_t>(x.similarity, 100));
      w.u16(x.reports);
      w.u16(x.revokes);
    }
  }
  return std::move(w.out());
}

Result<CheckReply> decode_reply(std::string_view datagram) {
  ByteReader r(datagram);
  std::uint8_t m0 = 0, m1 = 0, version = 0, op = 0, status = 0;
  std::uint16_t count = 0;
  CheckReply rep;
  if (!r.u8(&m0) || !r.u8(&m1) || !r.u8(&version) || !r.u8(&op) || !r.u32(&rep.request_id) ||
      !r.u8(&status) || !r.u8(&rep.flags) || !r.u16(&count)) {
    return malformed("short reply header");
  }
  if (m0 != kMagic[0] || m1 != kMagic[1] || version != kVersion || op != kOpCheckReply) {
    return malformed("not a strop-udp/1 check reply");
  }
  if (status > static_cast<std::uint8_t>(Status::kServerError)) return malformed("unknown status");
  rep.status = static_cast<Status>(status);
  if (rep.status != Status::kOk && count != 0) return malformed("results in an error reply");
  if (r.left() / kReplyMessageBytes < count) return malformed("truncated reply");
  rep.results.resize(count);
  for (auto& m : rep.results) {
    std::uint8_t verdict = 0, nrec = 0;
    if (!r.u8(&verdict) || !r.u8(&m.confidence) || !r.u8(&nrec))
      return malformed("truncated reply");
    if (verdict > 1 || m.confidence > 100) return malformed("bad verdict or confidence");
    m.spam = verdict == 1;
    if (r.left() / kMatchRecordBytes < nrec) return malformed("truncated reply");
    m.matches.resize(nrec);
    for (auto& x : m.matches) {
      std::uint8_t eb = 0;
      if (!r.u8(&eb) || !r.u8(&x.similarity) || !r.u16(&x.reports) || !r.u16(&x.revokes)) {
        return malformed("truncated reply");
      }
      auto e = sigs::engine_from_number(eb);
      if (!e) return malformed("unknown engine in reply");
      if (x.similarity > 100) return malformed("bad similarity");
      x.engine = *e;
    }
  }
  if (r.left() != 0) return malformed("trailing bytes in reply");
  return rep;
}

bool looks_like_reply(std::string_view d) {
  return d.size() >= kReplyHeaderBytes && static_cast<std::uint8_t>(d[0]) == kMagic[0] &&
         static_cast<std::uint8_t>(d[1]) == kMagic[1] &&
         static_cast<std::uint8_t>(d[2]) == kVersion &&
         static_cast<std::uint8_t>(d[3]) == kOpCheckReply;
}

std::uint8_t similarity_percent(double similarity) {
  if (!(similarity > 0)) return 0;
  if (similarity >= 1) return 100;
  return static_cast<std::uint8_t>(std::lround(similarity * 100));
}

}  // namespace strop::protocol::udp
