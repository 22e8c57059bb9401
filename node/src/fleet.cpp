// fleet.cpp: the fleet core: writes to log events and back, pending writes, ordered
// application (fleet.hpp; docs/fleet.md).
#include "node/fleet.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <random>
#include <thread>
#include <type_traits>

#include "base/digest.hpp"
#include "node/federation.hpp"
#include "node_common.hpp"

namespace strop::node {

namespace {

storage::TimePoint at(std::uint64_t unix_seconds) {
  return storage::TimePoint{std::chrono::seconds{static_cast<std::int64_t>(unix_seconds)}};
}

std::string msg_id(const std::string& origin, std::uint64_t request) {
  return origin + "." + std::to_string(request);
}

// The first request number of a Fleet: random in [1, 2^62]. A node restarted with the same
// id (cluster.node_id) must not repeat an earlier incarnation's (origin, request): JetStream
// would take the new publish for a duplicate of the old one within its duplicate window
// (acknowledged with the old sequence, never stored) and the node would take the old event,
// delivered while it catches up, for its new write.
std::uint64_t first_request() {
  std::random_device rd;
  const std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
  return (r & ((std::uint64_t{1} << 62) - 1)) + 1;
}

}  // namespace

storage::LoggedWrite logged_write(std::uint64_t seq, const protocol::FleetEvent& e) {
  storage::LoggedWrite w;
  w.seq = seq;
  const storage::TimePoint now = at(e.time);
  w.op = std::visit(
      [now](const auto& v) -> storage::LoggedOp {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, protocol::FleetVote>) {
          storage::LoggedVote lv;
          lv.reporter = v.reporter;
          lv.request.revoke = v.revoke;
          lv.request.sigs = v.sigs;
          lv.request.message_sizes = v.message_sizes;
          if (v.replay)
            lv.request.replay = storage::ReplayKey{v.replay->nonce, at(v.replay->expires)};
          lv.request.now = now;
          return lv;
        } else if constexpr (std::is_same_v<T, protocol::FleetAddReporter>) {
          storage::LoggedAddReporter a;
          a.spec.name = v.name;
          a.spec.secret = v.secret;
          a.spec.trust = v.trust;
          a.spec.pinned = v.pinned;
          a.spec.admin = v.admin;
          a.spec.open_registration = v.open_registration;
          a.created = now;
          return a;
        } else if constexpr (std::is_same_v<T, protocol::FleetSetTrust>) {
          return storage::LoggedSetTrust{v.name, v.trust, v.pinned};
        } else if constexpr (std::is_same_v<T, protocol::FleetSetDisabled>) {
          return storage::LoggedSetDisabled{v.name, v.disabled};
        } else if constexpr (std::is_same_v<T, protocol::FleetSetAllowed>) {
          return storage::LoggedSetAllowed{v.sigs, v.allowed, now};
        } else if constexpr (std::is_same_v<T, protocol::FleetDeleteSignatures>) {
          return storage::LoggedDeleteSignatures{v.sigs};
        } else if constexpr (std::is_same_v<T, protocol::FleetAddPeer>) {
          return storage::LoggedAddPeer{storage::PeerSpec{v.name, v.url, v.secret, v.trust}, now};
        } else if constexpr (std::is_same_v<T, protocol::FleetRemovePeer>) {
          return storage::LoggedRemovePeer{v.name};
        } else if constexpr (std::is_same_v<T, protocol::FleetTouch>) {
          return storage::LoggedTouch{v.sigs, now};
        } else if constexpr (std::is_same_v<T, protocol::FleetExpire>) {
          return storage::LoggedExpire{at(v.cutoff), v.limit};
        } else {
          static_assert(std::is_same_v<T, protocol::FleetPeerBatch>);
          // The event's time is the batch's `now` (vote times, last success) on every node.
          storage::LoggedPeerBatch b;
          b.peer = v.peer;
          b.after = v.after;
          b.cursor = v.cursor;
          b.now = now;
          b.entries.reserve(v.entries.size());
          for (const auto& x : v.entries) b.entries.push_back(from_wire(x));
          return b;
        }
      },
      e.write);
  return w;
}

