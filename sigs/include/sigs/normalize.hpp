// normalize.hpp: text normalisation shared by the native engines.
//
// strip_quotes_and_footers() removes what a list or a reply adds around the author's text
// (quoted "> " lines, signatures after "-- ", mailing-list footers). tokenize() turns text into
// the word stream the body and fuzzy engines hash: Unicode case folding, diacritics and
// look-alike letters folded to Latin, zero-width characters removed, whitespace folded, and
// what varies per recipient dropped (e-mail addresses, URLs, numbers, long random tokens).
// canonical_url() gives the form the url engine hashes. Pure functions, thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strop::sigs {

struct TokenLimits {
  std::size_t max_tokens = 20000;     // Default: words kept per message
  std::size_t max_word_bytes = 24;    // Default: longer words are random tokens and are dropped
  std::size_t max_consonant_run = 5;  // Default: words with a longer run are gibberish
};

std::string strip_quotes_and_footers(std::string_view text);

// Appends the normalised words of `text` to `out`.
void tokenize(std::string_view text, std::vector<std::string>* out, const TokenLimits& limits = {});

// Calls fn for each normalised word of `text` (the view is valid only during the call);
// returns the number of words. The allocation-free form of tokenize().
std::size_t for_each_word(std::string_view text, const TokenLimits& limits,
                          const std::function<void(std::string_view)>& fn);

struct CanonicalUrl {
  std::string host;               // lowercase, no "www.", no port or user info
  std::string registered_domain;  // e.g. "example.co.uk" for "a.b.example.co.uk"
  std::string path;               // lowercase path, no query or fragment, no trailing '/'
  bool specific = false;          // path names a resource (not just a host or index page)
};

// nullopt when `url` has no usable host.
std::optional<CanonicalUrl> canonical_url(std::string_view url);

// URLs embedded in a redirector's query string ("?url=http%3A%2F%2F..."), decoded.
std::vector<std::string> embedded_urls(std::string_view url);

}  // namespace strop::sigs
