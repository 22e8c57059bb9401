// admin_api.hpp (private to strop-node): the node's admin API, JSON over HTTP under /admin/,
// for the operator's console and scripts (docs/operations.md "Signature administration").
//
// Every request is a native signed request (X-Strop-* headers, protocol/signing.hpp) of a
// reporter with the admin flag (`strop-node reporter add NAME --admin`); anything else is
// refused (401 unsigned or bad signature, 403 not an admin). Routes, ID being a signature's
// text form "engine:value" as `strop sig` prints it (percent-encoded or not):
//   GET    /admin/sig/ID          what the node knows of it (signature_json)
//   DELETE /admin/sig/ID          delete it entirely: {"v":1,"id":ID,"deleted":bool}
//   POST   /admin/sig/ID/delete   the same, for clients without DELETE
//   POST   /admin/sig/ID/allow    allowlist it:       {"v":1,"id":ID,"allowed":true,"changed":bool}
//   POST   /admin/sig/ID/unallow  take it off: {"v":1,"id":ID,"allowed":false,"changed":bool}
// and the reporters, NAME being a reporter's name (percent-encoded or not); each answers the
// reporter as reporter_json() prints it (never its secret):
//   GET    /admin/reporter/NAME          the reporter
//   GET    /admin/reporters?limit=N&after=NAME
//                                  a page by name: {"v":1,"reporters":[...],"next":NAME|null};
//                                  limit 1..1000 (default 100), next: pass it as after=
//   POST   /admin/reporter/NAME/trust    body {"trust":0.7} (0..1; "pinned":false makes it the
//                                  model's starting point instead of fixed): set trust, vouch
//   POST   /admin/reporter/NAME/disable  disable it (no authentication, votes weigh 0)
//   POST   /admin/reporter/NAME/enable   enable it again
// In fleet mode every write (signature or reporter) goes through the replicated log and is
// answered once the log acknowledged it and this node applied it; while the log is
// unreachable it fails with 503 (overloaded, Retry-After). SignatureService holds the same
// operations for other front ends (set_reporter_trust, set_reporter_disabled, list_reporters).
// Errors have the native API's error body and status (protocol/errors.hpp): 404 for an
// unknown path or reporter, 405 for a wrong method, 400 (invalid) for an unparsable ID, name,
// query or body or a trust outside 0..1.
//
// Threading: handle_admin may be called from any number of threads at once; reads complete
// on the calling thread, writes on the service's offload executor (they wait for a commit).
// `done` is called exactly once. Lifetime: the SignatureService must outlive every pending
// request; the string_views of `req` must stay valid until `done` was called.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "node/handlers.hpp"
#include "node/signature_service.hpp"

namespace strop::node {

// The paths handle_admin answers start with this.
inline constexpr std::string_view kAdminPathPrefix = "/admin/";

// Answers one request whose path starts with kAdminPathPrefix (the HTTP server mounts it on
// the listener that serves the admin API).
void handle_admin(SignatureService& service, const HttpRequest& req, Done done);

// One signature as JSON, as GET /admin/sig/ID and `strop-node sig show --json` print it:
// id, engine, stored, listed, decides, allowed, allowed_since, confidence, reports, revokes,
// first_seen, last_seen (RFC 3339 UTC, null = unknown), reporters and revokers (name, trust,
// time).
nlohmann::ordered_json signature_json(const SignatureView& v);

// One reporter as JSON, as the /admin/reporter routes answer (never its secret): name, trust
// (effective), base_trust, pinned, disabled, admin, peer, open_registration (registered
// openly and not vouched for by an admin since), reports, revokes, corroborated,
// contradicted, created, last_active (RFC 3339 UTC, null = unknown).
nlohmann::ordered_json reporter_json(const storage::Reporter& r);
// A federation peer as GET /admin/peer/NAME prints it (name, url, trust, disabled, cursor,
// applied, last_success; never its secret); the console's Network page adds its lag.
nlohmann::ordered_json peer_json(const storage::Peer& p);

// A time as RFC 3339 UTC ("2026-12-05T07:50:18Z"); "" for the epoch (unknown).
std::string rfc3339(storage::TimePoint t);
// The same as JSON: the string, or null for the epoch (unknown).
nlohmann::ordered_json time_json(storage::TimePoint t);

}  // namespace strop::node
