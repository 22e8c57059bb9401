// config_table.hpp: one typed key table per program drives its whole configuration surface:
// loading TOML (unknown keys rejected, types and ranges checked), the one error format
// `FILE:LINE:COL: section.key: message`, the TOML printer (always valid TOML, read back
// unchanged by the loader) and `--print-config`'s note of where each value came from.
//
// A program declares its keys once, each with section, name, type, range, a one-line doc and
// an accessor into its Config struct (a data member pointer or a lambda returning a
// reference); the default is whatever the Config struct's initialiser says (declared once).
//
//   const config::Table<Config>& table() {
//     static const config::Table<Config> t({
//         config::string_key<Config>("node", "data_dir", "data directory", &Config::data_dir),
//         config::integer_key<Config>("node", "threads", "I/O threads; 0: one per core",
//                                     &Config::threads, 0, 256),
//     });
//     return t;
//   }
//
// Time-unit convention (docs/operations.md "Configuration conventions"): a duration is a
// number in the unit its name ends with, `_us`, `_ms` or `_seconds`; duration_key() derives
// the unit from the std::chrono type it stores.
//
// Thread-safety: a Table is immutable after construction; load() and print() may run
// concurrently on distinct Config objects. Lifetime: the string_views in KeyInfo point at
// literals (or other storage that outlives the table).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.hpp"

namespace strop::config {

enum class Type {
  kString,
  kBool,
  kInteger,     // range [int_min, int_max]
  kDouble,      // range [double_min, double_max]; integers are accepted
  kDuration,    // a count in `unit` (an integer, or a number when `fractional`)
  kStringList,  // an array of strings
  kEnum,        // one of `choices` (a string)
  kLogLevel,    // one of strop/log_level.hpp's names; checked by the program's validate()
};

// A value as the loader reads it and the printer writes it.
using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>>;

// What the loader and printer need to know of a key.
struct KeyInfo {
  KeyInfo() = default;
  KeyInfo(std::string_view s, std::string_view n, std::string_view d, Type t)
      : section(s), name(n), doc(d), type(t) {}

  std::string_view section;  // "" for a top-level key (flat files such as strop's agent.toml)
  std::string_view name;
  std::string_view doc;  // one line
  Type type = Type::kString;
  std::int64_t int_min = std::numeric_limits<std::int64_t>::min();
  std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
  double double_min = -std::numeric_limits<double>::infinity();
  double double_max = std::numeric_limits<double>::infinity();
  std::string_view unit;                    // kDuration: "us", "ms" or "seconds"
  bool fractional = false;                  // kDuration: a number (double) rather than an integer
  std::vector<std::string_view> choices;    // kEnum / kLogLevel: the accepted names
  std::vector<std::string_view> old_names;  // earlier names the loader still accepts
  bool integer_as_string = false;           // kString: an integer reads as its decimal digits
  bool string_as_list = false;  // kStringList: a string reads as a list split at , and blanks

  // "section.name", or "name" for a top-level key.
  std::string path() const;
};

// A key of Config type C: its description plus how to store and read its value. `set`
// returns an error message only; the loader adds position and key. `set` is given a value of
// the key's type, already range-checked.
template <class C>
struct Key {
  KeyInfo info;
  std::function<Result<void>(C&, const Value&)> set;
  std::function<Value(const C&)> get;

  // Chainable adjustments for table declarations.
  Key old_name(std::string_view n) && {
    info.old_names.push_back(n);
    return std::move(*this);
  }
};

// Where a key's value came from. `label` is what --print-config shows: "default", "file
// PATH", "env NAME", "flag --NAME", or a program's own wording. When `value` (the printed
// TOML value at the time it was recorded) is set, the printer shows the label only while the
// key still has that value; a key changed since then is shown with PrintOptions::changed_label.
struct Origin {
  std::string label;
  std::optional<std::string> value;
};
using Sources = std::map<std::string, Origin>;  // by KeyInfo::path()

struct PrintOptions {
  std::string_view header;  // first comment line, without "# "
  // Further lines of the header comment, without "# ".
  std::vector<std::string> header_lines;
  // true: `key = value  # LABEL` (strop's agent.toml); false: `# DOC (from: LABEL)` above
  // each key.
  bool inline_sources = false;
  const Sources* sources = nullptr;
  // Label of a value that differs from the default and from what `sources` recorded.
  std::string_view changed_label = "flag";
};

// --- The type-independent machinery (config_table.cpp) ---

namespace detail {
using SetFn = std::function<Result<void>(std::size_t, const Value&)>;
using GetFn = std::function<Value(std::size_t)>;
// Parses `text` and hands each key's value to set(index). Errors: kMalformed (TOML syntax,
// "SOURCE:LINE:COL: description"), kInvalidArgument ("SOURCE:LINE:COL: KEY: message").
// Records loaded keys in `sources` (label `label`) when given.
Result<void> load(const std::vector<const KeyInfo*>& keys, std::string_view text,
                  std::string_view source, const SetFn& set, const GetFn& get, Sources* sources,
                  std::string_view label);
std::string print(const std::vector<const KeyInfo*>& keys, const GetFn& value,
                  const GetFn& default_value, const PrintOptions& options);
}  // namespace detail

// The TOML text of `v` as key `k` prints it (strings escaped, always valid TOML).
std::string format_value(const KeyInfo& k, const Value& v);
// Splits "a, b c" at commas and blanks into {"a", "b", "c"} (list values given as one string).
std::vector<std::string> split_list(std::string_view s);
// A TOML basic string: quotes, backslash and control characters escaped, invalid UTF-8
// replaced by U+FFFD.
std::string toml_string(std::string_view s);

// Reads a whole file of at most `max_bytes`. Errors: kIo (unreadable), kLimitExceeded.
Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 1u << 20);