bool fleet_member_elected(std::string_view self, const std::vector<FleetMemberStatus>& members,
                          std::chrono::milliseconds timeout) {
  const double limit = std::chrono::duration<double>(timeout).count();
  for (const auto& m : members) {
    if (m.self || m.id == self || m.age_seconds > limit) continue;
    if (m.id < self) return false;  // a live member with a lower id pulls
  }
  return true;
}

std::string fleet_origin(const Config& config) {
  if (!config.cluster.node_id.empty()) return config.cluster.node_id;
  char host[64] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "node");
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  std::string id = std::string(host).substr(0, 40) + "-" + suffix;
  return id;
}

Result<std::string> FleetLog::fetch(std::uint64_t) {
  return make_error(Errc::kUnavailable, "this log cannot fetch events");
}

std::string render_fleet_metrics(const FleetMetrics& m, std::uint64_t applied) {
  std::string out;
  auto row = [&out](const char* name, const char* type, const char* help, double v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
  };
  const auto head = static_cast<std::uint64_t>(std::max<std::int64_t>(0, m.head_sequence.value()));
  row("strop_fleet_connected", "gauge", "1 while the fleet's NATS JetStream log is reachable.",
      static_cast<double>(m.connected.value()));
  row("strop_fleet_applied_sequence", "gauge", "Last log sequence applied to the local store.",
      static_cast<double>(applied));
  row("strop_fleet_head_sequence", "gauge", "The stream's last sequence, as last seen.",
      static_cast<double>(head));
  row("strop_fleet_lag_events", "gauge", "Events in the stream not yet applied here.",
      static_cast<double>(head > applied ? head - applied : 0));
  row("strop_fleet_published_total", "counter",
      "Events this node published and the log acknowledged.",
      static_cast<double>(m.published.value()));
  row("strop_fleet_publish_failures_total", "counter",
      "Writes refused: log unreachable, publish refused or not acknowledged in time.",
      static_cast<double>(m.publish_failures.value()));
  row("strop_fleet_applied_total", "counter", "Log events applied here (any origin).",
      static_cast<double>(m.applied.value()));
  row("strop_fleet_skipped_total", "counter", "Log events offered again and skipped.",
      static_cast<double>(m.skipped.value()));
  row("strop_fleet_malformed_total", "counter", "Log events that did not decode (no-ops).",
      static_cast<double>(m.malformed.value()));
  row("strop_fleet_peer_batches_skipped_total", "counter",
      "Federation batches in the log skipped because their cursor was not the stored one "
      "(pulled twice during a puller hand-over).",
      static_cast<double>(m.peer_batches_skipped.value()));
  row("strop_fleet_gaps_total", "counter", "Jumps over sequences gone from the stream.",
      static_cast<double>(m.gaps.value()));
  row("strop_fleet_touch_events_total", "counter",
      "Hit events this node published (its checks' hits, for every member's expiry).",
      static_cast<double>(m.touch_events.value()));
  row("strop_fleet_expire_steps_total", "counter",
      "Expiry sweep steps this node published (the elected member sweeps for the fleet).",
      static_cast<double>(m.expire_steps.value()));
  row("strop_fleet_activity_failures_total", "counter",
      "Hit or sweep events the log did not acknowledge (those hits are lost; a step is retried).",
      static_cast<double>(m.activity_failures.value()));
  row("strop_fleet_verified_total", "counter",
      "Applied events found identical at the stream's leader.",
      static_cast<double>(m.verified.value()));
  row("strop_fleet_unverified_total", "counter",
      "Applied events dropped unverified (verification fell behind).",
      static_cast<double>(m.unverified.value()));
  row("strop_fleet_divergence_total", "counter",
      "Applied events that differ from the stream leader's copy: this node's state diverged.",
      static_cast<double>(m.divergences.value()));
  out +=
      "# HELP strop_fleet_publish_duration_seconds Write submitted to log acknowledgement.\n"
      "# TYPE strop_fleet_publish_duration_seconds histogram\n";
  m.publish_latency.render(&out, "strop_fleet_publish_duration_seconds", "");
  out +=
      "# HELP strop_fleet_write_duration_seconds Write submitted to acknowledged and applied "
      "here.\n# TYPE strop_fleet_write_duration_seconds histogram\n";
  m.write_latency.render(&out, "strop_fleet_write_duration_seconds", "");
  return out;
}

