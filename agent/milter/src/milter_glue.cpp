#include "milter/milter_glue.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>

#include "base/service.hpp"
#include "milter/net.hpp"
#include "milter/text.hpp"

namespace strop::milter {
namespace {

// Set once by run_milter() before smfi_main(); read-only while callbacks run.
const MilterRuntime* g_runtime = nullptr;

struct MessageState {
  MessageState(const BufferOptions& opts, MemoryBudget* budget) : buffer(opts, budget) {}
  MessageBuffer buffer;
  std::vector<SeenHeader> headers;
  std::string mail_from;
  std::vector<std::string> rcpts;
  std::size_t rcpts_seen = 0;
  std::optional<Error> failed;  // a no-reply stage failed: tempfail at end of message
};

struct ConnState {
  unsigned long no_reply = 0;  // SMFIP_NR_* steps negotiated for this connection
  std::string client_addr, client_name, helo;
  std::unique_ptr<MessageState> msg;
};

// Steps for which strop-milter asks the MTA not to wait for a reply (unix sockets only):
// every step except end of message, and except connect, MAIL and end of headers when a
// bypass rule may answer them (see no_reply_steps()).
constexpr unsigned long kNoReplySteps =
    SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HELO | SMFIP_NR_RCPT;

unsigned long no_reply_steps(const Bypass& b) {
  unsigned long steps = kNoReplySteps;
  if (!b.has_networks()) steps |= SMFIP_NR_CONN;
  if (!b.has_sender_rules()) steps |= SMFIP_NR_MAIL;
  if (!b.has_recipient_rules()) steps |= SMFIP_NR_EOH;
  return steps;
}

ConnState* conn(SMFICTX* ctx) { return static_cast<ConnState*>(smfi_getpriv(ctx)); }

// SMFIS_NOREPLY when the step was negotiated as no-reply, else `status`.
sfsistat reply(const ConnState* c, unsigned long step, sfsistat status) {
  return (c != nullptr && (c->no_reply & step) != 0) ? SMFIS_NOREPLY : status;
}

std::string symval(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v == nullptr ? std::string() : std::string(v);
}

std::string queue_id(SMFICTX* ctx) {
  std::string q = symval(ctx, "i");
  return q.empty() ? "NOQUEUE" : sanitize(q, 32);
}

std::string addr_text(const sockaddr* sa) {
  if (sa == nullptr) return {};
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

void set_tempfail_reply(SMFICTX* ctx, const char* text) {
  smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"), const_cast<char*>(text));
}

// Runs `body`, turning any exception into a logged SMFIS_TEMPFAIL (or, on a no-reply step,
// a failure remembered for end of message).
template <class F>
sfsistat guarded(SMFICTX* ctx, const char* where, unsigned long step, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    try {
      g_runtime->log->error("queue={} internal error in {}: {}", queue_id(ctx), where, e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      g_runtime->log->error("queue={} internal error in {}", queue_id(ctx), where);
    } catch (...) {
    }
  }
  try {
    ConnState* c = conn(ctx);
    if (c != nullptr && (c->no_reply & step) != 0) {
      if (c->msg) c->msg->failed = make_error(Errc::kInternal, std::string("error in ") + where);
      return SMFIS_NOREPLY;
    }
    set_tempfail_reply(ctx, "Internal filter error, try again later");
  } catch (...) {
  }
  return SMFIS_TEMPFAIL;
}

// A buffering failure: tempfail now, or at end of message on a no-reply step.
sfsistat buffer_failed(SMFICTX* ctx, ConnState* c, unsigned long step, const Error& e) {
  g_runtime->log->error("queue={} buffering failed: {}", queue_id(ctx), e.to_string());
  if ((c->no_reply & step) != 0) {
    if (c->msg) c->msg->failed = e;
    return SMFIS_NOREPLY;
  }
  set_tempfail_reply(ctx, "Temporary local problem, try again later");
  return SMFIS_TEMPFAIL;
}

sfsistat cb_negotiate(SMFICTX* ctx, unsigned long actions, unsigned long steps, unsigned long,
                      unsigned long, unsigned long* want_actions, unsigned long* want_steps,
                      unsigned long* unused2, unsigned long* unused3) noexcept {
  return guarded(ctx, "negotiate", 0, [&]() -> sfsistat {
    constexpr unsigned long kActions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
    if ((actions & kActions) != kActions) {
      g_runtime->log->warn(
          "the MTA does not offer every action strop-milter uses "
          "(offered 0x{:x}); header changes or quarantine may fail",
          actions);
    }
    *want_actions = actions & kActions;
    unsigned long nr = g_runtime->no_reply ? (steps & no_reply_steps(*g_runtime->bypass)) : 0;
    *want_steps = nr;
    *unused2 = 0;
    *unused3 = 0;
    if (conn(ctx) == nullptr) {
      auto state = std::make_unique<ConnState>();
      if (smfi_setpriv(ctx, state.get()) != MI_SUCCESS) return SMFIS_REJECT;
      static_cast<void>(state.release());  // owned by libmilter's context now; freed in cb_close
      g_runtime->metrics->connection_opened();
    }
    conn(ctx)->no_reply = nr;
    return SMFIS_CONTINUE;
  });
}

sfsistat cb_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) noexcept {
  return guarded(ctx, "connect", SMFIP_NR_CONN, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr) {  // the MTA did not negotiate (protocol < 6)
      auto state = std::make_unique<ConnState>();
      if (smfi_setpriv(ctx, state.get()) != MI_SUCCESS) {
        g_runtime->log->error("smfi_setpriv failed");
        return SMFIS_TEMPFAIL;
      }
      c = state.release();  // owned by libmilter's context now; freed in cb_close
      g_runtime->metrics->connection_opened();
    }
    c->client_name = hostname == nullptr ? "" : sanitize(hostname, 255);
    c->client_addr = addr_text(hostaddr);
    if (auto why = g_runtime->bypass->client(c->client_addr)) {
      g_runtime->metrics->bypass(BypassKind::kNetwork);
      g_runtime->log->info("client={} verdict=bypass reason=\"{}\"", c->client_addr, *why);
      return SMFIS_ACCEPT;
    }
    return reply(c, SMFIP_NR_CONN, SMFIS_CONTINUE);
  });
}

