// milter_glue.hpp: the libmilter side of strop-milter: callbacks, per-connection and
// per-message state, the listening socket, and smfi_main().
//
// Every callback is noexcept: an exception (a bug, or bad_alloc) is caught, logged with the
// queue id, and answered with SMFIS_TEMPFAIL. State is attached with smfi_setpriv at connect
// and freed in xxfi_close, which libmilter calls on every path; per-message state is reset at
// MAIL FROM, after end of message and on abort. All callbacks are registered (xxfi_data and
// xxfi_unknown included) and the TCP listener gets TCP_NODELAY, which together avoid
// libmilter's delayed-ACK stalls over TCP (mail-pipeline.md §3.3).
//
// libmilter runs one thread per MTA connection and offers no user pointer to its callbacks,
// so run_milter() publishes the MilterRuntime through one process-wide pointer, set before
// smfi_main() and never changed while it runs. Everything the runtime points to must be
// thread-safe and outlive run_milter().
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "milter/buffer.hpp"
#include "milter/bypass.hpp"
#include "milter/config.hpp"
#include "milter/metrics.hpp"
#include "milter/pipeline.hpp"

namespace spdlog {
class logger;
}

namespace strop::milter {

struct MilterRuntime {
  const Config* config = nullptr;
  const Pipeline* pipeline = nullptr;
  const Bypass* bypass = nullptr;
  Metrics* metrics = nullptr;
  MemoryBudget* memory = nullptr;
  std::shared_ptr<spdlog::logger> log;
  // Ask the MTA not to wait for replies to HELO, RCPT, DATA, headers and body chunks
  // (protocol v6 SMFIP_NR_*): fewer round trips per message. Use on unix sockets only: over
  // TCP, unanswered small writes meet Nagle + delayed ACK (mail-pipeline.md §3.3).
  bool no_reply = false;
};

// libmilter's connection string for an endpoint: "unix:/path" or "inet:PORT@ADDR"
// ("inet6:PORT@ADDR").
std::string libmilter_socket(const std::string& socket_option);

// Registers the callbacks, opens the socket (mode, TCP_NODELAY), tells systemd READY=1 and
// runs smfi_main() until SIGTERM/SIGINT (or a SIGHUP that reaches libmilter's signal thread:
// main.cpp keeps it away). kUnavailable when the socket cannot be opened, with the reason.
Result<void> run_milter(const MilterRuntime& runtime);

}  // namespace strop::milter
