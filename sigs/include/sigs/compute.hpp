// compute.hpp: raw message -> SignatureSet, all engines in one pass.
//
// compute() parses the message once (message.hpp), normalises its text (normalize.hpp) and
// runs every engine selected in Options::engines. Deterministic: the same bytes and options
// always give the same set. Pure, no I/O, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "sigs/message.hpp"
#include "sigs/signature.hpp"

namespace strop::sigs {

struct Options {
  EngineMask engines = EngineMask::native();  // Default: body, fuzzy, url, attach
  std::string razor_ep4 = "7542-10";          // Default: the ep4 every Razor server uses
  MimeLimits limits;
};

Result<SignatureSet> compute(std::string_view raw, const Options& options = {});

// As compute(), from an already parsed message (native engines only; legacy engines need
// the raw bytes and are skipped).
SignatureSet compute_native(const Message& msg, const Options& options = {});

}  // namespace strop::sigs