sfsistat cb_helo(SMFICTX* ctx, char* helo) noexcept {
  return guarded(ctx, "helo", SMFIP_NR_HELO, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c != nullptr && helo != nullptr) c->helo = sanitize(helo, 255);
    return reply(c, SMFIP_NR_HELO, SMFIS_CONTINUE);
  });
}

sfsistat cb_envfrom(SMFICTX* ctx, char** argv) noexcept {
  return guarded(ctx, "mail", SMFIP_NR_MAIL, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr) return SMFIS_TEMPFAIL;
    c->msg.reset();  // a new transaction on the same connection
    std::string from = (argv != nullptr && argv[0] != nullptr) ? argv[0] : "";
    std::string auth = symval(ctx, "{auth_authen}");
    if (auto why = g_runtime->bypass->sender(auth, from)) {
      g_runtime->metrics->bypass(auth.empty() ? BypassKind::kSender : BypassKind::kAuthenticated);
      g_runtime->log->info("queue={} verdict=bypass from=<{}> reason=\"{}\"", queue_id(ctx),
                           sanitize(bare_address(from), 120), *why);
      return SMFIS_ACCEPT;
    }
    c->msg = std::make_unique<MessageState>(g_runtime->config->buffer, g_runtime->memory);
    c->msg->mail_from = from;
    return reply(c, SMFIP_NR_MAIL, SMFIS_CONTINUE);
  });
}

sfsistat cb_envrcpt(SMFICTX* ctx, char** argv) noexcept {
  return guarded(ctx, "rcpt", SMFIP_NR_RCPT, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr || !c->msg) return reply(c, SMFIP_NR_RCPT, SMFIS_CONTINUE);
    ++c->msg->rcpts_seen;
    if (argv != nullptr && argv[0] != nullptr &&
        c->msg->rcpts.size() < g_runtime->config->max_recipients) {
      c->msg->rcpts.emplace_back(argv[0]);
    }
    return reply(c, SMFIP_NR_RCPT, SMFIS_CONTINUE);
  });
}

sfsistat cb_data(SMFICTX* ctx) noexcept {
  return guarded(ctx, "data", SMFIP_NR_DATA,
                 [&]() -> sfsistat { return reply(conn(ctx), SMFIP_NR_DATA, SMFIS_CONTINUE); });
}

sfsistat cb_unknown(SMFICTX* ctx, const char*) noexcept {
  return guarded(ctx, "unknown", SMFIP_NR_UNKN,
                 [&]() -> sfsistat { return reply(conn(ctx), SMFIP_NR_UNKN, SMFIS_CONTINUE); });
}

sfsistat cb_header(SMFICTX* ctx, char* name, char* value) noexcept {
  return guarded(ctx, "header", SMFIP_NR_HDR, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr || !c->msg) return reply(c, SMFIP_NR_HDR, SMFIS_CONTINUE);
    std::string_view n = name == nullptr ? "" : name;
    std::string_view v = value == nullptr ? "" : value;
    if (c->msg->headers.size() < g_runtime->config->max_headers) {
      c->msg->headers.push_back(SeenHeader{std::string(n), std::string(v)});
    }
    if (auto a = c->msg->buffer.append_header(n, v); !a) {
      return buffer_failed(ctx, c, SMFIP_NR_HDR, a.error());
    }
    return reply(c, SMFIP_NR_HDR, SMFIS_CONTINUE);
  });
}

