// config_table.cpp: the type-independent half of config::Table: TOML reading with positions,
// value conversion and range checks, the printer.
#include "base/config_table.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/utf8.hpp"

namespace strop::config {

std::string KeyInfo::path() const {
  if (section.empty()) return std::string(name);
  std::string p(section);
  p += '.';
  p += name;
  return p;
}

namespace {

std::string shortest(double v) {
  char buf[64];
  // Whole numbers below 1e15 in plain digits ("1000000000", not "1e+09").
  bool whole = std::isfinite(v) && std::fabs(v) < 1e15 && v == std::trunc(v);
  auto r = whole ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                 : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string position(std::string_view source, const toml::source_region& r) {
  return std::string(source) + ":" + std::to_string(r.begin.line) + ":" +
         std::to_string(r.begin.column);
}

Error key_error(std::string_view source, const toml::source_region& r, std::string_view path,
                std::string_view message) {
  return make_error(Errc::kInvalidArgument,
                    position(source, r) + ": " + std::string(path) + ": " + std::string(message));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean "x"?)" for a near miss, else " (known: a, b)" for a short list, else "".
std::string hint(std::string_view wrong, const std::vector<std::string_view>& known) {
  std::string_view best;
  std::size_t best_d = 3;
  for (auto k : known) {
    std::size_t d = edit_distance(wrong, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  if (!best.empty()) return " (did you mean \"" + std::string(best) + "\"?)";
  if (known.empty() || known.size() > 12) return {};
  std::string out = " (known: ";
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (i > 0) out += ", ";
    out += known[i];
  }
  return out + ")";
}

// The node's value as key `k` takes it, range-checked; the error is a message only.
Result<Value> convert(const KeyInfo& k, const toml::node& n) {
  auto fail = [](std::string m) { return make_error(Errc::kInvalidArgument, std::move(m)); };
  bool as_integer = k.type == Type::kInteger || (k.type == Type::kDuration && !k.fractional);
  bool as_double = k.type == Type::kDouble || (k.type == Type::kDuration && k.fractional);
  if (as_integer) {
    if (!n.is_integer()) return fail("expected an integer");
    std::int64_t v = n.value<std::int64_t>().value_or(0);
    if (v < k.int_min || v > k.int_max) {
      return fail(std::to_string(v) + " is outside " + std::to_string(k.int_min) + ".." +
                  std::to_string(k.int_max));
    }
    return Value(v);
  }
  if (as_double) {
    if (!n.is_number()) return fail("expected a number");
    double v = n.value<double>().value_or(0);
    if (!(v >= k.double_min && v <= k.double_max)) {
      return fail(shortest(v) + " is outside " + shortest(k.double_min) + ".." +
                  shortest(k.double_max));
    }
    return Value(v);
  }
  switch (k.type) {
    case Type::kBool:
      if (!n.is_boolean()) return fail("expected true or false");
      return Value(n.value<bool>().value_or(false));
    case Type::kStringList: {
      const char* want = k.string_as_list ? "expected a string or an array of strings"
                                          : "expected an array of strings";
      if (k.string_as_list && n.is_string()) return Value(split_list(*n.value<std::string>()));
      const toml::array* a = n.as_array();
      if (a == nullptr) return fail(want);
      std::vector<std::string> out;
      for (const auto& e : *a) {
        if (!e.is_string()) return fail(want);
        out.push_back(*e.value<std::string>());
      }
      return Value(std::move(out));
    }
    default:  // kString, kEnum, kLogLevel
      if (n.is_string()) return Value(*n.value<std::string>());
      if (k.integer_as_string && n.is_integer()) {
        return Value(std::to_string(n.value<std::int64_t>().value_or(0)));
      }
      return fail("expected a string");
  }
}

}  // namespace

std::vector<std::string> split_list(std::string_view s) {
  constexpr std::string_view kSeparators = ", \t\r\n";
  std::vector<std::string> out;
  for (std::size_t pos = s.find_first_not_of(kSeparators); pos != std::string_view::npos;) {
    std::size_t end = std::min(s.find_first_of(kSeparators, pos), s.size());
    out.emplace_back(s.substr(pos, end - pos));
    pos = s.find_first_not_of(kSeparators, end);
  }
  return out;
}

std::string choice_error(std::string_view value, const std::vector<std::string_view>& choices) {
  std::string m = "unknown value \"" + std::string(value) + "\" (";
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) m += i + 1 == choices.size() ? " or " : ", ";
    m += choices[i];
  }
  return m + ")";
}

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = next_utf8(s, &i);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        // C0, DEL and C1 controls: TOML forbids the first two raw; none belong on a terminal.
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
          out += buf;
        } else {
          append_utf8(&out, cp);
        }
    }
  }
  return out + "\"";
}

