// console.hpp (private to strop-node): the operator web console, served on the admin
// listener under /ui/ (docs/console.md). Pages and assets (node/console/, embedded at build
// time: console_assets.hpp) under /ui/, and the JSON the pages read and post under /ui/api/:
//   GET  /ui/api/me                 {"logged_in","user","role","csrf"} (200 without a session)
//   POST /ui/api/login              {"name","password"} -> session cookie + {"user","role","csrf"}
//   POST /ui/api/logout
//   GET  /ui/api/overview           the figures now and the 1 h / 24 h series
//   GET  /ui/api/sig?id=ID          signature_json (admin_api.hpp)
//   POST /ui/api/sig/allow|unallow|delete  {"id"}: the admin API's SignatureService calls
//   GET  /ui/api/top                most matched listed signatures since start (TopK)
//   POST /ui/api/check              a raw message -> the verdict `strop check --json` prints
//   GET  /ui/api/reporters          every reporter: trust, flags, activity
//   POST /ui/api/reporter/trust     {"name","trust"}; reporter/disable, reporter/enable {"name"}:
//                                   SignatureService::set_reporter_trust / _disabled
//   GET  /ui/api/network            fleet and federation status, or standalone
// Every /ui/api/ request but me and login needs the session cookie (401); every POST but
// login also needs the X-CSRF-Token header of the session (403); a read-only account gets
// 403 for every action (allow/unallow/delete, reporter trust and disable). Every response carries
// Content-Security-Policy default-src 'self', X-Frame-Options DENY, Referrer-Policy
// no-referrer and X-Content-Type-Options nosniff; API answers Cache-Control no-store.
//
// Accounts are console_users.hpp's file, read at each login; sessions live in memory (a
// restart logs everyone out). A sampler thread records the overview's series every 10 s
// (1 h ring) and every 5 min (24 h ring) from NodeMetrics and the Store's stats.
//
// Threading: handle() may be called from any thread; writes run on the service's offload
// executor. Lifetime: the service, store, metrics, fleet and puller outlive the Console;
// stop() before destroying what it reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/mutex.hpp"
#include "console_core.hpp"
#include "node/handlers.hpp"
#include "node/signature_service.hpp"
#include "storage/store.hpp"

namespace strop::node {

class Fleet;
class FederationPuller;

class Console {
 public:
  // `mono_ns` defaults to the steady clock.
  Console(SignatureService& service, storage::Store& store,
          std::function<std::int64_t()> mono_ns = {});
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // REQUIRES: before start().
  void set_fleet(Fleet* fleet) { fleet_ = fleet; }
  void set_federation(const FederationPuller* puller) { federation_ = puller; }

  // Starts the sampler thread; stop() ends it (also done by the destructor).
  void start();
  void stop();

  // Answers one request whose path is /ui or starts with /ui/.
  void handle(const HttpRequest& req, const BrowserFields& fields, Done done);

  // Takes one sample for the short ring (and the long one every 30th); the sampler's step.
  void sample();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Fleet* fleet_ = nullptr;
  const FederationPuller* federation_ = nullptr;
  std::thread sampler_;
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ GUARDED_BY(stop_mu_) = false;
};

}  // namespace strop::node
