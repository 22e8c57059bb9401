// razor_listener.hpp: strop-node's Razor2 TCP listener (default port 2703), so unchanged
// razor-agents (razor-check, razor-report, razor-revoke, razor-admin) and SpamAssassin's
// Razor2 plugin can use the node. docs/protocol.md "## Razor2 listener".
//
// The TCP skeleton (src/tcp_listener.hpp, shared with the HTTP Server) accepts on
// RazorConfig::threads I/O threads and admits connections; per
// connection: one greeting line, then requests framed by protocol::razor::next_request and
// answered by a RazorSession (razor_session.hpp), one write per reply, nothing written
// between replies; the idle wait for a request (idle_timeout) and each request from its first
// byte (request_timeout; the first request from accept) are bounded; a framing error or
// limit closes the connection after an err= line. Connection fairness through a ConnGuard
// (conn_guard.hpp): connections beyond max_connections, beyond the address's
// max_connections_per_address, or into the reserved_connections kept for addresses not yet
// connected are closed at once; a connection whose unfinished request would take its
// address over max_request_bytes_per_address gets err= and is closed.
//
// Threading: make_razor_listener(), start() and stop() from one thread (the serve command).
// stop() stops accepting, closes every connection once idle, waits for in-flight
// registrations and replies (connections left after shutdown_timeout are cut) and joins the
// threads. Lifetime: the SignatureService and RazorAccounts must outlive the listener;
// destroy the listener only after Store::flush() returned (a report's acknowledgement may
// still be queued to the listener's io_context until then).
#pragma once

#include <memory>

#include "base/result.hpp"
#include "node/listener.hpp"
#include "node/razor_accounts.hpp"
#include "node/signature_service.hpp"

namespace strop::node {

// Binds the service's config().razor.listen. Errors: kInvalidArgument (bad address), kIo
// (bind failed). start() runs the I/O threads; stop() is the graceful stop above.
Result<std::unique_ptr<Listener>> make_razor_listener(SignatureService& service,
                                                      const RazorAccounts& accounts);

}  // namespace strop::node
