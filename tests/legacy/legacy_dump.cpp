// legacy_dump: prints Strop's legacy signatures of mail files in the format of the
// reference drivers (razor_ref.pl, pyzor_ref.py), so the cross-check tests can compare them
// byte for byte.
//
//   legacy_dump razor [-ep4=7542-10] [-v] FILE...   razor-check -H lines per file
//   legacy_dump pyzor [-v] FILE...                  the pyzor digest per file (-v: the
//                                                   predigest lines, like `pyzor predigest`)
//   legacy_dump bench N FILE...                     N passes over the files, prints timings
//   legacy_dump decode CHARSET strict|ignore|replace  stdin: hex byte strings, one a line;
//                                                   prints the code points (hex) or the error
//   legacy_dump html                                stdin: hex of UTF-8 HTML, one a line;
//                                                   prints hex of UTF-8 text, or CRASH
// A FILE of "-" reads a list of file names from stdin.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "base/digest.hpp"
#include "base/hex.hpp"
#include "sigs/legacy.hpp"
#include "sigs/pyzor.hpp"
#include "sigs/razor.hpp"
#include "sigs/src/pyzor_internal.hpp"

namespace {

using strop::sigs::razor::Ep4;

std::string read_file(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return ss.str();
}

void dump_razor(const std::string& raw, const Ep4& ep4, const std::string& ep4_text, bool verbose,
                std::string* out) {
  auto mails = strop::sigs::razor::sign_file(raw, ep4);
  if (!mails) {
    out->append("DIED\n");
    return;
  }
  if (mails->empty()) {
    out->append("NOMAIL\n");
    return;
  }
  std::string dbg;
  for (std::size_t m = 0; m < mails->size(); ++m) {
    const auto& mail = (*mails)[m];
    for (std::size_t i = 0; i < mail.parts.size(); ++i) {
      const auto& p = mail.parts[i];
      const std::string id = std::to_string(m + 1) + "." + std::to_string(i);
      if (!p.skipme) {
        out->append(id + " e4: " + p.e4 + ", ep4: " + ep4_text + "\n");
        for (const std::string& s : p.e8) out->append(id + " e8: " + s + "\n");
      }
      if (verbose) {
        auto opt = [](const std::optional<std::string>& c) {
          return c ? strop::sha1_hex(*c) + "/" + std::to_string(c->size()) : std::string("undef/-");
        };
        dbg += "# " + id + " body=" + strop::sha1_hex(p.body) + "/" +
               std::to_string(p.body.size()) + " cleaned=" + opt(p.cleaned) +
               " vr8=" + opt(p.cleaned_vr8) + " skip=" + (p.skipme ? "1" : "0") + "\n";
      }
    }
  }
  out->append(dbg);
}

std::string unhex(const std::string& h) {
  std::string o;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    o.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return o;
}
std::u32string from_utf8(std::string_view s) {  // input is valid UTF-8 (made by Python)
  std::u32string o;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    char32_t v = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n && i + static_cast<std::size_t>(k) < s.size(); ++k) {
      v = (v << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
    }
    o.push_back(v);
    i += static_cast<std::size_t>(n) + 1;
  }
  return o;
}

