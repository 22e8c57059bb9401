// pyzor_cjk.cpp: CPython's multibyte CJK decoders (Modules/cjkcodecs) as Python 3.11 runs
// them for bytes.decode(): the stateless double-byte codecs, driven by the measured tables
// of pyzor_cjk_tables.cpp, with gb18030's four-byte sequences, euc_kr's make-up sequences
// and euc_jp's JIS X 0212 sequences, and the iso2022_jp state machine. An error covers one
// byte ("illegal multibyte sequence"), the rest of the input ("incomplete multibyte
// sequence"), or what _codecs_iso2022.c returns; errors="replace" writes one U+FFFD each.
#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <vector>

#include "base/base64.hpp"
#include "pyzor_cjk_tables.hpp"
#include "pyzor_internal.hpp"

namespace strop::sigs::pyzor::detail {
namespace {

std::vector<std::uint16_t> unbase64_u16(const char* s) {
  const std::string bytes = base64_decode_lenient(s);
  std::vector<std::uint16_t> out(bytes.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[2 * i]) |
                                        (static_cast<unsigned char>(bytes[2 * i + 1]) << 8));
  }
  return out;
}

struct Dense {
  unsigned l0 = 1, l1 = 0, t0 = 1, t1 = 0;
  std::vector<std::uint16_t> v;
  std::uint16_t get(unsigned a, unsigned b) const {
    if (a < l0 || a > l1 || b < t0 || b > t1) return 0;
    return v[(a - l0) * (t1 - t0 + 1) + (b - t0)];
  }
  static Dense from(unsigned l0, unsigned l1, unsigned t0, unsigned t1, const char* b64) {
    Dense d;
    d.l0 = l0;
    d.l1 = l1;
    d.t0 = t0;
    d.t1 = t1;
    d.v = unbase64_u16(b64);
    d.v.resize((l1 - l0 + 1) * (t1 - t0 + 1), 0);
    return d;
  }
};

struct Codec {
  std::string_view module;
  std::array<std::uint16_t, 256> single{};
  const Codec* base = nullptr;
  Dense dense;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> diff;  // sorted by key

  std::uint16_t pair(unsigned a, unsigned b) const {
    if (base != nullptr) {
      const std::uint16_t key = static_cast<std::uint16_t>((a << 8) | b);
      auto it = std::lower_bound(diff.begin(), diff.end(), key,
                                 [](const auto& e, std::uint16_t k) { return e.first < k; });
      if (it != diff.end() && it->first == key) return it->second;
      return base->pair(a, b);
    }
    return dense.get(a, b);
  }
};

struct Tables {
  std::vector<std::unique_ptr<Codec>> codecs;
  Dense jisx0212, jisx0208;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> gb18030;  // (lseq, cp)

  const Codec* find(std::string_view m) const {
    for (const auto& c : codecs) {
      if (c->module == m) return c.get();
    }
    return nullptr;
  }
};

const Tables& tables() {
  static const Tables* const kTables = [] {
    auto* t = new Tables;
    for (std::size_t i = 0; i < kCjkCodecCount; ++i) {
      const CjkCodecData& d = kCjkCodecs[i];
      auto c = std::make_unique<Codec>();
      c->module = d.module;
      const std::vector<std::uint16_t> s = unbase64_u16(d.single_b64);
      std::copy(s.begin(), s.begin() + 256, c->single.begin());
      if (!d.base.empty()) {
        c->base = t->find(d.base);  // bases precede their users in the table
        const std::vector<std::uint16_t> kv = unbase64_u16(d.pairs_b64);
        for (std::size_t k = 0; k + 1 < kv.size(); k += 2) c->diff.emplace_back(kv[k], kv[k + 1]);
      } else {
        c->dense = Dense::from(d.lead_lo, d.lead_hi, d.trail_lo, d.trail_hi, d.pairs_b64);
      }
      t->codecs.push_back(std::move(c));
    }
    t->jisx0212 = Dense::from(kEucJp0212.lead_lo, kEucJp0212.lead_hi, kEucJp0212.trail_lo,
                              kEucJp0212.trail_hi, kEucJp0212.b64);
    t->jisx0208 = Dense::from(kIso2022Jp0208.lead_lo, kIso2022Jp0208.lead_hi,
                              kIso2022Jp0208.trail_lo, kIso2022Jp0208.trail_hi, kIso2022Jp0208.b64);
    const std::vector<std::uint16_t> r = unbase64_u16(kGb18030Ranges);
    for (std::size_t k = 0; k + 1 < r.size(); k += 2) t->gb18030.emplace_back(r[k], r[k + 1]);
    return t;
  }();
  return *kTables;
}

// Error bookkeeping shared by the decoders; false when errors="strict".
struct Sink {
  DecodeErrors errors;
  std::u32string* out;
  bool error() {
    if (errors == DecodeErrors::kStrict) return false;
    if (errors == DecodeErrors::kReplace) out->push_back(0xFFFD);
    return true;
  }
};