sfsistat cb_eoh(SMFICTX* ctx) noexcept {
  return guarded(ctx, "eoh", SMFIP_NR_EOH, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr || !c->msg) return reply(c, SMFIP_NR_EOH, SMFIS_CONTINUE);
    if (auto a = c->msg->buffer.end_headers(); !a) {
      return buffer_failed(ctx, c, SMFIP_NR_EOH, a.error());
    }
    if (auto why = g_runtime->bypass->recipients(c->msg->rcpts)) {
      g_runtime->metrics->bypass(BypassKind::kRecipient);
      g_runtime->log->info("queue={} verdict=bypass from=<{}> reason=\"{}\"", queue_id(ctx),
                           sanitize(bare_address(c->msg->mail_from), 120), *why);
      c->msg.reset();
      return SMFIS_ACCEPT;
    }
    return reply(c, SMFIP_NR_EOH, SMFIS_CONTINUE);
  });
}

sfsistat cb_body(SMFICTX* ctx, unsigned char* chunk, size_t len) noexcept {
  return guarded(ctx, "body", SMFIP_NR_BODY, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr || !c->msg) return reply(c, SMFIP_NR_BODY, SMFIS_CONTINUE);
    if (c->msg->failed) return reply(c, SMFIP_NR_BODY, SMFIS_CONTINUE);
    auto a = c->msg->buffer.append(std::string_view(reinterpret_cast<const char*>(chunk), len));
    if (!a) return buffer_failed(ctx, c, SMFIP_NR_BODY, a.error());
    return reply(c, SMFIP_NR_BODY, SMFIS_CONTINUE);
  });
}

void apply_edits(SMFICTX* ctx, const std::string& qid, const std::vector<HeaderEdit>& edits) {
  for (const auto& e : edits) {
    int rc = MI_FAILURE;
    auto* name = const_cast<char*>(e.name.c_str());
    auto* value = const_cast<char*>(e.value.c_str());
    switch (e.op) {
      case HeaderEdit::Op::kAdd: rc = smfi_addheader(ctx, name, value); break;
      case HeaderEdit::Op::kChange: rc = smfi_chgheader(ctx, name, e.index, value); break;
      case HeaderEdit::Op::kDelete: rc = smfi_chgheader(ctx, name, e.index, nullptr); break;
    }
    if (rc != MI_SUCCESS) {
      g_runtime->log->warn("queue={} header edit on {} failed", qid, sanitize(e.name, 64));
    }
  }
}

sfsistat cb_eom(SMFICTX* ctx) noexcept {
  return guarded(ctx, "eom", 0, [&]() -> sfsistat {
    ConnState* c = conn(ctx);
    if (c == nullptr || !c->msg) {
      set_tempfail_reply(ctx, "Internal filter error, try again later");
      return SMFIS_TEMPFAIL;
    }
    std::unique_ptr<MessageState> m = std::move(c->msg);  // freed when this returns
    if (m->failed) {
      g_runtime->log->error("queue={} verdict=tempfail reason=\"{}\"", queue_id(ctx),
                            sanitize(m->failed->to_string(), 200));
      g_runtime->metrics->message(Action::kTempfail);
      set_tempfail_reply(ctx, "Temporary local problem, try again later");
      return SMFIS_TEMPFAIL;
    }
    Envelope env;
    env.queue_id = queue_id(ctx);
    env.client_addr = c->client_addr;
    env.client_name = c->client_name;
    env.helo = c->helo;
    env.mail_from = m->mail_from;
    env.rcpts = m->rcpts;
    auto view = m->buffer.view();
    if (!view) return buffer_failed(ctx, c, 0, view.error());
    PipelineResult r = g_runtime->pipeline->run(env, *view, m->headers, m->buffer.truncated());
    g_runtime->log->info("{}", format_log_line(env, r, m->buffer.seen()));
    const Decision& d = r.decision;
    if (r.hold) {
      std::string reason = sanitize(d.reason, 200);
      if (smfi_quarantine(ctx, reason.data()) != MI_SUCCESS) {
        g_runtime->log->error("queue={} smfi_quarantine failed; tempfail", env.queue_id);
        return SMFIS_TEMPFAIL;
      }
    }
    switch (d.action) {
      case Action::kAccept:
      case Action::kTag: apply_edits(ctx, env.queue_id, r.edits); return SMFIS_ACCEPT;
      case Action::kQuarantine:
        if (r.hold) {  // headers added, the MTA keeps the message on hold
          apply_edits(ctx, env.queue_id, r.edits);
          return SMFIS_ACCEPT;
        }
        return SMFIS_DISCARD;  // stored in the quarantine directory
      case Action::kDiscard: return SMFIS_DISCARD;
      case Action::kReject:
        smfi_setreply(ctx, const_cast<char*>(d.rcode.c_str()), const_cast<char*>(d.xcode.c_str()),
                      const_cast<char*>(d.text.c_str()));
        return SMFIS_REJECT;
      case Action::kTempfail:
        smfi_setreply(ctx, const_cast<char*>(d.rcode.c_str()), const_cast<char*>(d.xcode.c_str()),
                      const_cast<char*>(d.text.c_str()));
        return SMFIS_TEMPFAIL;
    }
    return SMFIS_TEMPFAIL;
  });
}