Fleet::Fleet(storage::Store& store, FleetOptions options, std::function<std::int64_t()> mono_ns)
    : store_(store),
      opt_(std::move(options)),
      mono_ns_(std::move(mono_ns)),
      next_request_(first_request()) {
  if (!mono_ns_) mono_ns_ = steady_ns;
}

Fleet::~Fleet() { fail_pending("node stopping"); }

void Fleet::submit(protocol::FleetWrite write, std::int64_t unix_time, Done done) {
  if (log_ == nullptr || !log_->connected()) {
    metrics_.publish_failures.add();
    done(make_error(Errc::kUnavailable, "fleet log (NATS) unreachable; retry later"));
    return;
  }
  std::uint64_t request = 0;
  {
    MutexLock lk(&mu_);
    request = next_request_++;
  }
  protocol::FleetEvent e;
  e.origin = opt_.origin;
  e.request = request;
  e.time = unix_time > 0 ? static_cast<std::uint64_t>(unix_time) : 0;
  e.write = std::move(write);
  auto bytes = protocol::encode_fleet_event(e);
  if (!bytes) {
    done(bytes.error());
    return;
  }
  const std::int64_t now = mono_ns_();
  {
    MutexLock lk(&mu_);
    Pending p;
    p.done = std::move(done);
    p.started_ns = now;
    p.deadline_ns =
        now + std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.publish_timeout).count();
    pending_.emplace(request, std::move(p));
  }
  log_->publish(std::move(*bytes), msg_id(opt_.origin, request),
                [this, request](const Result<std::uint64_t>& r) { on_published(request, r); });
}

Result<storage::LoggedOutcome> Fleet::submit_and_wait(protocol::FleetWrite write,
                                                      std::int64_t unix_time) {
  auto promise = std::make_shared<std::promise<Result<storage::LoggedOutcome>>>();
  auto future = promise->get_future();
  submit(std::move(write), unix_time,
         [promise](Result<storage::LoggedOutcome> r) { promise->set_value(std::move(r)); });
  return future.get();
}

std::function<void()> Fleet::settle(std::uint64_t request, Pending& p) {
  const bool failed = p.outcome && !*p.outcome;
  if (!failed && !(p.acked && p.outcome)) return {};
  auto done = std::move(p.done);
  auto outcome = std::move(*p.outcome);
  const std::int64_t started = p.started_ns;
  pending_.erase(request);
  if (outcome) metrics_.write_latency.observe(std::chrono::nanoseconds(mono_ns_() - started));
  return [done = std::move(done), outcome = std::move(outcome)]() mutable {
    done(std::move(outcome));
  };
}

void Fleet::on_published(std::uint64_t request, const Result<std::uint64_t>& r) {
  std::function<void()> run;
  {
    MutexLock lk(&mu_);
    auto it = pending_.find(request);
    if (it == pending_.end()) {
      if (r) metrics_.published.add();
      return;  // (timed out already, or applied and failed)
    }
    Pending& p = it->second;
    if (!r) {
      metrics_.publish_failures.add();
      // Not acknowledged: whatever the local apply says, the client must not see success.
      p.outcome = Result<storage::LoggedOutcome>(make_error(
          Errc::kUnavailable,
          "fleet log did not acknowledge the write: " + r.error().message + "; retry later"));
    } else {
      metrics_.published.add();
      metrics_.publish_latency.observe(std::chrono::nanoseconds(mono_ns_() - p.started_ns));
      p.acked = true;
    }
    run = settle(request, p);
  }
  if (run) run();
}

void Fleet::on_applied(std::uint64_t request, Result<storage::LoggedOutcome> r) {
  std::function<void()> run;
  {
    MutexLock lk(&mu_);
    auto it = pending_.find(request);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (p.outcome) return;  // already failed by its publish
    p.outcome = std::move(r);
    run = settle(request, p);
  }
  if (run) run();
}