DecodeStatus decode_stateless(const Codec& c, std::string_view in, Sink sink) {
  const Tables& t = tables();
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  const bool gb18030 = c.module == "gb18030";
  const bool euc_kr = c.module == "euc_kr";
  const bool euc_jp = c.module == "euc_jp";
  for (std::size_t i = 0; i < n;) {
    const unsigned b = s[i];
    const std::uint16_t cls = c.single[b];
    if (cls < 0xFFFE) {
      sink.out->push_back(cls);
      ++i;
      continue;
    }
    auto illegal = [&](std::size_t len) {
      i += len;
      return sink.error();
    };
    auto incomplete = [&]() {  // MBERR_TOOFEW: the error covers the rest of the input
      i = n;
      return sink.error();
    };
    if (cls == 0xFFFE) {
      if (!illegal(1)) return DecodeStatus::kUnicodeError;
      continue;
    }
    if (n - i < 2) {
      if (!incomplete()) return DecodeStatus::kUnicodeError;
      continue;
    }
    const unsigned b2 = s[i + 1];
    if (gb18030 && b2 >= 0x30 && b2 <= 0x39) {
      if (n - i < 4) {
        if (!incomplete()) return DecodeStatus::kUnicodeError;
        continue;
      }
      const unsigned b3 = s[i + 2], b4 = s[i + 3];
      if (b >= 0x81 && b <= 0xFE && b3 >= 0x81 && b3 <= 0xFE && b4 >= 0x30 && b4 <= 0x39) {
        const std::uint32_t c1 = b - 0x81, c2 = b2 - 0x30, c3 = b3 - 0x81, c4 = b4 - 0x30;
        if (c1 < 4) {
          const std::uint32_t lseq = (c1 * 10 + c2) * 1260 + c3 * 10 + c4;
          if (lseq < 39420) {
            auto it = std::upper_bound(t.gb18030.begin(), t.gb18030.end(), lseq,
                                       [](std::uint32_t k, const auto& e) { return k < e.first; });
            --it;
            sink.out->push_back(it->second + (lseq - it->first));
            i += 4;
            continue;
          }
        } else if (c1 >= 15) {
          const std::uint32_t lseq = 0x10000 + ((c1 - 15) * 10 + c2) * 1260 + c3 * 10 + c4;
          if (lseq <= 0x10FFFF) {
            sink.out->push_back(lseq);
            i += 4;
            continue;
          }
        }
      }
      if (!illegal(1)) return DecodeStatus::kUnicodeError;
      continue;
    }
    if (euc_kr && b == 0xA4 && b2 == 0xD4) {  // KS X 1001:1998 Annex 3 make-up sequence
      if (n - i < 8) {
        if (!incomplete()) return DecodeStatus::kUnicodeError;
        continue;
      }
      if (s[i + 2] == 0xA4 && s[i + 4] == 0xA4 && s[i + 6] == 0xA4) {
        const unsigned x3 = s[i + 3], x5 = s[i + 5], x7 = s[i + 7];
        const unsigned cho = (x3 >= 0xA1 && x3 <= 0xBE) ? kEucKrChoseong[x3 - 0xA1] : 127;
        const unsigned jung = (x5 >= 0xBF && x5 <= 0xD3) ? x5 - 0xBF : 127;
        const unsigned jong = x7 == 0xD4                   ? 0
                              : (x7 >= 0xA1 && x7 <= 0xBE) ? kEucKrJongseong[x7 - 0xA1]
                                                           : 127;
        if (cho != 127 && jung != 127 && jong != 127) {
          sink.out->push_back(0xAC00 + cho * 588 + jung * 28 + jong);
          i += 8;
          continue;
        }
      }
      if (!illegal(1)) return DecodeStatus::kUnicodeError;
      continue;
    }
    if (euc_jp && b == 0x8F) {  // JIS X 0212
      if (n - i < 3) {
        if (!incomplete()) return DecodeStatus::kUnicodeError;
        continue;
      }
      if (const std::uint16_t v = t.jisx0212.get(b2, s[i + 2])) {
        sink.out->push_back(v);
        i += 3;
        continue;
      }
      if (!illegal(1)) return DecodeStatus::kUnicodeError;
      continue;
    }
    if (const std::uint16_t v = c.pair(b, b2)) {
      sink.out->push_back(v);
      i += 2;
      continue;
    }
    if (!illegal(1)) return DecodeStatus::kUnicodeError;
  }
  return DecodeStatus::kOk;
}

