// razor_session.hpp (private to strop-node): the Razor2 protocol logic without sockets.
//
// RazorService holds what every connection shares (the Store, the credentials, limiters,
// counters, settings); RazorSession is one connection's state machine: greeting, identify,
// state, discovery, check, register, a=ai/a=auth, report (rcheck -> err=230 -> upload, where
// the node re-derives razor-e4/e8 per uploaded part and its own engines from the rebuilt
// message) and revoke, all mapped onto Store::check/report/revoke. razor_listener.cpp does
// the TCP I/O; tests drive sessions directly (razor_session_test.cpp).
//
// Threading: a RazorService is safe for concurrent use by many sessions. A RazorSession
// belongs to one connection: handle() must not be called again before the previous call's
// `done` ran (the client waits for each reply anyway). `done` runs exactly once, on the
// calling thread (check, state, auth, ...), on the Store's writer thread (report upload,
// revoke) or on the offload executor (register).
// Lifetime: the Store and RazorAccounts must outlive the service, the service every session,
// and a session every pending `done`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/config.hpp"
#include "node/handlers.hpp"
#include "node/limiter.hpp"
#include "node/metrics.hpp"
#include "node/razor_accounts.hpp"
#include "protocol/razor_wire.hpp"
#include "sigs/razor.hpp"
#include "sigs/signature.hpp"
#include "storage/store.hpp"

namespace strop::node {

struct RazorServiceOptions {
  RazorConfig razor;
  int threshold = 50;              // "ac": the recommended min_cf (Store threshold)
  bool open_registration = true;   // a=reg allowed
  RateLimit ip_limit;              // every request, per client IP
  RateLimit reporter_limit;        // uploads and revokes, per reporter
  RateLimit register_limit;        // a=reg, per client IP
  std::size_t rate_limit_entries = 100'000;
  unsigned short port = 0;         // the listener's port (advertised with the local address)
};
RazorServiceOptions razor_service_options(const Config& c);

// Counters of the Razor listener (exported in the node log at shutdown).
struct RazorCounters {
  Counter connections;
  Counter rejected_connections;
  Counter requests;
  Counter checks;          // check queries
  Counter check_hits;      // ... answered p=1
  Counter uploads;         // mails uploaded for report
  Counter reported_sigs;   // signatures voted through uploads
  Counter revoked_sigs;
  Counter registrations;
  Counter auth_ok;
  Counter auth_failed;
  Counter errors;          // err= replies (other than 230)
  Counter protocol_errors; // unparsable requests / limits (connection closed)
};

class RazorService {
 public:
  RazorService(storage::Store& store, const RazorAccounts& accounts, RazorServiceOptions options,
               Offload offload = {}, std::function<std::int64_t()> mono_ns = {});

  const RazorServiceOptions& options() const { return opt_; }
  RazorCounters& counters() { return counters_; }

  // The e4 seed/separator the node announces and stores (razor-agents' only ep4, 7542-10).
  const sigs::razor::Ep4& ep4() const { return ep4_; }

  // Signatures of an uploaded mail: razor-e4 (the node's ep4) and razor-e8 of every signed
  // part, then the native engines and pyzor over the rebuilt message; sorted, unique.
  std::vector<sigs::Signature> upload_signatures(std::string_view mail) const;

 private:
  friend class RazorSession;
  storage::Store& store_;
  const RazorAccounts& accounts_;
  RazorServiceOptions opt_;
  Offload offload_;
  std::function<std::int64_t()> mono_ns_;
  sigs::razor::Ep4 ep4_;
  RateLimiter ip_limiter_;
  RateLimiter reporter_limiter_;
  RateLimiter register_limiter_;
  RazorCounters counters_;
};

class RazorSession {
 public:
  // `local_host`/`local_port`: the node address this client connected to (advertised in
  // csl/nsl unless razor.advertise is set).
  RazorSession(RazorService& service, std::string client_ip, std::string local_host, unsigned short local_port);

  // The one greeting line sent on connect.
  std::string greeting() const;

  struct Reply {
    std::string bytes;   // one write (< 1024 bytes for the real client); "" = send nothing
    bool close = false;  // close the connection after writing
  };
  using Done = std::function<void(Reply)>;

  void handle(protocol::razor::Request request, Done done);

  // Failed a=auth attempts on one connection before it is closed.
  static constexpr int kMaxAuthFailures = 3;

 private:
  struct Pending;
  protocol::razor::Sis state_reply() const;
  std::vector<protocol::razor::Sis> server_list(std::string_view key) const;
  void handle_register(const protocol::razor::Sis& q, Done done);

  RazorService& svc_;
  std::string client_ip_;
  std::string local_host_;
  unsigned short local_port_;
  // Authentication state (touched only inside handle(), never from callbacks).
  std::optional<storage::ReporterId> reporter_;
  std::string reporter_name_;
  std::string pending_user_;
  std::string pending_pass_;
  std::string achal_;
  int auth_failures_ = 0;
};

}  // namespace strop::node
