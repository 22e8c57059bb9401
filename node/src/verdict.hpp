// verdict.hpp: the message verdict of a check from its matches, after the allowlist
// (docs/reputation.md "Confidence of a message" and "URL evidence").
//
// A message's confidence is the highest confidence among its matches that may decide: not
// allowed, of an engine in storage.verdict_engines, and, for a url/1 match, one that
// sigs::url_match_decides_alone accepts or that another deciding engine corroborates. A url/1
// match is evidence that two messages link to the same page; spam posted to a web platform
// shares the platform's links with every legitimate post there, so a URL alone lists a
// message only when the message has too little text for fuzzy/1, when the URL has been
// reported by sigs::kUrlAttestedReporters distinct reporters, or when a body/1, fuzzy/1,
// attach/1 or razor-e4 match of the same check (confidence above 0) backs it. A fuzzy/1 match
// between two long texts under sigs::kFuzzyLongMatchMin positions (a shared section, such as
// a newsletter's template) decides only with a url/1 match of the same check
// (sigs::fuzzy_match_decides_alone; docs/reputation.md "Fuzzy evidence between long texts").
// Pure: no Store, no clock; thread-safe.
#pragma once

#include <span>
#include <string>

#include "protocol/messages.hpp"
#include "sigs/signature.hpp"
#include "storage/store.hpp"

namespace strop::node {

struct VerdictPolicy {
  sigs::EngineMask engines;  // storage.verdict_engines
  int threshold = 0;         // storage.threshold: confidence at or above it is spam
};

// Whether match `m` of a check of `query` may decide the verdict, given all of the check's
// matches.
bool match_decides(const storage::Match& m, std::span<const storage::Match> matches,
                   std::span<const sigs::Signature> query, const VerdictPolicy& policy);

// Sets out->confidence (highest confidence of the matches that decide; 0 when none) and
// out->spam (confidence >= threshold, with at least one deciding match). An allowed match
// never decides; the matches themselves are left as they are.
void decide_verdict(std::span<const sigs::Signature> query, const VerdictPolicy& policy,
                    storage::CheckOutcome* out);

// The wire verdict of one checked message (what POST /v1/check answers for it, and the web
// console shows): verdict, confidence and every match, from the outcome of
// SignatureService::check.
protocol::MessageVerdict message_verdict(storage::CheckOutcome out, std::string id);

}  // namespace strop::node