// A program's key table.
template <class C>
class Table {
 public:
  explicit Table(std::vector<Key<C>> keys) : keys_(std::move(keys)) {
    for (const auto& k : keys_) infos_.push_back(&k.info);
  }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Reads TOML `text` over `c`. `source` names the text in messages. Loaded keys are recorded
  // in `sources` under `label` when given.
  Result<void> load(std::string_view text, std::string_view source, C& c,
                    Sources* sources = nullptr, std::string_view label = {}) const {
    return detail::load(
        infos_, text, source, [&](std::size_t i, const Value& v) { return keys_[i].set(c, v); },
        [&](std::size_t i) { return keys_[i].get(c); }, sources, label);
  }

  // `c` as TOML, every key present, sections in table order.
  std::string print(const C& c, const PrintOptions& options = {}) const {
    static const C kDefaults{};
    return detail::print(
        infos_, [&](std::size_t i) { return keys_[i].get(c); },
        [&](std::size_t i) { return keys_[i].get(kDefaults); }, options);
  }

  const std::vector<Key<C>>& keys() const { return keys_; }

 private:
  std::vector<Key<C>> keys_;
  std::vector<const KeyInfo*> infos_;
};

// --- Key builders. `access` is a data member pointer or a callable C& -> T&. ---

namespace detail {
template <class C, class Access>
using Ref = decltype(std::invoke(std::declval<Access>(), std::declval<C&>()));

template <class C, class Access>
decltype(auto) ref(const Access& a, C& c) {
  return std::invoke(a, c);
}
template <class C, class Access>
decltype(auto) cref(const Access& a, const C& c) {
  return std::invoke(a, const_cast<C&>(c));  // accessors are written for C&; read only here
}

template <class Period>
constexpr std::string_view unit_name() {
  if constexpr (std::is_same_v<Period, std::micro>) {
    return "us";
  } else if constexpr (std::is_same_v<Period, std::milli>) {
    return "ms";
  } else {
    static_assert(std::is_same_v<Period, std::ratio<1>>, "durations are in us, ms or seconds");
    return "seconds";
  }
}

template <class C>
Key<C> with_choices(Key<C> k, Type type, const std::vector<std::string_view>& choices) {
  k.info.type = type;
  k.info.choices = choices;
  return k;
}

template <class T>
T& follow(T& t) {
  return t;
}
template <class T, class M, class... Rest>
auto& follow(T& t, M m, Rest... rest) {
  return follow(t.*m, rest...);
}

// A key whose member converts to and from the Value alternative V with static_cast.
template <class V, class C, class Access>
Key<C> plain_key(const KeyInfo& info, Access access) {
  using T = std::remove_cvref_t<Ref<C, Access>>;
  Key<C> k;
  k.info = info;
  k.set = [access](C& c, const Value& v) -> Result<void> {
    detail::ref(access, c) = static_cast<T>(std::get<V>(v));
    return {};
  };
  k.get = [access](const C& c) -> Value { return static_cast<V>(detail::cref(access, c)); };
  return k;
}
}  // namespace detail

// An accessor through nested data members, for a key stored below the Config struct:
// nested(&Config::pipeline, &PipelineOptions::budget) reads and writes c.pipeline.budget.
template <class... M>
auto nested(M... members) {
  return [members...](auto& c) -> auto& { return detail::follow(c, members...); };
}

template <class C, class Access>
Key<C> string_key(std::string_view section, std::string_view name, std::string_view doc,
                  Access access) {
  return detail::plain_key<std::string, C>({section, name, doc, Type::kString}, access);
}

template <class C, class Access>
Key<C> bool_key(std::string_view section, std::string_view name, std::string_view doc,
                Access access) {
  return detail::plain_key<bool, C>({section, name, doc, Type::kBool}, access);
}