// _codecs_iso2022.c DECODER(iso2022) with the iso2022_jp configuration (NO_SHIFT |
// USE_JISX0208_EXT; designations JIS X 0208, JIS X 0201 Roman, JIS X 0208-1978).
DecodeStatus decode_iso2022_jp(std::string_view in, Sink sink) {
  constexpr unsigned kAscii = 'B', kJisx0208 = 'B' | 0x80, kJisx0208O = '@' | 0x80,
                     kJisx0201R = 'J';
  const Dense& jis = tables().jisx0208;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  unsigned g[3] = {kAscii, kAscii, kAscii};
  bool esc_throughout = false;
  auto is_escend = [](unsigned c) { return (c >= 'A' && c <= 'Z') || c == '@'; };
  std::size_t i = 0;
  auto error = [&](std::size_t len) {
    i = len == 0 ? n : std::min(n, i + len);  // 0: incomplete, the rest of the input
    return sink.error();
  };
  while (i < n) {
    const unsigned c = s[i];
    if (esc_throughout) {
      sink.out->push_back(c);  // "assume as ISO-8859-1"
      ++i;
      if (is_escend(c)) esc_throughout = false;
      continue;
    }
    if (c == 0x1B) {
      if (n - i < 2) {
        if (!error(0)) return DecodeStatus::kUnicodeError;
        continue;
      }
      const unsigned c2 = s[i + 1];
      if (c2 == '(' || c2 == ')' || c2 == '$' || c2 == '.' || c2 == '&') {
        // iso2022processesc
        std::size_t esclen = 0;
        bool toofew = false;
        for (std::size_t k = 1; k < 16; ++k) {
          if (k >= n - i) {
            toofew = true;
            break;
          }
          if (is_escend(s[i + k])) {
            esclen = k + 1;
            break;
          }
          if (k + 1 < n - i && s[i + k] == '&' && s[i + k + 1] == '@') k += 2;
        }
        if (toofew) {
          if (!error(0)) return DecodeStatus::kUnicodeError;
          continue;
        }
        unsigned charset = 0;
        int designation = -1;
        std::size_t err = 0;
        switch (esclen) {
          case 0: err = 1; break;
          case 3:
            if (s[i + 1] == '$') {
              charset = s[i + 2] | 0x80;
              designation = 0;
            } else {
              charset = s[i + 2];
              if (s[i + 1] == '(') {
                designation = 0;
              } else if (s[i + 1] == ')') {
                designation = 1;
              } else {
                err = 3;
              }
            }
            break;
          case 4:
            if (s[i + 1] != '$') {
              err = 4;
              break;
            }
            charset = s[i + 3] | 0x80;
            if (s[i + 2] == '(') {
              designation = 0;
            } else if (s[i + 2] == ')') {
              designation = 1;
            } else {
              err = 4;
            }
            break;
          case 6:
            if (s[i + 3] == 0x1B && s[i + 4] == '$' && s[i + 5] == 'B') {
              charset = kJisx0208;
              designation = 0;
            } else {
              err = 6;
            }
            break;
          default: err = esclen; break;
        }
        if (err == 0 && charset != kAscii && charset != kJisx0208 && charset != kJisx0201R &&
            charset != kJisx0208O) {
          err = esclen;
        }
        if (err != 0) {
          if (!error(err)) return DecodeStatus::kUnicodeError;
          continue;
        }
        g[designation] = charset;
        i += esclen;
      } else {
        sink.out->push_back(0x1B);
        esc_throughout = true;
        ++i;
      }
      continue;
    }
    if (c == 0x0A || c < 0x20) {  // LF clears the (unused) shift; SI/SO are bypassed
      sink.out->push_back(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (!error(1)) return DecodeStatus::kUnicodeError;
      continue;
    }
    const unsigned charset = g[0];
    if (charset == kAscii) {
      sink.out->push_back(c);
      ++i;
      continue;
    }
    if (charset == kJisx0201R) {
      sink.out->push_back(c == 0x5C ? 0xA5 : c == 0x7E ? 0x203E : c);
      ++i;
      continue;
    }
    // JIS X 0208 (either designation): two bytes
    if (n - i < 2) {
      if (!error(0)) return DecodeStatus::kUnicodeError;
      continue;
    }
    if (const std::uint16_t v = jis.get(c, s[i + 1])) {
      sink.out->push_back(v);
      i += 2;
      continue;
    }
    if (!error(2)) return DecodeStatus::kUnicodeError;
  }
  return DecodeStatus::kOk;
}

}  // namespace

bool cjk_supported(std::string_view module) {
  return module == "iso2022_jp" || tables().find(module) != nullptr;
}

DecodeStatus cjk_decode(std::string_view module, std::string_view in, DecodeErrors errors,
                        std::u32string* out) {
  Sink sink{errors, out};
  if (module == "iso2022_jp") return decode_iso2022_jp(in, sink);
  const Codec* c = tables().find(module);
  if (c == nullptr) return DecodeStatus::kLookupError;
  return decode_stateless(*c, in, sink);
}

}  // namespace strop::sigs::pyzor::detail
