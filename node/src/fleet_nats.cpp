// fleet_nats.cpp: the NATS JetStream shell of fleet mode (fleet.hpp "NatsFleet"): one
// connection, the stream, asynchronous publishes acknowledged by the stream, an ordered push
// consumer from the store's applied sequence + 1, and a supervisor thread.
//
// nats.c calls back on its own threads (the connection's ack and delivery threads). Every
// callback here is noexcept and catches everything: no exception crosses into C.
#include <nats/nats.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "node/fleet.hpp"
#include "node_common.hpp"

namespace strop::node {

namespace {

// ---- move-only owners of the nats.c handles
struct OptionsFree {
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
};
struct ConnectionFree {
  void operator()(natsConnection* p) const {
    natsConnection_Close(p);
    natsConnection_Destroy(p);
  }
};
struct JsFree {
  void operator()(jsCtx* p) const { jsCtx_Destroy(p); }
};
struct SubscriptionFree {
  void operator()(natsSubscription* p) const {
    natsSubscription_Unsubscribe(p);
    natsSubscription_Destroy(p);
  }
};
struct MsgFree {
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
};
struct StreamInfoFree {
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
};
struct MetaFree {
  void operator()(jsMsgMetaData* p) const { jsMsgMetaData_Destroy(p); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsFree>;
using ConnectionPtr = std::unique_ptr<natsConnection, ConnectionFree>;
using JsPtr = std::unique_ptr<jsCtx, JsFree>;
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionFree>;
using MsgPtr = std::unique_ptr<natsMsg, MsgFree>;
using StreamInfoPtr = std::unique_ptr<jsStreamInfo, StreamInfoFree>;
using MetaPtr = std::unique_ptr<jsMsgMetaData, MetaFree>;

constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kInfoEvery = std::chrono::seconds(1);
// No progress while the stream has events for us this long: recreate the consumer.
constexpr auto kStallAfter = std::chrono::seconds(10);
constexpr std::int64_t kInfoWaitMs = 1000;
// Fleet::verify: applied events are checked against the stream leader in chunks of
// kVerifyChunk, chunk after chunk while events wait, until kVerifyBudget of the tick is used
// (the tick's other duties wait behind it); one fetch waits at most kFetchWaitMs.
constexpr std::size_t kVerifyChunk = 16;
constexpr auto kVerifyBudget = std::chrono::milliseconds(50);
constexpr std::int64_t kFetchWaitMs = 250;

std::string nats_error(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(s);
  if (last != nullptr && *last != '\0') {
    out += ": ";
    out += last;
  }
  return out;
}

class NatsFleetImpl final : public NatsFleet, public FleetLog {
 public:
  NatsFleetImpl(const Config& config, Fleet& fleet) : cfg_(config.cluster), fleet_(fleet) {
    expire_after_ = config.store.expire_after;
  }
  ~NatsFleetImpl() override { stop(); }

  Result<void> start() {
    natsOptions* raw = nullptr;
    if (natsOptions_Create(&raw) != NATS_OK) return make_error(Errc::kIo, "natsOptions_Create");
    opts_.reset(raw);
    std::vector<const char*> urls;
    for (const auto& u : cfg_.nats_urls) urls.push_back(u.c_str());
    auto check = [](natsStatus s, const char* what) -> Result<void> {
      if (s == NATS_OK) return {};
      return make_error(Errc::kInvalidArgument,
                        std::string("cluster: ") + what + ": " + nats_error(s));
    };
    STROP_TRY(check(natsOptions_SetServers(opts_.get(), urls.data(), static_cast<int>(urls.size())),
                    "nats_urls"));
    STROP_TRY(check(natsOptions_SetTimeout(opts_.get(), cfg_.connect_timeout.count()),
                    "connect_timeout"));
    STROP_TRY(check(natsOptions_SetMaxReconnect(opts_.get(), -1), "max reconnect"));
    STROP_TRY(check(natsOptions_SetReconnectWait(opts_.get(), 250), "reconnect wait"));
    STROP_TRY(check(natsOptions_SetRetryOnFailedConnect(opts_.get(), true, &on_connected, this),
                    "retry on failed connect"));
    STROP_TRY(check(natsOptions_SetDisconnectedCB(opts_.get(), &on_disconnected, this),
                    "disconnected callback"));
    STROP_TRY(check(natsOptions_SetReconnectedCB(opts_.get(), &on_connected, this),
                    "reconnected callback"));
    if (!cfg_.credentials.empty()) {
      STROP_TRY(check(
          natsOptions_SetUserCredentialsFromFiles(opts_.get(), cfg_.credentials.c_str(), nullptr),
          "credentials"));
    }
    if (!cfg_.tls_ca.empty()) {
      STROP_TRY(check(natsOptions_SetSecure(opts_.get(), true), "tls"));
      STROP_TRY(
          check(natsOptions_LoadCATrustedCertificates(opts_.get(), cfg_.tls_ca.c_str()), "tls_ca"));
    }
    if (!cfg_.tls_cert.empty()) {
      STROP_TRY(check(natsOptions_SetSecure(opts_.get(), true), "tls"));
      STROP_TRY(check(natsOptions_LoadCertificatesChain(opts_.get(), cfg_.tls_cert.c_str(),
                                                        cfg_.tls_key.c_str()),
                      "tls_cert/tls_key"));
    }
    natsConnection* nc = nullptr;
    natsStatus s = natsConnection_Connect(&nc, opts_.get());
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
      return make_error(Errc::kIo, "cluster: cannot connect to NATS: " + nats_error(s));
    }
    nc_.reset(nc);
    conn_up_ = s == NATS_OK;
    if (s == NATS_NOT_YET_CONNECTED) {
      logger()->warn(
          "fleet: no NATS server reachable yet; retrying in the background "
          "(checks are served, writes refused meanwhile)");
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = cfg_.publish_timeout.count();
    jo.PublishAsync.AckHandler = &on_ack;
    jo.PublishAsync.AckHandlerClosure = this;
    jsCtx* js = nullptr;
    if ((s = natsConnection_JetStream(&js, nc_.get(), &jo)) != NATS_OK) {
      return make_error(Errc::kIo, "cluster: JetStream context: " + nats_error(s));
    }
    js_.reset(js);
    fleet_.attach(this);
    supervisor_ = std::thread([this] { supervise(); });
    return {};
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    if (supervisor_.joinable()) supervisor_.join();
    sub_.reset();
    beats_sub_.reset();
    // No publish is acknowledged after this: fail what waits for one.
    std::map<std::string, PublishDone> inflight;
    {
      MutexLock lk(&mu_);
      inflight.swap(inflight_);
      closing_ = true;
    }
    for (auto& [id, done] : inflight) done(make_error(Errc::kUnavailable, "node stopping"));
    fleet_.fail_pending("node stopping");
    if (nc_) natsConnection_Close(nc_.get());
    js_.reset();
    nc_.reset();
    opts_.reset();
  }

  // ---- FleetLog
  // Called by every write, on the I/O threads: reads flags, never the nats.c connection. (Its
  // status call takes the connection's lock, which nats.c's reconnect thread holds for a
  // whole connection attempt, up to connect_timeout per server, when a server's address
  // swallows packets: writes then waited seconds for their refusal and held up the checks
  // behind them on the same threads.)
  bool connected() const override { return !stopped_ && conn_up_ && stream_ready_; }

  void publish(std::string bytes, std::string msg_id, PublishDone done) override {
    natsMsg* raw = nullptr;
    natsStatus s = natsMsg_Create(&raw, cfg_.subject.c_str(), nullptr, bytes.data(),
                                  static_cast<int>(bytes.size()));
    if (s != NATS_OK) {
      done(make_error(Errc::kUnavailable, "cannot create NATS message: " + nats_error(s)));
      return;
    }
    MsgPtr msg(raw);
    if ((s = natsMsgHeader_Set(msg.get(), kMsgIdHeader, msg_id.c_str())) != NATS_OK) {
      done(make_error(Errc::kUnavailable, "cannot set message id: " + nats_error(s)));
      return;
    }
    {
      MutexLock lk(&mu_);
      if (closing_) {
        done(make_error(Errc::kUnavailable, "node stopping"));
        return;
      }
      inflight_.emplace(msg_id, std::move(done));
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = cfg_.publish_timeout.count();
    raw = msg.release();
    s = js_PublishMsgAsync(js_.get(), &raw, &po);
    if (s != NATS_OK) {
      if (raw != nullptr) natsMsg_Destroy(raw);  // not taken by the library
      PublishDone back;
      {
        MutexLock lk(&mu_);
        auto it = inflight_.find(msg_id);
        if (it == inflight_.end()) return;  // (the ack handler already ran)
        back = std::move(it->second);
        inflight_.erase(it);
      }
      back(make_error(Errc::kUnavailable, "publish failed: " + nats_error(s)));
    }
  }

 private:
  // ---- nats.c callbacks (their threads; noexcept, nothing escapes)
  static void on_connected(natsConnection*, void* closure) noexcept {
    try {
      auto* self = static_cast<NatsFleetImpl*>(closure);
      self->conn_up_ = true;
      self->fleet_.metrics().connected.set(1);
      logger()->info("fleet: connected to NATS");
    } catch (...) {
    }
  }
  static void on_disconnected(natsConnection*, void* closure) noexcept {
    try {
      auto* self = static_cast<NatsFleetImpl*>(closure);
      self->conn_up_ = false;
      self->fleet_.metrics().connected.set(0);
      if (!self->stopped_) logger()->warn("fleet: disconnected from NATS; writes are refused");
    } catch (...) {
    }
  }
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) noexcept {
    MsgPtr owned(msg);
    try {
      auto* self = static_cast<NatsFleetImpl*>(closure);
      const char* id = nullptr;
      if (natsMsgHeader_Get(msg, kMsgIdHeader, &id) != NATS_OK || id == nullptr) return;
      PublishDone done;
      {
        MutexLock lk(&self->mu_);
        auto it = self->inflight_.find(id);
        if (it == self->inflight_.end()) return;
        done = std::move(it->second);
        self->inflight_.erase(it);
      }
      if (pa != nullptr) {
        done(pa->Sequence);
      } else {
        std::string why = pae != nullptr ? natsStatus_GetText(pae->Err) : "no acknowledgement";
        if (pae != nullptr && pae->ErrText != nullptr) why += std::string(": ") + pae->ErrText;
        done(make_error(Errc::kUnavailable, why));
      }
    } catch (const std::exception& e) {
      logger()->error("fleet: publish acknowledgement handler: {}", e.what());
    } catch (...) {
    }
  }
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) noexcept {
    MsgPtr owned(msg);
    try {
      auto* self = static_cast<NatsFleetImpl*>(closure);
      if (self->stopped_) return;
      jsMsgMetaData* raw = nullptr;
      if (natsMsg_GetMetaData(&raw, msg) != NATS_OK || raw == nullptr) return;
      MetaPtr meta(raw);
      const char* data = natsMsg_GetData(msg);
      int len = natsMsg_GetDataLength(msg);
      self->fleet_.on_event(meta->Sequence.Stream,
                            std::string_view(data != nullptr ? data : "",
                                             data != nullptr ? static_cast<std::size_t>(len) : 0));
      self->last_delivery_ns_ = steady_ns();
    } catch (const std::exception& e) {
      logger()->error("fleet: event handler: {}", e.what());
    } catch (...) {
    }
  }

  static void on_beat(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) noexcept {
    MsgPtr owned(msg);
    try {
      auto* self = static_cast<NatsFleetImpl*>(closure);
      if (self->stopped_) return;
      const char* data = natsMsg_GetData(msg);
      int len = natsMsg_GetDataLength(msg);
      if (data == nullptr || len <= 0) return;
      self->fleet_.on_beat(std::string_view(data, static_cast<std::size_t>(len)));
    } catch (const std::exception& e) {
      logger()->error("fleet: member beat handler: {}", e.what());
    } catch (...) {
    }
  }

  // ---- supervisor thread

  // Every member publishes its beat on core NATS (not stored in the stream) at
  // <subject>.members and listens to everyone's, its own included (Fleet::members).
  void announce() {
    const std::string subject = cfg_.subject + ".members";
    if (!beats_sub_) {
      natsSubscription* raw = nullptr;
      if (natsConnection_Subscribe(&raw, nc_.get(), subject.c_str(), &on_beat, this) != NATS_OK) {
        return;
      }
      beats_sub_.reset(raw);
    }
    const std::string beat = fleet_.beat();
    if (!beat.empty()) {
      (void)natsConnection_Publish(nc_.get(), subject.c_str(), beat.data(),
                                   static_cast<int>(beat.size()));
    }
  }
  bool ensure_stream() {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = kInfoWaitMs;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsStreamInfo* raw = nullptr;
    natsStatus s = js_GetStreamInfo(&raw, js_.get(), cfg_.stream.c_str(), &o, &jerr);
    StreamInfoPtr si(raw);
    if (s == NATS_OK) return true;
    if (s != NATS_NOT_FOUND) {
      logger()->warn("fleet: stream {}: {}", cfg_.stream, nats_error(s));
      return false;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = cfg_.stream.c_str();
    const char* subjects[] = {cfg_.subject.c_str()};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = cfg_.replicas;
    sc.MaxAge = std::chrono::duration_cast<std::chrono::nanoseconds>(expire_after_).count();
    raw = nullptr;
    s = js_AddStream(&raw, js_.get(), &sc, &o, &jerr);
    si.reset(raw);
    if (s != NATS_OK) {
      logger()->error("fleet: cannot create stream {} ({} replicas): {}", cfg_.stream,
                      cfg_.replicas, nats_error(s));
      return false;
    }
    logger()->info("fleet: created stream {} on {} ({} replicas, max age {} s)", cfg_.stream,
                   cfg_.subject, cfg_.replicas, expire_after_.count());
    return true;
  }

  void subscribe() {
    sub_.reset();
    const std::uint64_t from = fleet_.next_sequence();
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = cfg_.stream.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsSubscription* raw = nullptr;
    natsStatus s =
        js_Subscribe(&raw, js_.get(), cfg_.subject.c_str(), &on_message, this, nullptr, &so, &jerr);
    if (s != NATS_OK) {
      logger()->warn("fleet: cannot consume {} from sequence {}: {}", cfg_.stream, from,
                     nats_error(s));
      return;
    }
    sub_.reset(raw);
    progress_seq_ = from;
    progress_ns_ = steady_ns();
    logger()->info("fleet: consuming {} from sequence {}", cfg_.stream, from);
  }

  Result<std::string> fetch(std::uint64_t seq) override {
    if (!connected()) return make_error(Errc::kUnavailable, "the log is not reachable");
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = kFetchWaitMs;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsMsg* raw = nullptr;
    // STREAM.MSG.GET, which the stream's leader answers (js_DirectGetMsg could be answered
    // by any replica, the divergent one included).
    natsStatus s = js_GetMsg(&raw, js_.get(), cfg_.stream.c_str(), seq, &o, &jerr);
    MsgPtr msg(raw);
    if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
      return make_error(Errc::kNotFound, fmt::format("no event {} in the stream", seq));
    }
    if (s != NATS_OK) {
      return make_error(Errc::kUnavailable,
                        fmt::format("fetching event {}: {}", seq, natsStatus_GetText(s)));
    }
    return std::string(natsMsg_GetData(msg.get()),
                       static_cast<std::size_t>(natsMsg_GetDataLength(msg.get())));
  }

  void refresh_head() {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = kInfoWaitMs;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsStreamInfo* raw = nullptr;
    if (js_GetStreamInfo(&raw, js_.get(), cfg_.stream.c_str(), &o, &jerr) != NATS_OK) return;
    StreamInfoPtr si(raw);
    fleet_.metrics().head_sequence.set(static_cast<std::int64_t>(si->State.LastSeq));
  }

  void supervise() {
    auto next_info = std::chrono::steady_clock::now();
    while (!stopped_) {
      try {
        fleet_.expire_pending();
        // The supervisor may wait for the connection's lock; it also corrects the flag the
        // callbacks keep, should one of them have raced with the initial connect.
        const bool up = natsConnection_Status(nc_.get()) == NATS_CONN_STATUS_CONNECTED;
        conn_up_ = up;
        fleet_.metrics().connected.set(up && stream_ready_ ? 1 : 0);
        if (up && !stream_ready_) stream_ready_ = ensure_stream();
        if (up && stream_ready_) {
          const bool resync = fleet_.take_resync();
          if (!sub_ || resync || !natsSubscription_IsValid(sub_.get())) subscribe();
          fleet_.tick();
          const auto verify_until = std::chrono::steady_clock::now() + kVerifyBudget;
          while (fleet_.verify(kVerifyChunk) == kVerifyChunk &&
                 std::chrono::steady_clock::now() < verify_until) {
          }
          auto now = std::chrono::steady_clock::now();
          if (now >= next_info) {
            next_info = now + kInfoEvery;
            refresh_head();
            announce();
            // An ordered consumer recreates itself after missed heartbeats; this is the
            // backstop when it does not (e.g. the whole NATS cluster restarted).
            const std::uint64_t next = fleet_.next_sequence();
            const auto head = static_cast<std::uint64_t>(fleet_.metrics().head_sequence.value());
            if (next != progress_seq_) {
              progress_seq_ = next;
              progress_ns_ = steady_ns();
            } else if (head >= next &&
                       steady_ns() - progress_ns_ >
                           std::chrono::duration_cast<std::chrono::nanoseconds>(kStallAfter)
                               .count()) {
              logger()->warn(
                  "fleet: no event delivered for {} s while the stream is at {}; "
                  "consuming again from {}",
                  kStallAfter.count(), head, next);
              subscribe();
            }
          }
        }
      } catch (const std::exception& e) {
        logger()->error("fleet: supervisor: {}", e.what());
      }
      std::this_thread::sleep_for(kTick);
    }
  }

  const Config::Cluster cfg_;
  Fleet& fleet_;
  std::chrono::seconds expire_after_{0};
  OptionsPtr opts_;
  ConnectionPtr nc_;
  JsPtr js_;
  SubscriptionPtr sub_;        // supervisor thread only
  SubscriptionPtr beats_sub_;  // supervisor thread only (reset by stop() after the join)
  std::thread supervisor_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> stream_ready_{false};
  std::atomic<bool> conn_up_{false};  // the connection callbacks' view, for connected()
  std::atomic<std::int64_t> last_delivery_ns_{0};
  std::uint64_t progress_seq_ = 0;  // supervisor thread only
  std::int64_t progress_ns_ = 0;

  Mutex mu_;
  std::map<std::string, PublishDone> inflight_ GUARDED_BY(mu_);
  bool closing_ GUARDED_BY(mu_) = false;
};

}  // namespace

Result<std::unique_ptr<NatsFleet>> start_nats_fleet(const Config& config, Fleet& fleet) {
  auto f = std::make_unique<NatsFleetImpl>(config, fleet);
  if (auto r = f->start(); !r) return r.error();
  return std::unique_ptr<NatsFleet>(std::move(f));
}

}  // namespace strop::node
