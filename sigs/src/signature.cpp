#include "sigs/signature.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "base/base64.hpp"
#include "base/hex.hpp"

namespace strop::sigs {

std::string_view engine_name(Engine e) {
  switch (e) {
    case Engine::kBody: return "body/1";
    case Engine::kFuzzy: return "fuzzy/1";
    case Engine::kUrl: return "url/1";
    case Engine::kAttach: return "attach/1";
    case Engine::kRazorE4: return "razor-e4";
    case Engine::kRazorE8: return "razor-e8";
    case Engine::kPyzor: return "pyzor";
  }
  return "unknown";
}

std::optional<Engine> engine_from_number(std::uint8_t n) {
  for (Engine e : kAllEngines) {
    if (static_cast<std::uint8_t>(e) == n) return e;
  }
  return std::nullopt;
}

std::optional<Engine> engine_from_name(std::string_view name) {
  for (Engine e : kAllEngines) {
    std::string_view full = engine_name(e);
    if (name == full) return e;
    auto slash = full.find('/');
    if (slash != std::string_view::npos && name == full.substr(0, slash)) return e;
  }
  return std::nullopt;
}

Result<EngineMask> EngineMask::parse(std::string_view list) {
  EngineMask m;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "all") {
      m.bits_ |= all().bits_;
    } else if (item == "native") {
      m.bits_ |= native().bits_;
    } else if (item == "legacy") {
      m.bits_ |= legacy().bits_;
    } else if (!item.empty()) {
      auto e = engine_from_name(item);
      if (!e)
        return make_error(Errc::kInvalidArgument, "unknown engine '" + std::string(item) + "'");
      m.add(*e);
    }
    pos = comma + 1;
  }
  if (m.empty()) return make_error(Errc::kInvalidArgument, "no engine selected");
  return m;
}

std::string Signature::text() const {
  std::string out(engine_name(engine));
  out += ':';
  out += value;
  return out;
}

namespace {

bool all_of_set(std::string_view v, std::string_view allowed) {
  return std::all_of(v.begin(), v.end(),
                     [&](char c) { return allowed.find(c) != std::string_view::npos; });
}

}  // namespace

Result<Signature> parse_signature(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return make_error(Errc::kMalformed, "signature has no ':' (want engine:value)");
  }
  auto engine = engine_from_name(text.substr(0, colon));
  if (!engine) return make_error(Errc::kMalformed, "unknown engine in signature");
  std::string_view v = text.substr(colon + 1);
  bool ok = false;
  switch (*engine) {
    case Engine::kBody:
    case Engine::kUrl:
    case Engine::kAttach: ok = v.size() == 32 && is_lower_hex(v); break;
    case Engine::kFuzzy: ok = decode_fuzzy(v).has_value(); break;
    case Engine::kRazorE4: ok = v.size() == 28 && all_of_set(v, kBase64Url); break;
    case Engine::kRazorE8: ok = v.size() == 12 && all_of_set(v, kBase64Url); break;
    case Engine::kPyzor: ok = v.size() == 40 && is_lower_hex(v); break;
  }
  if (!ok)
    return make_error(Errc::kMalformed,
                      "bad value for engine " + std::string(engine_name(*engine)));
  return Signature{*engine, std::string(v)};
}

std::string encode_fuzzy(const FuzzyHashes& h) {
  std::string out;
  out.reserve(kFuzzyHashes * 8);
  for (auto x : h) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      append_hex(&out, static_cast<unsigned char>(x >> shift));
    }
  }
  return out;
}

std::optional<FuzzyHashes> decode_fuzzy(std::string_view value) {
  if (value.size() != kFuzzyHashes * 8) return std::nullopt;
  FuzzyHashes h{};
  for (int i = 0; i < kFuzzyHashes; ++i) {
    std::uint32_t x = 0;
    for (int j = 0; j < 8; ++j) {
      char c = value[static_cast<std::size_t>(i) * 8 + static_cast<std::size_t>(j)];
      // Lower-case only: a signature value has one spelling.
      int d = c >= 'A' && c <= 'F' ? -1 : hex_digit_value(c);
      if (d < 0) return std::nullopt;
      x = (x << 4) | static_cast<std::uint32_t>(d);
    }
    h[static_cast<std::size_t>(i)] = x;
  }
  return h;
}

int fuzzy_equal_positions(const FuzzyHashes& a, const FuzzyHashes& b) {
  int n = 0;
  for (int i = 0; i < kFuzzyHashes; ++i)
    n += a[static_cast<std::size_t>(i)] == b[static_cast<std::size_t>(i)];
  return n;
}

