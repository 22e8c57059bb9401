#include "milter/node_lookup.hpp"

#include <span>

#include "agent/client.hpp"
#include "agent/identity.hpp"

namespace strop::milter {
namespace {

class AgentLookup final : public SignatureLookup {
 public:
  AgentLookup(std::unique_ptr<agent::Client> client, std::chrono::milliseconds max_wait)
      : client_(std::move(client)), max_wait_(max_wait) {}

  Result<LookupVerdict> check(const sigs::SignatureSet& set, const Deadline& deadline) override {
    auto v = client_->check(set, at(deadline));
    if (!v) return v.error();
    LookupVerdict out;
    out.spam = v->verdict == protocol::Verdict::kSpam;
    out.confidence = v->confidence;
    for (const auto& m : v->matches) out.matches.push_back(m.id);
    return out;
  }

  Result<void> report(const sigs::SignatureSet& set, const Deadline& deadline) override {
    auto r = client_->report(std::span<const sigs::SignatureSet>(&set, 1), at(deadline));
    if (!r) return r.error();
    return {};
  }

 private:
  agent::Deadline at(const Deadline& d) const {
    return d.finite() ? d.at() : Clock::now() + max_wait_;
  }

  std::unique_ptr<agent::Client> client_;
  std::chrono::milliseconds max_wait_;
};

}  // namespace

Result<std::unique_ptr<SignatureLookup>> make_node_lookup(const NodeLookupOptions& options) {
  agent::ClientOptions co;
  co.nodes = options.urls;
  co.cache_ttl = options.cache_ttl;
  co.ca_file = options.ca_file;
  co.timeout = options.max_wait;
  // The milter computes the native signatures itself from the message it already parsed.
  co.sig_options.engines = sigs::EngineMask::native();
  if (!options.identity_file.empty()) {
    auto id = agent::load_identity(options.identity_file);
    if (!id) return id.error();
    co.identity = *id;
  }
  auto client = agent::Client::create(std::move(co));
  if (!client) return client.error();
  return std::unique_ptr<SignatureLookup>(
      std::make_unique<AgentLookup>(std::move(*client), options.max_wait));
}

}  // namespace strop::milter
