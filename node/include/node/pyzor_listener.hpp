// pyzor_listener.hpp: strop-node's Pyzor UDP listener (default port 24441), so unchanged
// pyzor clients and SpamAssassin's Pyzor plugin can use the node. docs/protocol.md
// "## Pyzor listener".
//
// The UDP skeleton (src/datagram_server.hpp: recvmmsg/sendmmsg batches on
// PyzorConfig::threads threads) hands it each datagram, answered through a PyzorService
// (pyzor_service.hpp) over the node's SignatureService: checks inline,
// reports and whitelists after the Store's durable commit (the reply is sent from the
// Store's writer thread). Oversized datagrams are answered 400; nothing a client sends can
// stop the threads.
//
// Threading: make_pyzor_listener(), start() and stop() from one thread (the serve command).
// stop() makes the threads return (within 100 ms) and joins them; replies of reports still
// being committed are sent when their commit completes, as long as the listener exists.
// Lifetime: the SignatureService and RazorAccounts must outlive the listener; destroy the
// listener only after Store::flush() returned.
#pragma once

#include <memory>

#include "base/result.hpp"
#include "node/listener.hpp"
#include "node/razor_accounts.hpp"
#include "node/signature_service.hpp"

namespace strop::node {

// Binds the service's config().pyzor.listen and prepares the service (access rules; the
// anonymous reporter when the rules let anonymous users report). Errors: kInvalidArgument
// (bad address or access rule), kIo (bind failed), store errors.
Result<std::unique_ptr<Listener>> make_pyzor_listener(SignatureService& service,
                                                      const RazorAccounts& accounts);

}  // namespace strop::node
