#include "agent_common.hpp"

#include <sysexits.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agent/identity.hpp"
#include "inputs.hpp"

namespace strop::cli {

void print_error(const std::string& cmd, const std::string& message) {
  std::cerr << "strop " << cmd << ": " << message << "\n";
}

int sysexit_for(Errc code) {
  switch (code) {
    case Errc::kUnavailable: return EX_UNAVAILABLE;
    case Errc::kTimeout:
    case Errc::kRateLimited: return EX_TEMPFAIL;
    case Errc::kUnauthorized:
    case Errc::kForbidden: return EX_NOPERM;
    case Errc::kMalformed: return EX_PROTOCOL;
    case Errc::kInvalidArgument: return EX_CONFIG;
    case Errc::kIo: return EX_IOERR;
    case Errc::kNotMail:
    case Errc::kLimitExceeded: return EX_DATAERR;
    case Errc::kExists: return EX_CANTCREAT;
    case Errc::kNotFound: return EX_UNAVAILABLE;
    default: return EX_SOFTWARE;
  }
}

bool make_context(const std::string& cmd, const GlobalOptions& globals, IdentityNeed need,
                  int error_code, AgentContext* ctx, int* exit_code) {
  auto fail = [&](const Error& e, int sysexit) {
    print_error(cmd, e.message);
    *exit_code = error_code != 0 ? error_code : sysexit;
    return false;
  };
  auto cfg = load_agent_config(globals);
  if (!cfg) return fail(cfg.error(), EX_CONFIG);
  if (globals.print_config) {
    std::cout << render_config(*cfg);
    *exit_code = 0;
    return false;
  }
  auto opts = client_options(*cfg);
  if (!opts) return fail(opts.error(), EX_CONFIG);
  if (need != IdentityNeed::kNone) {
    const bool explicit_path = cfg->source["identity"] != "default";
    std::error_code ec;
    const bool exists = !cfg->identity.empty() && std::filesystem::exists(cfg->identity, ec);
    if (exists || explicit_path || need == IdentityNeed::kRequired) {
      if (cfg->identity.empty()) {
        return fail(
            make_error(Errc::kInvalidArgument,
                       "no reporter identity: give --identity FILE or run `strop register`"),
            EX_CONFIG);
      }
      if (!exists && need == IdentityNeed::kRequired && !explicit_path) {
        return fail(make_error(Errc::kInvalidArgument,
                               "no reporter identity at " + cfg->identity +
                                   ": run `strop register` or give --identity FILE"),
                    EX_CONFIG);
      }
      auto id = agent::load_identity(cfg->identity);
      if (!id) return fail(id.error(), EX_CONFIG);
      opts->identity = std::move(id).value();
    }
  }
  auto client = agent::Client::create(std::move(opts).value());
  if (!client) return fail(client.error(), EX_CONFIG);
  ctx->config = std::move(cfg).value();
  ctx->client = std::move(client).value();
  return true;
}

Collected collect_messages(const std::string& cmd, const std::vector<std::string>& files,
                           const agent::Client& client) {
  Collected out;
  std::vector<std::string> args = files.empty() ? std::vector<std::string>{"-"} : files;
  for_each_message(
      args,
      [&](InputMessage&& m) {
        auto set = client.signatures(m.raw);
        if (!set) {
          const bool not_mail = set.error().code == Errc::kNotMail;
          print_error(cmd,
                      m.name + ": " + (not_mail ? std::string(kNotMail) : set.error().message));
          ++out.not_mail;
          return;
        }
        out.messages.push_back(CollectedMessage{std::move(m.name), std::move(set).value()});
      },
      [&](const std::string& name, const std::string& why) {
        print_error(cmd, name + ": " + why);
        if (why == kNotMail || why.starts_with("message larger")) {
          ++out.not_mail;
        } else {
          ++out.unreadable;
        }
      });
  return out;
}

Progress::Progress(std::string verb, std::size_t total, bool enabled)
    : verb_(std::move(verb)), total_(total), enabled_(enabled && total > 1 && ::isatty(2) == 1) {}

Progress::~Progress() { finish(); }

void Progress::update(std::size_t done) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  int filled = total_ == 0 ? kWidth : static_cast<int>(done * kWidth / total_);
  std::string bar(static_cast<std::size_t>(filled), '=');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu", verb_.c_str(), bar.c_str(), done, total_);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace strop::cli