// decode / html: line-oriented differential modes used by legacy_diff.py.
int run_line_mode(const std::string& mode, const std::vector<std::string>& args) {
  using namespace strop::sigs::pyzor;
  std::string line, out;
  DecodeErrors errors = DecodeErrors::kStrict;
  if (mode == "decode") {
    if (args.size() != 2) return 64;
    errors = args[1] == "ignore"    ? DecodeErrors::kIgnore
             : args[1] == "replace" ? DecodeErrors::kReplace
                                    : DecodeErrors::kStrict;
  }
  while (std::getline(std::cin, line)) {
    if (mode == "decode") {
      Decoded d = decode(unhex(line), args[0], errors);
      switch (d.status) {
        case DecodeStatus::kOk: {
          std::string h;
          char buf[16];
          for (char32_t c : d.text) {
            std::snprintf(buf, sizeof buf, "%x,", static_cast<unsigned>(c));
            h += buf;
          }
          out += "ok " + h + "\n";
          break;
        }
        case DecodeStatus::kLookupError: out += "LookupError\n"; break;
        case DecodeStatus::kUnicodeError: out += "UnicodeError\n"; break;
        case DecodeStatus::kValueError: out += "ValueError\n"; break;
      }
    } else {
      std::optional<std::u32string> t = html_to_text(from_utf8(unhex(line)));
      out += t ? strop::hex_encode(to_utf8(*t)) + "\n" : std::string("CRASH\n");
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: legacy_dump razor|pyzor|bench [options] FILE...\n");
    return 64;
  }
  const std::string mode = argv[1];
  std::string ep4_text(strop::sigs::razor::kDefaultEp4);
  bool verbose = false;
  int passes = 1;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-ep4=", 0) == 0) {
      ep4_text = a.substr(5);
    } else if (a == "-v") {
      verbose = true;
    } else if (mode == "bench" && files.empty() && passes == 1 &&
               a.find_first_not_of("0123456789") == std::string::npos) {
      passes = std::stoi(a);
    } else if (a == "-") {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (!line.empty()) files.push_back(line);
      }
    } else {
      files.push_back(a);
    }
  }
  if (mode == "decode" || mode == "html") return run_line_mode(mode, files);
  auto ep4 = strop::sigs::razor::parse_ep4(ep4_text);
  if (!ep4 && mode == "razor") {
    std::fprintf(stderr, "bad ep4: %s\n", ep4.error().to_string().c_str());
    return 64;
  }
  if (mode == "bench") {
    std::vector<std::string> raws;
    for (const std::string& f : files) {
      bool ok = false;
      raws.push_back(read_file(f, &ok));
    }
    // CPU time of this thread (the wall clock is meaningless on a shared machine); per
    // message, the best of `passes` runs, then the median and mean over the files.
    auto cpu_us = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
    };
    std::size_t sink = 0;
    auto measure = [&](auto&& fn) {
      std::vector<double> best(raws.size(), 1e300);
      for (int p = 0; p < passes; ++p) {
        for (std::size_t i = 0; i < raws.size(); ++i) {
          const double t0 = cpu_us();
          sink += fn(raws[i]);
          best[i] = std::min(best[i], cpu_us() - t0);
        }
      }
      double total = 0;
      for (double b : best) total += b;
      std::sort(best.begin(), best.end());
      return std::pair<double, double>(best.empty() ? 0 : best[best.size() / 2],
                                       best.empty() ? 0 : total / static_cast<double>(best.size()));
    };
    auto [rz_med, rz_mean] = measure([&](const std::string& r) {
      std::vector<strop::sigs::Signature> sigs;
      strop::sigs::add_razor_signatures(r, ep4_text, true, true, &sigs);
      return sigs.size();
    });
    auto [pz_med, pz_mean] = measure([&](const std::string& r) {
      return static_cast<std::size_t>(strop::sigs::pyzor_digest(r).has_value());
    });
    std::printf(
        "messages %zu, best of %d runs each (thread CPU time)\n"
        "razor-e4+e8: median %.1f us, mean %.1f us per message\n"
        "pyzor:       median %.1f us, mean %.1f us per message\n(sink %zu)\n",
        raws.size(), passes, rz_med, rz_mean, pz_med, pz_mean, sink);
    return 0;
  }
  std::string out;
  for (const std::string& f : files) {
    bool ok = false;
    const std::string raw = read_file(f, &ok);
    out += "== " + f + "\n";
    if (!ok) {
      out += "UNREADABLE\n";
      continue;
    }
    if (mode == "razor") {
      dump_razor(raw, *ep4, ep4_text, verbose, &out);
    } else if (mode == "pyzor") {
      if (verbose) {
        auto lines = strop::sigs::pyzor::predigest_lines(raw);
        if (!lines) {
          out += "NONE\n";
        } else {
          for (const std::string& l : *lines) out += l + "\n";
        }
      } else {
        auto d = strop::sigs::pyzor_digest(raw);
        out += d ? *d + "\n" : std::string("NONE\n");
      }
    } else {
      std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
      return 64;
    }
    if (out.size() > (1u << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
