// `strop sig`: print each message's signatures, or compare two messages.
#include <sysexits.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "inputs.hpp"
#include "sigs/compute.hpp"

namespace strop::cli {
namespace {

struct SigOptions {
  std::vector<std::string> files;
  bool json = false;
  std::string engines = "native";
  std::string ep4 = "7542-10";
  std::vector<std::string> compare;
};

nlohmann::json sigs_to_json(const sigs::SignatureSet& set) {
  auto arr = nlohmann::json::array();
  for (const auto& s : set.sigs) {
    arr.push_back({{"engine", std::string(sigs::engine_name(s.engine))},
                   {"value", s.value},
                   {"id", s.text()}});
  }
  return arr;
}

// sig signs whatever bytes it is given (a headerless file too), as razor-check -H does.
constexpr InputLimits kSigInputs{.mail_only = false};

int run_compare(const SigOptions& o, const sigs::Options& so) {
  sigs::SignatureSet sets[2];
  for (int i = 0; i < 2; ++i) {
    std::vector<InputMessage> got;
    std::size_t errors = for_each_message(
        {o.compare[static_cast<std::size_t>(i)]},
        [&](InputMessage&& m) { got.push_back(std::move(m)); },
        [](const std::string& name, const std::string& why) {
          std::cerr << "strop sig: " << name << ": " << why << "\n";
        },
        kSigInputs);
    if (errors || got.size() != 1) {
      if (!errors)
        std::cerr << "strop sig: " << o.compare[static_cast<std::size_t>(i)]
                  << ": --compare needs exactly one message per file\n";
      return 2;
    }
    auto r = sigs::compute(got[0].raw, so);
    if (!r) {
      std::cerr << "strop sig: " << got[0].name << ": " << r.error().message << "\n";
      return 2;
    }
    sets[i] = std::move(r).value();
  }
  auto cmp = sigs::compare(sets[0], sets[1]);
  if (o.json) {
    nlohmann::json j;
    j["match"] = cmp.match;
    j["engines"] = nlohmann::json::array();
    for (const auto& e : cmp.engines) {
      j["engines"].push_back({{"engine", std::string(sigs::engine_name(e.engine))},
                              {"present", e.present},
                              {"similarity", e.similarity},
                              {"match", e.match}});
    }
    std::cout << j.dump() << "\n";
  } else {
    for (const auto& e : cmp.engines) {
      if (!e.present) {
        std::printf("%-9s -\n", std::string(sigs::engine_name(e.engine)).c_str());
      } else {
        std::printf("%-9s %.3f %s\n", std::string(sigs::engine_name(e.engine)).c_str(),
                    e.similarity, e.match ? "match" : "no-match");
      }
    }
    std::printf("verdict   %s\n", cmp.match ? "match" : "no-match");
  }
  return cmp.match ? 0 : 1;
}

int run_sig(const SigOptions& o) {
  auto mask = sigs::EngineMask::parse(o.engines);
  if (!mask) {
    std::cerr << "strop sig: --engines: " << mask.error().message << "\n";
    return EX_USAGE;
  }
  sigs::Options so;
  so.engines = *mask;
  so.razor_ep4 = o.ep4;
  if (!o.compare.empty()) return run_compare(o, so);
  if (o.files.empty()) {
    std::cerr << "strop sig: no input (give FILE..., a Maildir, an mbox or -)\n";
    return EX_USAGE;
  }
  std::size_t failed = 0;
  std::size_t errors = for_each_message(
      o.files,
      [&](InputMessage&& m) {
        auto r = sigs::compute(m.raw, so);
        if (!r) {
          std::cerr << "strop sig: " << m.name << ": " << r.error().message << "\n";
          ++failed;
          return;
        }
        if (o.json) {
          nlohmann::json j{{"name", m.name}, {"signatures", sigs_to_json(*r)}};
          std::cout << j.dump() << "\n";
        } else {
          std::cout << m.name << " " << r->text() << "\n";
        }
      },
      [](const std::string& name, const std::string& why) {
        std::cerr << "strop sig: " << name << ": " << why << "\n";
      },
      kSigInputs);
  std::cout.flush();
  return (errors + failed) ? EX_DATAERR : 0;
}

}  // namespace

void setup_sig(CLI::App& app, GlobalOptions& /*globals*/, int* exit_code) {
  auto o = std::make_shared<SigOptions>();
  auto* sub = app.add_subcommand(
      "sig", "Print each message's signatures (one line per message), or compare two messages");
  sub->add_option("files", o->files, "Message files, mbox files, Maildirs, or - for stdin");
  sub->add_flag("--json", o->json, "One JSON object per message (per comparison with --compare)");
  sub->add_option("--engines", o->engines,
                  "Engines: native (default), legacy, all, or a list such as "
                  "body,fuzzy,url,attach,razor-e4,razor-e8,pyzor");
  sub->add_option("--ep4", o->ep4, "Razor e4 parameter (default 7542-10)");
  sub->add_option("--compare", o->compare,
                  "Compare two messages A B: per-engine similarity and verdict; exit 0 if they "
                  "match, 1 if not, 2 on error")
      ->expected(2);
  sub->footer(
      "Examples:\n  strop sig msg.eml\n  strop sig --json ~/Maildir\n"
      "  strop sig --engines razor-e4,razor-e8,pyzor spam.mbox\n"
      "  strop sig --compare original.eml variant.eml");
  sub->callback([o, exit_code] { *exit_code = run_sig(*o); });
}

}  // namespace strop::cli