sfsistat cb_abort(SMFICTX* ctx) noexcept {
  return guarded(ctx, "abort", 0, [&]() -> sfsistat {
    if (ConnState* c = conn(ctx)) c->msg.reset();
    return SMFIS_CONTINUE;
  });
}

sfsistat cb_close(SMFICTX* ctx) noexcept {
  return guarded(ctx, "close", 0, [&]() -> sfsistat {
    std::unique_ptr<ConnState> c(conn(ctx));
    smfi_setpriv(ctx, nullptr);
    if (c) g_runtime->metrics->connection_closed();
    return SMFIS_CONTINUE;
  });
}

// libmilter does not expose its listening socket; find it (the only listening TCP socket
// at this point) and set TCP_NODELAY, which accepted sockets inherit on Linux.
void set_nodelay_on_listeners() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == ::dirfd(d)) continue;
    int listening = 0, domain = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) continue;
    if (domain != AF_INET && domain != AF_INET6) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ::closedir(d);
}

}  // namespace

std::string libmilter_socket(const std::string& socket_option) {
  auto ep = parse_endpoint(socket_option);
  if (!ep) return socket_option;
  if (ep->kind == Endpoint::Kind::kUnix) return "unix:" + ep->path;
  bool v6 = ep->host.find(':') != std::string::npos;
  return std::string(v6 ? "inet6:" : "inet:") + std::to_string(ep->port) + "@" + ep->host;
}

Result<void> run_milter(const MilterRuntime& runtime) {
  g_runtime = &runtime;
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("strop-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
  desc.xxfi_connect = cb_connect;
  desc.xxfi_helo = cb_helo;
  desc.xxfi_envfrom = cb_envfrom;
  desc.xxfi_envrcpt = cb_envrcpt;
  desc.xxfi_header = cb_header;
  desc.xxfi_eoh = cb_eoh;
  desc.xxfi_body = cb_body;
  desc.xxfi_eom = cb_eom;
  desc.xxfi_abort = cb_abort;
  desc.xxfi_close = cb_close;
  desc.xxfi_unknown = cb_unknown;
  desc.xxfi_data = cb_data;
  desc.xxfi_negotiate = cb_negotiate;

  std::string conn = libmilter_socket(runtime.config->socket);
  if (smfi_setconn(conn.data()) != MI_SUCCESS) {
    return make_error(Errc::kInvalidArgument, "smfi_setconn(" + conn + ") failed");
  }
  if (smfi_register(desc) != MI_SUCCESS) {
    return make_error(Errc::kInternal, "smfi_register failed");
  }
  smfi_settimeout(runtime.config->mta_timeout_s);
  smfi_setbacklog(runtime.config->backlog);
  auto ep = parse_endpoint(runtime.config->socket);
  if (ep && ep->kind == Endpoint::Kind::kUnix) {
    // libmilter says why only to syslog: name the usual cause, a missing directory.
    auto dir = std::filesystem::path(ep->path).parent_path();
    struct stat st {};
    if (!dir.empty() && ::stat(dir.c_str(), &st) != 0) {
      return make_error(Errc::kUnavailable, "cannot open milter socket " + conn + ": directory " +
                                                dir.string() + ": " + std::strerror(errno));
    }
  }
  errno = 0;
  if (smfi_opensocket(1) != MI_SUCCESS) {
    int err = errno;
    return make_error(Errc::kUnavailable,
                      "cannot open milter socket " + conn +
                          (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
  }
  if (ep && ep->kind == Endpoint::Kind::kUnix) {
    if (::chmod(ep->path.c_str(), static_cast<mode_t>(runtime.config->socket_mode)) != 0) {
      runtime.log->warn("chmod {}: {}", ep->path, std::strerror(errno));
    }
  } else {
    set_nodelay_on_listeners();
  }
  runtime.log->info("listening on {} (budget {} ms)", conn,
                    runtime.config->pipeline.budget.count());
  service::notify_ready("serving");
  int rc = smfi_main();
  if (rc != MI_SUCCESS) return make_error(Errc::kInternal, "smfi_main failed");
  return {};
}

}  // namespace strop::milter