double fuzzy_text_size(const FuzzyHashes& h) {
  double sum = 0;
  for (std::uint32_t v : h) sum += (static_cast<double>(v) + 0.5) / 4294967296.0;
  return (kFuzzyHashes - 1) / sum;
}

std::string SignatureSet::text() const {
  if (sigs.empty()) return "-";
  std::string out;
  for (const auto& s : sigs) {
    if (!out.empty()) out += ' ';
    out += s.text();
  }
  return out;
}

std::vector<const Signature*> SignatureSet::of(Engine e) const {
  std::vector<const Signature*> out;
  for (const auto& s : sigs) {
    if (s.engine == e) out.push_back(&s);
  }
  return out;
}

Comparison compare(const SignatureSet& a, const SignatureSet& b) {
  Comparison c;
  bool fuzzy_alone = false;  // a fuzzy/1 match that decides without a url/1 match
  bool fuzzy_url = false;    // a fuzzy/1 agreement that decides with a url/1 match
  for (Engine e : kAllEngines) {
    auto sa = a.of(e);
    auto sb = b.of(e);
    EngineComparison ec{e};
    if (sa.empty() || sb.empty()) {
      c.engines.push_back(ec);
      continue;
    }
    ec.present = true;
    if (e == Engine::kFuzzy) {
      auto ha = decode_fuzzy(sa.front()->value);
      auto hb = decode_fuzzy(sb.front()->value);
      if (ha && hb) {
        int eq = fuzzy_equal_positions(*ha, *hb);
        ec.similarity = static_cast<double>(eq) / kFuzzyHashes;
        ec.match = eq >= kFuzzyMatchMin;
        fuzzy_alone = ec.match && fuzzy_match_decides_alone(eq, *ha, *hb);
        fuzzy_url = fuzzy_backs_url(eq, *ha, *hb);
      }
    } else {
      // Set engines: similarity is the Jaccard index of the value sets; any shared value is
      // a match for that engine.
      std::set<std::string_view> va, vb;
      for (auto* s : sa) va.insert(s->value);
      for (auto* s : sb) vb.insert(s->value);
      std::size_t inter = 0;
      for (auto v : va) inter += vb.count(v);
      std::size_t uni = va.size() + vb.size() - inter;
      ec.similarity = uni ? static_cast<double>(inter) / static_cast<double>(uni) : 0.0;
      ec.match = inter > 0;
    }
    c.engines.push_back(ec);
  }
  // Only the native engines decide. The legacy engines are reported for interoperability;
  // razor-e8 (host-level) and pyzor (tiny templates) are known to flag legitimate mail. A
  // url/1 match alone decides only as url_match_decides_alone says.
  bool url = false, fuzzy = false;
  for (const auto& ec : c.engines) {
    if (!ec.match) continue;
    if (ec.engine == Engine::kBody || ec.engine == Engine::kAttach) c.match = true;
    if (ec.engine == Engine::kFuzzy) fuzzy = true;
    if (ec.engine == Engine::kUrl) url = true;
  }
  if (fuzzy && fuzzy_alone) c.match = true;
  if (url && fuzzy_url) c.match = true;
  if (url && !c.match) c.match = url_match_decides_alone(b, 1);
  return c;
}

bool fuzzy_match_decides_alone(int equal, const FuzzyHashes& stored, const FuzzyHashes& checked) {
  if (equal >= kFuzzyLongMatchMin) return true;
  return equal >= kFuzzyMatchMin &&
         (fuzzy_text_size(stored) < kFuzzyLongText || fuzzy_text_size(checked) < kFuzzyLongText);
}

bool fuzzy_backs_url(int equal, const FuzzyHashes& stored, const FuzzyHashes& checked) {
  if (equal >= kFuzzyMatchMin) return true;
  return equal >= kFuzzyUrlMatchMin &&
         (fuzzy_text_size(stored) < kFuzzyLongText || fuzzy_text_size(checked) < kFuzzyLongText);
}

bool has_fuzzy_signature(const SignatureSet& set) {
  return std::any_of(set.sigs.begin(), set.sigs.end(),
                     [](const Signature& s) { return s.engine == Engine::kFuzzy; });
}

bool url_match_decides_alone(const SignatureSet& checked, std::uint32_t reporters) {
  return !has_fuzzy_signature(checked) || reporters >= kUrlAttestedReporters;
}

}  // namespace strop::sigs
