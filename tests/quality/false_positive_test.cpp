// false_positive_test: legitimate mail must never match reported spam.
//
// 1. Every message of corpus/spam is "reported": its native signatures go into an in-memory
//    index as a node would keep them (exact values of body/url/attach in a hash map, fuzzy/1 by
//    (position, value) with a count per candidate). Every message of corpus/ham and
//    corpus/hard-ham is then checked: candidates from the index are judged by
//    sigs::compare(...).match, the same decision `strop sig --compare` prints. Zero matches
//    expected; each false positive is printed with the ham file, the spam file and the engines
//    that matched (with similarity).
// 2. The list-footer trap: the footer of each mailing list found in the ham (Mailman blocks,
//    with the SourceForge sponsor block above them, and "Yahoo! Groups Sponsor" blocks) is
//    appended to kFooterSpamPerList spam messages, as if spammers had posted to the list; those
//    are reported too, and every ham and hard-ham message (the list's own posts included) is
//    checked again. Zero matches expected.
// 3. Ham-ham collisions: every message of one ham set is "reported" and the same set checked
//    against itself (how much legitimate mail one mistaken or malicious report takes down).
//    Printed per engine (pairs sharing a value / equal fuzzy positions, messages in them, and
//    pairs only that engine joins) and per verdict policy (tests/quality/corpus.hpp Policy:
//    fuzzy/1 threshold, the url/1 rule of sigs::url_match_decides_alone), with the spam-vs-ham
//    false positives of step 1 under each policy. Informational; the 0 of step 1 is asserted.
//
//   false_positive_test [--corpus DIR] [--brute] [--pairs N]
// --brute also compares every ham with every reported spam, to check the index finds every
// candidate. Exit status: 0 no false positive, 1 false positives, 66 no corpus.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "corpus.hpp"
#include "mutate.hpp"
#include "sigs/compute.hpp"

namespace {

namespace sigs = strop::sigs;
using strop::quality::CorpusFile;

constexpr int kFooterSpamPerList = 12;    // spam messages posted to each list
constexpr int kMinListPosts = 3;          // lists with fewer ham posts are left out
constexpr int kNearMisses = 10;           // highest non-matching fuzzy similarities shown
constexpr int kCollisionPairsShown = 12;  // ham-ham pairs listed per set (fuzzy-only, url-only)

// A node-like index of reported signature sets.
class Index {
 public:
  void add(std::string name, sigs::SignatureSet set) {
    int id = static_cast<int>(sets_.size());
    for (const auto& s : set.sigs) {
      if (s.engine == sigs::Engine::kFuzzy) {
        if (auto h = sigs::decode_fuzzy(s.value)) {
          for (int p = 0; p < sigs::kFuzzyHashes; ++p)
            fuzzy_[key(p, (*h)[static_cast<std::size_t>(p)])].push_back(id);
        }
      } else {
        exact_[s.text()].push_back(id);
      }
    }
    names_.push_back(std::move(name));
    sets_.push_back(std::move(set));
  }

  // Reported sets sharing any exact value or any fuzzy (position, value) with `set`, with the
  // number of equal fuzzy positions.
  std::map<int, int> candidates(const sigs::SignatureSet& set) const {
    std::map<int, int> out;
    for (const auto& s : set.sigs) {
      if (s.engine == sigs::Engine::kFuzzy) {
        auto h = sigs::decode_fuzzy(s.value);
        if (!h) continue;
        for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
          auto it = fuzzy_.find(key(p, (*h)[static_cast<std::size_t>(p)]));
          if (it == fuzzy_.end()) continue;
          std::set<int> once(it->second.begin(), it->second.end());
          for (int id : once) ++out[id];
        }
      } else if (auto it = exact_.find(s.text()); it != exact_.end()) {
        for (int id : it->second) out.try_emplace(id, 0);
      }
    }
    return out;
  }

  std::size_t size() const { return sets_.size(); }
  const std::string& name(int id) const { return names_[static_cast<std::size_t>(id)]; }
  const sigs::SignatureSet& set(int id) const { return sets_[static_cast<std::size_t>(id)]; }

