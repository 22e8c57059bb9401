// razor_session.hpp (private to strop-node): the Razor2 protocol logic without sockets.
//
// RazorService holds what every connection shares (the SignatureService, the credentials,
// counters, settings); RazorSession is one connection's state machine: greeting, identify,
// state, discovery, check, register, a=ai/a=auth, report (rcheck -> err=230 -> upload, where
// the node re-derives razor-e4/e8 per uploaded part and its own engines from the rebuilt
// message) and revoke. Each request is decoded into queries, answered through the
// SignatureService (signature_service.hpp: budgets, reporters, check and vote policy) and
// encoded, a ServiceError becoming an err= code. razor_listener.cpp does the TCP I/O; tests
// drive sessions directly (razor_session_test.cpp).
//
// Threading: a RazorService is safe for concurrent use by many sessions. A RazorSession
// belongs to one connection: handle() must not be called again before the previous call's
// `done` ran (the client waits for each reply anyway). `done` runs exactly once, on the
// calling thread (check, state, auth, ...), on the Store's writer thread (report upload,
// revoke) or on the service's offload executor (register).
// Lifetime: the SignatureService and RazorAccounts must outlive the RazorService, the service every
// session, and a session every pending `done`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/metrics.hpp"
#include "node/razor_accounts.hpp"
#include "node/signature_service.hpp"
#include "protocol/razor_wire.hpp"
#include "sigs/razor.hpp"
#include "sigs/signature.hpp"

namespace strop::node {

// Counters of the Razor listener (exported in the node log at shutdown).
struct RazorCounters {
  Counter connections;
  Counter rejected_connections;
  Counter requests;
  Counter checks;         // check queries
  Counter check_hits;     // ... answered p=1
  Counter uploads;        // mails uploaded for report
  Counter reported_sigs;  // signatures voted through uploads
  Counter revoked_sigs;
  Counter registrations;
  Counter auth_ok;
  Counter auth_failed;
  Counter errors;           // err= replies (other than 230)
  Counter protocol_errors;  // unparsable requests / limits (connection closed)
};

class RazorService {
 public:
  // The [razor] settings are read from service.config().
  RazorService(SignatureService& service, const RazorAccounts& accounts);

  const RazorConfig& config() const { return service_.config().razor; }
  RazorCounters& counters() { return counters_; }

  // The e4 seed/separator the node announces and stores (razor-agents' only ep4, 7542-10).
  const sigs::razor::Ep4& ep4() const { return ep4_; }

  // Signatures of an uploaded mail: razor-e4 (the node's ep4) and razor-e8 of every signed
  // part, then the native engines and pyzor over the rebuilt message; sorted, unique.
  std::vector<sigs::Signature> upload_signatures(std::string_view mail) const;

 private:
  friend class RazorSession;
  SignatureService& service_;
  const RazorAccounts& accounts_;
  sigs::razor::Ep4 ep4_;
  RazorCounters counters_;
};

class RazorSession {
 public:
  // `local_host`/`local_port`: the node address this client connected to (advertised in
  // csl/nsl unless razor.advertise is set).
  RazorSession(RazorService& service, std::string client_ip, std::string local_host,
               unsigned short local_port);

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
  struct Work;
  using Sis = protocol::razor::Sis;

  // The steps of handle(): a single discovery or registration query is answered alone;
  // otherwise every query gets its slot (answered at once or collected into `work`), the
  // collected checks take one lookup and the votes one store write each.
  bool handle_alone(const protocol::razor::Request& request, Done& done);
  bool over_budget(const protocol::razor::Request& request);
  std::optional<Sis> answer(const Sis& q, std::size_t i, Pending& pending, Work& work);
  std::optional<Sis> collect_check(const Sis& q, std::size_t i, Work& work);
  std::optional<Sis> collect_upload(const Sis& q, std::size_t i, Work& work);
  std::optional<Sis> collect_revoke(const Sis& q, std::size_t i, Work& work);
  Sis auth_init(const Sis& q);
  // An err= reply, counted as an error.
  Sis refuse(int code);
  Sis auth_response(const Sis& q, Pending& pending);
  void run_checks(Work& work, Pending& pending);
  void run_votes(Work& work, const std::shared_ptr<Pending>& pending);

  Sis state_reply() const;
  std::vector<Sis> server_list(std::string_view key) const;
  void handle_register(const Sis& q, Done done);

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