// An integer member of any integral type, read in [lo, hi].
template <class C, class Access>
Key<C> integer_key(std::string_view section, std::string_view name, std::string_view doc,
                   Access access, std::int64_t lo, std::int64_t hi) {
  KeyInfo info(section, name, doc, Type::kInteger);
  info.int_min = lo;
  info.int_max = hi;
  return detail::plain_key<std::int64_t, C>(std::move(info), access);
}

// A floating-point member, read in [lo, hi] (NaN never is).
template <class C, class Access>
Key<C> double_key(std::string_view section, std::string_view name, std::string_view doc,
                  Access access, double lo, double hi) {
  KeyInfo info(section, name, doc, Type::kDouble);
  info.double_min = lo;
  info.double_max = hi;
  return detail::plain_key<double, C>(std::move(info), access);
}

// A std::chrono::duration member, written as an integer count of its unit; the key's name
// must end with the unit (`_us`, `_ms`, `_seconds`), see the convention above.
template <class C, class Access>
Key<C> duration_key(std::string_view section, std::string_view name, std::string_view doc,
                    Access access, std::int64_t lo, std::int64_t hi) {
  using D = std::remove_reference_t<detail::Ref<C, Access>>;
  Key<C> k;
  k.info = KeyInfo(section, name, doc, Type::kDuration);
  k.info.int_min = lo;
  k.info.int_max = hi;
  k.info.unit = detail::unit_name<typename D::period>();
  k.set = [access](C& c, const Value& v) -> Result<void> {
    detail::ref(access, c) = D(static_cast<typename D::rep>(std::get<std::int64_t>(v)));
    return {};
  };
  k.get = [access](const C& c) -> Value {
    return static_cast<std::int64_t>(detail::cref(access, c).count());
  };
  return k;
}

// A duration held as an integer count in `unit` (an int member such as `timeout_ms`).
template <class C, class Access>
Key<C> duration_count_key(std::string_view section, std::string_view name, std::string_view doc,
                          std::string_view unit, Access access, std::int64_t lo, std::int64_t hi) {
  Key<C> k = integer_key<C>(section, name, doc, access, lo, hi);
  k.info.type = Type::kDuration;
  k.info.unit = unit;
  return k;
}

// A duration in seconds held as a double (fractions allowed), read in [lo, hi].
template <class C, class Access>
Key<C> seconds_key(std::string_view section, std::string_view name, std::string_view doc,
                   Access access, double lo, double hi) {
  Key<C> k = double_key<C>(section, name, doc, access, lo, hi);
  k.info.type = Type::kDuration;
  k.info.unit = "seconds";
  k.info.fractional = true;
  return k;
}

template <class C, class Access>
Key<C> string_list_key(std::string_view section, std::string_view name, std::string_view doc,
                       Access access) {
  return detail::plain_key<std::vector<std::string>, C>({section, name, doc, Type::kStringList},
                                                        access);
}

// An enum member: `parse` (string_view -> Result<E>) reads it, `name` (E -> string) prints it.
template <class C, class Access, class Parse, class Name>
Key<C> enum_key(std::string_view section, std::string_view name, std::string_view doc,
                Access access, const std::vector<std::string_view>& choices, Parse parse,
                Name name_of) {
  Key<C> k;
  k.info = KeyInfo(section, name, doc, Type::kEnum);
  k.info.choices = choices;
  k.set = [access, parse](C& c, const Value& v) -> Result<void> {
    auto e = parse(std::get<std::string>(v));
    if (!e) return e.error();
    detail::ref(access, c) = *e;
    return {};
  };
  k.get = [access, name_of](const C& c) -> Value {
    return std::string(name_of(detail::cref(access, c)));
  };
  return k;
}

// A log level (strop/log_level.hpp), held as a string; the program's validate() checks it
// with is_log_level() and reports it with log_level_error().
template <class C, class Access>
Key<C> log_level_key(std::string_view section, std::string_view name, std::string_view doc,
                     Access access, std::vector<std::string_view> levels) {
  return detail::with_choices(string_key<C>(section, name, doc, access), Type::kLogLevel,
                              std::move(levels));
}

// The message for a value that is none of `choices`: `unknown value "x" (a, b or c)`.
std::string choice_error(std::string_view value, const std::vector<std::string_view>& choices);

// A string member restricted to `choices`, checked when loading.
template <class C, class Access>
Key<C> choice_key(std::string_view section, std::string_view name, std::string_view doc,
                  Access access, std::vector<std::string_view> choices) {
  Key<C> k = detail::with_choices(string_key<C>(section, name, doc, access), Type::kEnum,
                                  std::move(choices));
  k.set = [access, choices = k.info.choices](C& c, const Value& v) -> Result<void> {
    const auto& s = std::get<std::string>(v);
    for (auto ch : choices) {
      if (ch == s) {
        detail::ref(access, c) = s;
        return {};
      }
    }
    return make_error(Errc::kInvalidArgument, choice_error(s, choices));
  };
  return k;
}

}  // namespace strop::config
