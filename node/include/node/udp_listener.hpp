// udp_listener.hpp: strop-node's native binary UDP check listener (strop-udp/1,
// protocol/udp_wire.hpp, docs/protocol.md "## Native UDP check (strop-udp/1)"). Anonymous
// checks only; reports and revokes stay on the authenticated HTTP API.
//
// The UDP skeleton (src/datagram_server.hpp: recvmmsg/sendmmsg batches on Config::udp.threads
// threads) hands it each datagram; it answers every valid check with SignatureService::check,
// the same call the HTTP API's /v1/check makes (so verdict and confidence are the HTTP
// API's). Every datagram takes a token from the service's per-address budget ([rate_limit]
// ip_per_second/ip_burst); a refused one is answered with status rate_limited. Malformed,
// truncated or oversized datagrams get no reply. Each datagram is counted in NodeMetrics
// under op="udp_check" (result ok, malformed, too_large, limit_exceeded, rate_limited,
// internal) with its latency.
//
// Threading: make_udp_listener(), start() and stop() from one thread (the serve command);
// the receive threads only call the service (safe from any thread).
// Lifetime: the SignatureService must outlive the listener; stop() (or the destructor)
// joins the threads within ~100 ms.
#pragma once

#include <memory>

#include "base/result.hpp"
#include "node/listener.hpp"
#include "node/signature_service.hpp"

namespace strop::node {

// Binds the service's config().udp.listen. Errors: kInvalidArgument (bad address), kIo
// (socket/bind).
Result<std::unique_ptr<Listener>> make_udp_listener(SignatureService& service);

}  // namespace strop::node