 private:
  static std::uint64_t key(int pos, std::uint32_t v) {
    return (static_cast<std::uint64_t>(pos) << 32) | v;
  }
  std::unordered_map<std::string, std::vector<int>> exact_;
  std::unordered_map<std::uint64_t, std::vector<int>> fuzzy_;
  std::vector<std::string> names_;
  std::vector<sigs::SignatureSet> sets_;
};

struct Checked {
  std::string name;  // "ham/FILE"
  sigs::SignatureSet set;
};

struct Report {
  int false_positives = 0;
  int index_disagreements = 0;
  std::vector<std::tuple<double, std::string, std::string>> near;  // fuzzy sim, ham, spam
};

// Checks every message of `ham` against `index`; prints each false positive.
Report check(const Index& index, const std::vector<Checked>& ham, bool brute) {
  Report r;
  for (const auto& h : ham) {
    auto cands = index.candidates(h.set);
    std::set<int> matched;
    for (const auto& [id, eq] : cands) {
      auto cmp = sigs::compare(index.set(id), h.set);
      // The node's candidates from the index alone: any shared exact value, or enough fuzzy
      // positions. Every match of compare() must be among them (compare() may still turn a
      // candidate down: a url/1 or long-text fuzzy/1 match without corroboration).
      bool exact_shared = false;
      for (const auto& ec : cmp.engines)
        if (ec.engine != sigs::Engine::kFuzzy && ec.match) exact_shared = true;
      bool index_says = exact_shared || eq >= sigs::kFuzzyMatchMin;
      if (cmp.match && !index_says) {
        ++r.index_disagreements;
        std::printf("  index/compare disagree: %s vs %s (fuzzy positions %d): %s\n", h.name.c_str(),
                    index.name(id).c_str(), eq, strop::quality::describe(cmp).c_str());
      }
      if (cmp.match) {
        matched.insert(id);
        ++r.false_positives;
        std::printf("  FALSE POSITIVE: %s matches %s: %s\n", h.name.c_str(), index.name(id).c_str(),
                    strop::quality::describe(cmp).c_str());
      } else {
        double f = strop::quality::similarity(cmp, sigs::Engine::kFuzzy);
        if (f > 0) r.near.emplace_back(f, h.name, index.name(id));
      }
    }
    if (brute) {
      for (int id = 0; id < static_cast<int>(index.size()); ++id) {
        if (cands.count(id)) continue;
        auto cmp = sigs::compare(index.set(id), h.set);
        if (cmp.match) {
          ++r.false_positives;
          ++r.index_disagreements;
          std::printf("  FALSE POSITIVE (missed by the index): %s matches %s: %s\n", h.name.c_str(),
                      index.name(id).c_str(), strop::quality::describe(cmp).c_str());
        }
      }
    }
  }
  std::sort(r.near.begin(), r.near.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  if (r.near.size() > static_cast<std::size_t>(kNearMisses)) r.near.resize(kNearMisses);
  return r;
}

void print_near(const Report& r) {
  if (r.near.empty()) return;
  std::printf("  closest non-matching pairs (fuzzy similarity; match needs %d/%d = %.2f):\n",
              sigs::kFuzzyMatchMin, sigs::kFuzzyHashes,
              static_cast<double>(sigs::kFuzzyMatchMin) / sigs::kFuzzyHashes);
  for (const auto& [f, h, s] : r.near) std::printf("    %.2f  %s  %s\n", f, h.c_str(), s.c_str());
}

// Evidence both ways for every pair of `msgs` that shares any value or fuzzy position.
struct PairEvidence {
  int a = 0, b = 0;
  strop::quality::Evidence ab;  // a reported, b checked
  strop::quality::Evidence ba;  // b reported, a checked
};

std::vector<PairEvidence> candidate_pairs(const std::vector<Checked>& msgs) {
  Index index;
  for (const auto& m : msgs) index.add(m.name, m.set);
  std::vector<PairEvidence> out;
  for (int b = 0; b < static_cast<int>(msgs.size()); ++b) {
    for (const auto& [a, eq] : index.candidates(msgs[static_cast<std::size_t>(b)].set)) {
      if (a >= b) continue;  // each unordered pair once
      const auto& sa = msgs[static_cast<std::size_t>(a)].set;
      const auto& sb = msgs[static_cast<std::size_t>(b)].set;
      out.push_back({a, b, strop::quality::evidence(sa, sb), strop::quality::evidence(sb, sa)});
    }
  }
  return out;
}

// Pairs and distinct messages.
struct Tally {
  int pairs = 0;
  std::set<int> messages;
  void add(const PairEvidence& p) {
    ++pairs;
    messages.insert(p.a);
    messages.insert(p.b);
  }
};

void print_collisions(const char* label, const std::vector<Checked>& msgs, int shown) {
  auto pairs = candidate_pairs(msgs);
  const int fmin = sigs::kFuzzyMatchMin;
  std::map<std::string, Tally> engine, alone;
  for (const auto& p : pairs) {
    const auto& e = p.ab;  // shared values are symmetric; only checked_has_text is not
    bool body = e.body, fuzzy = e.fuzzy_equal >= fmin, url = e.url, attach = e.attach;
    if (body) engine["body/1"].add(p);
    if (fuzzy) engine["fuzzy/1"].add(p);
    if (url) engine["url/1"].add(p);
    if (attach) engine["attach/1"].add(p);
    int n = body + fuzzy + url + attach;
    if (n == 1) alone[body ? "body/1" : fuzzy ? "fuzzy/1" : url ? "url/1" : "attach/1"].add(p);
  }
  std::printf("\n%s: %zu messages, %zu candidate pairs\n", label, msgs.size(), pairs.size());
  std::printf("  %-10s %8s %9s %12s %14s\n", "engine", "pairs", "messages", "alone pairs",
              "alone messages");
  for (const char* name : {"body/1", "fuzzy/1", "url/1", "attach/1"}) {
    const Tally& t = engine[name];
    const Tally& o = alone[name];
    std::printf("  %-10s %8d %9zu %12d %14zu\n", name, t.pairs, t.messages.size(), o.pairs,
                o.messages.size());
  }
  std::printf("  (fuzzy/1 at >= %d of %d positions; url/1: any shared value, before the rule)\n",
              fmin, sigs::kFuzzyHashes);
  std::printf("  collisions (a pair collides when reporting either message lists the other):\n");
  for (const auto& pol : strop::quality::sweep_policies()) {
    Tally t;
    for (const auto& p : pairs) {
      if (strop::quality::decides(p.ab, pol) || strop::quality::decides(p.ba, pol)) t.add(p);
    }
    std::printf("    %-30s %6d pairs %5zu messages\n", pol.name, t.pairs, t.messages.size());
  }
  auto list = [&](const char* what, auto pick) {
    int n = 0;
    for (const auto& p : pairs) {
      if (!pick(p.ab) || n >= shown) continue;
      ++n;
      std::printf("    %s  %s  fuzzy %d/32%s\n", msgs[static_cast<std::size_t>(p.a)].name.c_str(),
                  msgs[static_cast<std::size_t>(p.b)].name.c_str(), p.ab.fuzzy_equal,
                  p.ab.url ? " url" : "");
    }
    if (n) std::printf("    (first %d %s pairs)\n", n, what);
  };
  list("fuzzy/1-only", [&](const strop::quality::Evidence& e) {
    return e.fuzzy_equal >= fmin && !e.body && !e.attach && !e.url;
  });
  list("url/1-only", [&](const strop::quality::Evidence& e) {
    return e.url && !e.body && !e.attach && e.fuzzy_equal < fmin;
  });
}

// Spam-vs-ham false positives of step 1 under each sweep policy.
void print_policy_false_positives(const Index& index, const std::vector<Checked>& ham) {
  std::printf("\nspam vs ham under each policy (ham messages flagged):\n");
  for (const auto& pol : strop::quality::sweep_policies()) {
    int flagged = 0;
    for (const auto& h : ham) {
      bool any = false;
      for (const auto& [id, eq] : index.candidates(h.set)) {
        any = any || strop::quality::decides(strop::quality::evidence(index.set(id), h.set), pol);
      }
      flagged += any;
    }
    std::printf("    %-30s %6d\n", pol.name, flagged);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus = strop::quality::corpus_root(STROP_SHARED_DIR);
  bool brute = false;
  int shown = kCollisionPairsShown;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--brute") {
      brute = true;
    } else if (a == "--corpus" && i + 1 < argc) {
      corpus = argv[++i];
    } else if (a == "--pairs" && i + 1 < argc) {
      shown = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: false_positive_test [--corpus DIR] [--brute] [--pairs N]\n");
      return 64;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  auto spam = strop::quality::load_dir(corpus + "/spam");
  auto ham_files = strop::quality::load_dir(corpus + "/ham");
  auto hard = strop::quality::load_dir(corpus + "/hard-ham");
  if (spam.empty() || ham_files.empty()) {
    std::fprintf(stderr, "false_positive_test: no corpus under %s\n", corpus.c_str());
    return 66;
  }
  const sigs::Options options;

  // 1. Report all spam.
  Index index;
  int spam_errors = 0;
  for (const auto& f : spam) {
    auto s = sigs::compute(f.raw, options);
    if (!s.ok()) {
      ++spam_errors;
      continue;
    }
    index.add("spam/" + f.name, std::move(*s));
  }
  std::vector<Checked> ham, easy_set, hard_set;
  int ham_errors = 0;
  auto add_ham = [&](const std::vector<CorpusFile>& files, const char* dir,
                     std::vector<Checked>* one_set) {
    for (const auto& f : files) {
      auto s = sigs::compute(f.raw, options);
      if (!s.ok()) {
        ++ham_errors;
        continue;
      }
      ham.push_back({std::string(dir) + "/" + f.name, *s});
      one_set->push_back({std::string(dir) + "/" + f.name, std::move(*s)});
    }
  };
  add_ham(ham_files, "ham", &easy_set);
  add_ham(hard, "hard-ham", &hard_set);
  std::printf(
      "Reported %zu spam (%d not computable); checking %zu ham + hard-ham (%d not "
      "computable)\n",
      index.size(), spam_errors, ham.size(), ham_errors);
  Report main_report = check(index, ham, brute);
  std::printf("corpus spam vs ham: %d false positives\n", main_report.false_positives);
  print_near(main_report);
  print_policy_false_positives(index, ham);

  // 2. Spam posted to the lists the ham comes from.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>>
      lists;  // name -> (file, footer)
  auto collect = [&](const std::vector<CorpusFile>& files, const char* dir) {
    for (const auto& f : files) {
      std::string list;
      if (auto footer = strop::quality::extract_list_footer(f.raw, &list))
        lists[list].emplace_back(std::string(dir) + "/" + f.name, *footer);
    }
  };
  collect(ham_files, "ham");
  collect(hard, "hard-ham");
  Index footer_index;
  std::printf("\nList-footer trap: spam posted to each list with at least %d ham posts\n",
              kMinListPosts);
  for (const auto& [list, posts] : lists) {
    if (static_cast<int>(posts.size()) < kMinListPosts) continue;
    // The footer most posts of the list carry (ties: the first post's).
    std::map<std::string, int> counts;
    for (const auto& p : posts) ++counts[p.second];
    std::string footer = posts.front().second;
    for (const auto& [text, n] : counts)
      if (n > counts[footer]) footer = text;
    std::size_t step = std::max<std::size_t>(1, spam.size() / kFooterSpamPerList);
    int posted = 0;
    for (std::size_t i = strop::quality::stable_hash(list) % step;
         i < spam.size() && posted < kFooterSpamPerList; i += step) {
      std::string raw = strop::quality::add_list_footer(spam[i].raw, footer);
      auto s = sigs::compute(raw, options);
      if (!s.ok()) continue;
      footer_index.add("spam/" + spam[i].name + "+footer(" + list + ")", std::move(*s));
      ++posted;
    }
    std::printf("  %-22s %4zu ham posts, %d spam posted with its footer\n", list.c_str(),
                posts.size(), posted);
  }
  Report footer_report = check(footer_index, ham, brute);
  std::printf("list-footer spam vs ham: %d false positives\n", footer_report.false_positives);
  print_near(footer_report);

  // 3. Ham-ham collisions.
  std::printf("\nHam-ham collisions: each set reported whole and checked against itself\n");
  print_collisions("ham", easy_set, shown);
  print_collisions("hard-ham", hard_set, shown);

  int fp = main_report.false_positives + footer_report.false_positives;
  int disagree = main_report.index_disagreements + footer_report.index_disagreements;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%d false positives, %d index/compare disagreements (%.1f s)\n", fp, disagree,
              secs);
  if (fp || disagree) {
    std::printf("FAIL\n");
    return 1;
  }
  std::printf("no false positives\n");
  return 0;
}
