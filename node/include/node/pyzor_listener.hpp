// pyzor_listener.hpp: strop-node's Pyzor UDP listener (default port 24441), so unchanged
// pyzor clients and SpamAssassin's Pyzor plugin can use the node. docs/protocol.md
// "## Pyzor listener".
//
// One UDP socket; PyzorConfig::threads threads each receive batches of datagrams
// (recvmmsg) and answer them through a PyzorService (pyzor_service.hpp): checks inline,
// reports and whitelists after the Store's durable commit (the reply is sent from the
// Store's writer thread). Oversized datagrams are answered 400; nothing a client sends can
// stop the threads.
//
// Threading: create(), start() and stop() from one thread (the serve command). stop() makes
// the threads return (within 100 ms) and joins them; replies of reports still being
// committed are sent when their commit completes, as long as the listener exists.
// Lifetime: the SignatureService and RazorAccounts must outlive the listener; destroy the listener only
// after Store::flush() returned.
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "node/razor_accounts.hpp"
#include "node/signature_service.hpp"

namespace strop::node {

class PyzorListener {
 public:
  // Binds the service's config().pyzor.listen and prepares the service (access rules; the anonymous
  // reporter when the rules let anonymous users report). Errors: kInvalidArgument (bad
  // address or access rule), kIo (bind failed), store errors.
  static Result<std::unique_ptr<PyzorListener>> create(SignatureService& service,
                                                       const RazorAccounts& accounts);
  ~PyzorListener();
  PyzorListener(const PyzorListener&) = delete;
  PyzorListener& operator=(const PyzorListener&) = delete;

  std::string local_host() const;
  unsigned short local_port() const;

  void start();
  void stop();  // idempotent
  std::string summary() const;

 private:
  PyzorListener() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strop::node