std::string format_value(const KeyInfo& k, const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    std::string s = shortest(*d);
    // A kDouble stays a TOML float; a fractional duration prints whole seconds as integers.
    if (k.type == Type::kDouble && s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }
  if (const auto* s = std::get_if<std::string>(&v)) return toml_string(*s);
  std::string out = "[";
  for (const auto& e : std::get<std::vector<std::string>>(v)) {
    if (out.size() > 1) out += ", ";
    out += toml_string(e);
  }
  return out + "]";
}

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kIo, "cannot read config file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > max_bytes) {
    return make_error(Errc::kLimitExceeded, path + ": config file larger than " +
                                                std::to_string(max_bytes >> 10) + " KiB");
  }
  return ss.str();
}

namespace detail {

Result<void> load(const std::vector<const KeyInfo*>& keys, std::string_view text,
                  std::string_view source, const SetFn& set, const GetFn& get, Sources* sources,
                  std::string_view label) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::kMalformed,
                      position(source, e.source()) + ": " + std::string(e.description()));
  }
  auto has_section = [&](std::string_view s) {
    return std::any_of(keys.begin(), keys.end(),
                       [&](const KeyInfo* k) { return !k->section.empty() && k->section == s; });
  };
  auto names_in = [&](std::string_view s) {
    std::vector<std::string_view> out;
    for (const KeyInfo* k : keys) {
      if (k->section == s) out.push_back(k->name);
    }
    return out;
  };
  std::vector<std::string_view> sections;
  for (const KeyInfo* k : keys) {
    if (!k->section.empty() &&
        std::find(sections.begin(), sections.end(), k->section) == sections.end()) {
      sections.push_back(k->section);
    }
  }
  std::vector<std::string> used(keys.size());  // the name each key was set under

  auto apply = [&](std::string_view section, const toml::key& key,
                   const toml::node& node) -> Result<void> {
    std::string path = section.empty() ? std::string(key.str())
                                       : std::string(section) + "." + std::string(key.str());
    std::size_t i = 0;
    for (; i < keys.size(); ++i) {
      const KeyInfo& k = *keys[i];
      if (k.section != section) continue;
      if (k.name == key.str()) break;
      if (std::find(k.old_names.begin(), k.old_names.end(), key.str()) != k.old_names.end()) {
        break;
      }
    }
    if (i == keys.size()) {
      return key_error(source, key.source(), path,
                       "unknown key" + hint(key.str(), names_in(section)));
    }
    if (!used[i].empty()) {
      return key_error(
          source, key.source(), path,
          "set twice (also as " + used[i] + ", an earlier name of " + keys[i]->path() + ")");
    }
    used[i] = path;
    auto v = convert(*keys[i], node);
    if (!v) return key_error(source, node.source(), path, v.error().message);
    if (auto r = set(i, *v); !r) return key_error(source, node.source(), path, r.error().message);
    if (sources != nullptr) {
      (*sources)[keys[i]->path()] = Origin{std::string(label), format_value(*keys[i], get(i))};
    }
    return {};
  };

  bool flat = !names_in("").empty();
  for (auto&& [key, node] : root) {
    if (node.is_table()) {
      if (!has_section(key.str())) {
        return key_error(source, key.source(), key.str(),
                         "unknown section" + hint(key.str(), sections));
      }
      for (auto&& [key2, node2] : *node.as_table()) STROP_TRY(apply(key.str(), key2, node2));
    } else if (flat) {
      STROP_TRY(apply("", key, node));
    } else {
      return key_error(source, key.source(), key.str(), "unknown key (keys belong in a [section])");
    }
  }
  return {};
}

std::string print(const std::vector<const KeyInfo*>& keys, const GetFn& value,
                  const GetFn& default_value, const PrintOptions& o) {
  std::string out;
  if (!o.header.empty()) out += "# " + std::string(o.header) + "\n";
  for (const auto& l : o.header_lines) out += "# " + l + "\n";
  auto label_of = [&](std::size_t i, const std::string& text) -> std::string {
    if (o.sources != nullptr) {
      auto it = o.sources->find(keys[i]->path());
      if (it != o.sources->end()) {
        if (!it->second.value || *it->second.value == text) return it->second.label;
        return std::string(o.changed_label);
      }
    }
    if (format_value(*keys[i], default_value(i)) == text) return "default";
    return std::string(o.changed_label);
  };
  auto emit = [&](std::size_t i) {
    const KeyInfo& k = *keys[i];
    std::string text = format_value(k, value(i));
    std::string label = label_of(i, text);
    if (o.inline_sources) {
      out += std::string(k.name) + " = " + text + "  # " + label + "\n";
    } else {
      out += "# " + std::string(k.doc) + " (from: " + label + ")\n";
      out += std::string(k.name) + " = " + text + "\n";
    }
  };
  // Top-level keys first: in TOML, a key after a [section] header belongs to that section.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i]->section.empty()) emit(i);
  }
  std::vector<std::string_view> done;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string_view s = keys[i]->section;
    if (s.empty() || std::find(done.begin(), done.end(), s) != done.end()) continue;
    done.push_back(s);
    out += "\n[" + std::string(s) + "]\n";
    for (std::size_t j = i; j < keys.size(); ++j) {
      if (keys[j]->section == s) emit(j);
    }
  }
  return out;
}

}  // namespace detail
}  // namespace strop::config
