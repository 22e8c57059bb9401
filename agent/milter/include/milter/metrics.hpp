// metrics.hpp: the milter's Prometheus metrics (counters and histograms over atomics) and a
// tiny HTTP listener serving them at GET /metrics on a configured local address.
//
// Metrics (all prefixed strop_milter_): build_info{version}, messages_total{verdict},
// bypass_total{reason}, viruses_total, stage_seconds{stage} (histogram),
// stage_errors_total{stage,error}, stage_up{stage}, connections_active, buffer_memory_bytes.
// Recording is lock-free and safe from any thread, except StageHealth (one mutex).
// MetricsServer runs one thread; start() once, stop() (or the destructor) joins it. It
// answers GET /metrics and GET /healthz: 200 "ok", or 200 "degraded: clamd (REASON)" while
// an enabled remote stage is failing (from its failure, or the start-up probe, until its next
// success).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "base/thread_annotations.hpp"
#include "milter/net.hpp"
#include "milter/policy.hpp"

namespace strop::milter {

enum class MetricStage { kParse, kClamd, kLookup, kSpamd, kRules, kReport, kTotal };
inline constexpr std::size_t kMetricStages = 7;
const char* metric_stage_name(MetricStage s);

enum class BypassKind { kNetwork, kAuthenticated, kSender, kRecipient };
inline constexpr std::size_t kBypassKinds = 4;

// Whether each remote stage (clamd, node lookup, spamd) works, as last seen. Thread-safe.
class StageHealth {
 public:
  static constexpr std::size_t kStages = 3;  // Stage values
  // A configured stage; only those are reported.
  void enable(Stage s) EXCLUDES(mu_);
  void ok(Stage s) EXCLUDES(mu_);
  void failed(Stage s, std::string reason) EXCLUDES(mu_);
  // "" when every enabled stage works, else e.g. "clamd (unavailable: connect ...)".
  std::string degraded() const EXCLUDES(mu_);
  // -1 disabled, 0 failing, 1 up.
  int state(Stage s) const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::array<bool, kStages> enabled_ GUARDED_BY(mu_) = {};
  std::array<bool, kStages> down_ GUARDED_BY(mu_) = {};
  std::array<std::string, kStages> reason_ GUARDED_BY(mu_);
};

class Metrics {
 public:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void message(Action verdict);
  void bypass(BypassKind kind);
  void virus() { viruses_.fetch_add(1, std::memory_order_relaxed); }
  void stage_time(MetricStage stage, double seconds);
  void stage_error(MetricStage stage, Errc code);
  void connection_opened() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  // The buffer gauge reads this when rendering (e.g. MemoryBudget::used).
  void set_buffer_gauge(std::function<std::size_t()> f) { buffer_gauge_ = std::move(f); }

  // Prometheus text exposition format 0.0.4.
  std::string render() const;

  std::uint64_t messages(Action verdict) const;

  StageHealth health;

 private:
  static constexpr std::size_t kActions = 6;
  static constexpr std::size_t kErrcs = 14;
  struct Histogram {
    std::array<std::atomic<std::uint64_t>, 15> buckets{};  // + Inf
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_us{0};
  };
  std::array<std::atomic<std::uint64_t>, kActions> messages_{};
  std::array<std::atomic<std::uint64_t>, kBypassKinds> bypass_{};
  std::atomic<std::uint64_t> viruses_{0};
  std::array<Histogram, kMetricStages> stages_{};
  std::array<std::array<std::atomic<std::uint64_t>, kErrcs>, kMetricStages> errors_{};
  std::atomic<std::int64_t> connections_{0};
  std::function<std::size_t()> buffer_gauge_;
};

class MetricsServer {
 public:
  explicit MetricsServer(const Metrics* metrics) : metrics_(metrics) {}
  ~MetricsServer() { stop(); }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds `listen` ("127.0.0.1:9466"; port 0 picks one) and starts serving.
  Result<void> start(const Endpoint& listen);
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  void serve();

  const Metrics* metrics_;
  Socket listener_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;
};

}  // namespace strop::milter
