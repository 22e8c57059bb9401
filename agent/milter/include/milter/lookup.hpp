// lookup.hpp: the signature-lookup stage as the pipeline sees it: check a message's
// signatures at a node, and report a message as spam. The pipeline and its tests depend only
// on this interface; node_lookup.hpp adapts it to a real node.
//
// Implementations must be thread-safe (libmilter runs one thread per SMTP connection) and
// must return by the deadline: kTimeout when it passes, kUnavailable when no node answers.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "milter/deadline.hpp"
#include "sigs/signature.hpp"

namespace strop::milter {

struct LookupVerdict {
  bool spam = false;                 // the node's verdict at its own threshold
  double confidence = 0;             // 0..100 (Razor's cf); 0 when nothing matched
  std::vector<std::string> matches;  // ids of the stored signatures that matched
};

class SignatureLookup {
 public:
  virtual ~SignatureLookup() = default;
  // One batched check of all signatures of one message.
  virtual Result<LookupVerdict> check(const sigs::SignatureSet& set, const Deadline& deadline) = 0;
  // Reports the message's signatures as spam with the milter's own reporter identity.
  virtual Result<void> report(const sigs::SignatureSet& set, const Deadline& deadline) = 0;
};

}  // namespace strop::milter