void Fleet::offer(const storage::LoggedWrite& w, bool mine, std::uint64_t request) {
  for (int attempt = 0;; ++attempt) {
    // A refusal at enqueue (queue full) comes back synchronously: wait and offer it again,
    // which holds the consumer (and, through flow control, the stream) back.
    struct Call {
      std::atomic<bool> sync{true};
      std::atomic<bool> queue_full{false};
    };
    auto call = std::make_shared<Call>();
    auto copy = w;
    store_.apply_logged(std::move(copy),
                        [this, call, mine, request](Result<storage::LoggedOutcome> r) {
                          if (!r && call->sync && r.error().code == Errc::kUnavailable) {
                            call->queue_full = true;
                            return;
                          }
                          if (!r) {
                            logger()->error(
                                "fleet: applying a log event failed: {}; resubscribing from the "
                                "applied sequence",
                                r.error().to_string());
                            MutexLock lk(&apply_mu_);
                            resync_ = true;
                          } else if (r->skipped) {
                            metrics_.skipped.add();
                          } else {
                            metrics_.applied.add();
                            if (r->stale_batch) metrics_.peer_batches_skipped.add();
                          }
                          if (mine) on_applied(request, std::move(r));
                        });
    call->sync = false;
    const bool queue_full = call->queue_full;
    if (!queue_full) return;
    if (attempt % 1000 == 999) logger()->warn("fleet: the store's writer queue stays full");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Fleet::on_event(std::uint64_t seq, std::string_view bytes) {
  {
    MutexLock lk(&apply_mu_);
    if (next_seq_ == 0) next_seq_ = store_.applied_sequence() + 1;
    if (stalled_ || resync_) return;
    if (seq < next_seq_) {
      metrics_.skipped.add();
      return;
    }
    if (seq > next_seq_) {
      metrics_.gaps.add();
      logger()->error(
          "fleet: log sequences {}..{} are gone from the stream (past its retention): this "
          "node misses those writes; restore it from a member's backup",
          next_seq_, seq - 1);
    }
  }
  auto event = protocol::decode_fleet_event(bytes);
  if (!event) {
    if (event.error().code == Errc::kInvalidArgument) {
      // A newer event version: applying later events without it would diverge. Stop here.
      logger()->critical("fleet: event {}: {}; this node stops applying the log", seq,
                         event.error().message);
      MutexLock lk(&apply_mu_);
      stalled_ = true;
      return;
    }
    // Malformed bytes decode the same way on every node of this version: consume the
    // sequence as a no-op (an empty delete), so every node stays at the same position.
    metrics_.malformed.add();
    logger()->error("fleet: event {} is malformed ({}); skipped", seq, event.error().message);
    {
      MutexLock lk(&apply_mu_);
      next_seq_ = seq + 1;
    }
    remember_applied(seq, bytes);
    offer(storage::LoggedWrite{seq, storage::LoggedDeleteSignatures{}}, false, 0);
    return;
  }
  {
    MutexLock lk(&apply_mu_);
    next_seq_ = seq + 1;
  }
  remember_applied(seq, bytes);
  const bool mine = event->origin == opt_.origin;
  offer(logged_write(seq, *event), mine, event->request);
}

void Fleet::remember_applied(std::uint64_t seq, std::string_view bytes) {
  std::string hash = digest(DigestAlgorithm::kSha256, bytes);
  MutexLock lk(&verify_mu_);
  if (unverified_.size() >= kMaxUnverifiedEvents) {
    unverified_.pop_front();
    metrics_.unverified.add();
  }
  unverified_.emplace_back(seq, std::move(hash));
}

std::size_t Fleet::verify(std::size_t max) {
  if (log_ == nullptr) return 0;
  std::size_t checked = 0;
  while (checked < max) {
    std::pair<std::uint64_t, std::string> next;
    {
      MutexLock lk(&verify_mu_);
      if (unverified_.empty()) break;
      next = std::move(unverified_.front());
      unverified_.pop_front();
    }
    auto leader = log_->fetch(next.first);
    if (!leader && leader.error().code != Errc::kNotFound) {
      MutexLock lk(&verify_mu_);
      unverified_.push_front(std::move(next));  // retried at the next call
      break;
    }
    ++checked;
    if (!leader) {
      metrics_.unverified.add();  // gone from the stream (retention): nothing to compare
    } else if (digest(DigestAlgorithm::kSha256, *leader) == next.second) {
      metrics_.verified.add();
    } else {
      metrics_.divergences.add();
      if (!diverged_.exchange(true)) {
        logger()->critical(
            "fleet: the event this node applied at log sequence {} differs from the stream "
            "leader's: this node consumed a divergent replica and its state is not the "
            "fleet's (docs/fleet.md, known bug 2); restore it from a healthy member's backup",
            next.first);
      }
    }
  }
  return checked;
}

std::string Fleet::beat() {
  protocol::FleetBeat b;
  b.origin = opt_.origin;
  b.applied = store_.applied_sequence();
  b.head = static_cast<std::uint64_t>(std::max<std::int64_t>(0, metrics_.head_sequence.value()));
  auto bytes = protocol::encode_fleet_beat(b);
  return bytes ? std::move(*bytes) : std::string();
}

void Fleet::on_beat(std::string_view bytes) {
  auto b = protocol::decode_fleet_beat(bytes);
  if (!b) return;
  const std::int64_t now = mono_ns_();
  MutexLock lk(&members_mu_);
  auto it = members_.find(b->origin);
  if (it == members_.end() && members_.size() >= kMaxFleetMembers) {
    // Full: the member heard longest ago makes room (a departed one, usually).
    auto oldest = std::min_element(
        members_.begin(), members_.end(),
        [](const auto& x, const auto& y) { return x.second.at_ns < y.second.at_ns; });
    members_.erase(oldest);
  }
  members_[b->origin] = Heard{b->applied, b->head, now};
}

std::vector<FleetMemberStatus> Fleet::members() {
  const std::int64_t now = mono_ns_();
  const std::int64_t ttl = std::chrono::nanoseconds(kFleetMemberTtl).count();
  std::vector<FleetMemberStatus> out;
  std::uint64_t head = 0;
  MutexLock lk(&members_mu_);
  for (auto it = members_.begin(); it != members_.end();) {
    if (now - it->second.at_ns > ttl) {
      it = members_.erase(it);
      continue;
    }
    head = std::max({head, it->second.head, it->second.applied});
    ++it;
  }
  for (const auto& [id, h] : members_) {
    FleetMemberStatus m;
    m.id = id;
    m.applied = h.applied;
    m.lag = head > h.applied ? head - h.applied : 0;
    m.age_seconds = static_cast<double>(now - h.at_ns) / 1e9;
    m.self = id == opt_.origin;
    out.push_back(std::move(m));
  }
  return out;
}

std::string Fleet::render_member_metrics() {
  auto list = members();
  std::string out;
  auto family = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    for (const auto& m : list) out += fmt::format("{}{{member=\"{}\"}} {}\n", name, m.id, value(m));
  };
  family("strop_fleet_member_applied_sequence",
         "Last log sequence a fleet member applied (its beats).",
         [](const FleetMemberStatus& m) { return m.applied; });
  family("strop_fleet_member_lag_events",
         "Events a fleet member has not applied yet, from its beats.",
         [](const FleetMemberStatus& m) { return m.lag; });
  family("strop_fleet_member_age_seconds", "Seconds since a fleet member's last beat arrived here.",
         [](const FleetMemberStatus& m) { return m.age_seconds; });
  return out;
}

std::uint64_t Fleet::next_sequence() {
  MutexLock lk(&apply_mu_);
  if (next_seq_ == 0) next_seq_ = store_.applied_sequence() + 1;
  return next_seq_;
}

bool Fleet::take_resync() {
  {
    MutexLock lk(&apply_mu_);
    if (!resync_) return false;
  }
  (void)store_.flush();  // what was handed to the writer is applied or failed
  MutexLock lk(&apply_mu_);
  resync_ = false;
  next_seq_ = store_.applied_sequence() + 1;
  return true;
}

void Fleet::tick() {
  if (log_ == nullptr || !log_->connected()) return;  // hits wait in the store
  const std::int64_t unix_time =
      std::chrono::duration_cast<std::chrono::seconds>(store_.now().time_since_epoch()).count();
  const std::int64_t now = mono_ns_();
  bool touch = false;
  bool sweep = false;
  {
    MutexLock lk(&activity_mu_);
    if (now >= next_touch_ns_) {
      touch = true;
      next_touch_ns_ = now + std::chrono::nanoseconds(kFleetTouchInterval).count();
    }
    const std::int64_t interval = std::chrono::nanoseconds(opt_.sweep_interval).count();
    if (next_sweep_ns_ == 0) {
      next_sweep_ns_ =
          now + std::max(interval, std::chrono::nanoseconds(kElectionBeatTimeout).count());
    }
    if (opt_.expire_after.count() > 0 && !sweep_in_flight_ &&
        (sweep_more_ || now >= next_sweep_ns_) && unix_time > opt_.expire_after.count() &&
        fleet_member_elected(opt_.origin, members())) {
      sweep = true;
      sweep_in_flight_ = true;
      sweep_more_ = false;
      next_sweep_ns_ = now + interval;
    }
  }
  const auto cutoff = static_cast<std::uint64_t>(unix_time - opt_.expire_after.count());
  if (sweep) {
    // Nothing due: no event (a quiet fleet's log stays quiet).
    auto due = store_.expiry_due(
        storage::TimePoint{std::chrono::seconds{static_cast<std::int64_t>(cutoff)}});
    if (!due) logger()->warn("fleet: reading the activity index failed: {}", due.error().message);
    if (!due || !*due) {
      MutexLock lk(&activity_mu_);
      sweep_in_flight_ = false;
      sweep = false;
    }
  }
  if (touch) {
    auto hits = store_.take_hits();
    if (!hits) {
      logger()->warn("fleet: reading the pending hits failed: {}", hits.error().to_string());
    } else if (!hits->empty()) {
      // Events of at most kMaxFleetTouchSigs signatures and half the event bound in bytes.
      constexpr std::size_t kTouchBytes = protocol::kMaxFleetEventBytes / 2;
      protocol::FleetTouch t;
      std::size_t bytes = 0;
      auto send = [&] {
        metrics_.touch_events.add();
        submit(std::move(t), unix_time, [this](const Result<storage::LoggedOutcome>& r) {
          if (!r) metrics_.activity_failures.add();
        });
        t = protocol::FleetTouch{};
        bytes = 0;
      };
      for (auto& sig : *hits) {
        if (t.sigs.size() == protocol::kMaxFleetTouchSigs ||
            bytes + sig.value.size() + 3 > kTouchBytes)
          send();
        bytes += sig.value.size() + 3;
        t.sigs.push_back(std::move(sig));
      }
      if (!t.sigs.empty()) send();
    }
  }
  if (sweep) {
    const auto limit = static_cast<std::uint32_t>(
        std::clamp<std::size_t>(opt_.sweep_batch, 1, protocol::kMaxFleetExpireLimit));
    protocol::FleetExpire x{cutoff, limit};
    metrics_.expire_steps.add();
    submit(x, unix_time, [this](const Result<storage::LoggedOutcome>& r) {
      if (!r) metrics_.activity_failures.add();
      if (r && r->expired > 0) {
        logger()->debug("fleet: the expiry step deleted {} signatures", r->expired);
      }
      MutexLock lk(&activity_mu_);
      sweep_in_flight_ = false;
      // More due: the next step at the next tick. A failed step: again at the next interval.
      sweep_more_ = r && r->more_due;
    });
  }
}

void Fleet::expire_pending() {
  const std::int64_t now = mono_ns_();
  std::vector<std::function<void()>> run;
  {
    MutexLock lk(&mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ns > now) {
        ++it;
        continue;
      }
      metrics_.publish_failures.add();
      run.push_back([done = std::move(it->second.done)] {
        done(make_error(Errc::kUnavailable,
                        "fleet write not acknowledged and applied in time; retry later"));
      });
      it = pending_.erase(it);
    }
  }
  for (auto& f : run) f();
}

void Fleet::fail_pending(const std::string& why) {
  std::map<std::uint64_t, Pending> all;
  {
    MutexLock lk(&mu_);
    all.swap(pending_);
  }
  for (auto& [id, p] : all) p.done(make_error(Errc::kUnavailable, why));
}

std::size_t Fleet::pending() {
  MutexLock lk(&mu_);
  return pending_.size();
}

}  // namespace strop::node
