// metrics.hpp: the node's metrics over atomics, rendered in the Prometheus text exposition
// format (version 0.0.4) at GET /metrics: the request, connection and store series, the
// writer's commit latency histogram, strop_build_info{version} and the process_* series of
// the Prometheus conventions (CPU, resident memory, open descriptors, start time; read from
// /proc at scrape time).
//
// Counter, Gauge and Histogram are lock-free (relaxed atomics): any thread may update them
// at any time; render() reads a consistent-enough snapshot (each value is read once; a
// histogram's buckets may be a few events apart from its count, as with every Prometheus
// client). NodeMetrics owns the node's fixed set of series; it must outlive every thread
// that records into it (the Server owns it).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/errors.hpp"
#include "storage/store.hpp"

namespace strop::node {

class Counter {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// A latency histogram with fixed bucket bounds (seconds): 25us .. 5s, +Inf.
class Histogram {
 public:
  static constexpr std::array<double, 17> kBounds = {
      0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0};

  void observe(std::chrono::nanoseconds d);
  // Appends the _bucket/_sum/_count lines of this histogram with `labels` (e.g. op="check").
  void render(std::string* out, std::string_view name, std::string_view labels) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t bucket_count(std::size_t i) const {
    return buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // non-cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// The operations a request is counted under.
enum class Op : std::uint8_t {
  kCheck = 0,
  kReport,
  kRevoke,
  kRegister,
  kState,
  kHealth,
  kMetrics,
  kOther,     // unknown paths, unparsable requests
  kUdpCheck,  // strop-udp/1 check datagrams (udp_listener.hpp)
  kPeerFeed,  // GET /v1/peer/feed: a federation peer pulling this site's feed
};
inline constexpr std::size_t kOpCount = 10;
std::string_view op_name(Op op);

// Result of a request: 0 = "ok", otherwise the ApiErrc value (label = its stable name).
inline constexpr std::size_t kResultCount = 19;
inline std::size_t result_index(protocol::ApiErrc e) { return static_cast<std::size_t>(e); }

class NodeMetrics {
 public:
  // Counts one finished request and its latency (request fully read -> response ready).
  void record(Op op, std::size_t result, std::chrono::nanoseconds latency);
  // One group commit of the store's writer (begin -> durable commit), for
  // strop_writer_commit_duration_seconds. Hook for the writer's per-commit callback.
  void observe_commit(std::chrono::nanoseconds latency) { commit_latency_.observe(latency); }

  Counter connections_accepted;
  Counter connections_rejected;   // over max_connections
  Counter connections_timed_out;  // idle/read/write timeouts
  Counter bad_requests;           // unparsable HTTP (cut off)
  Gauge connections_active;
  Counter messages_checked;
  Counter messages_spam;  // checked messages answered spam (the console's hit rate)
  Counter signatures_checked;
  Counter signatures_reported;
  Counter signatures_revoked;
  Counter rate_limited_ip;
  Counter rate_limited_reporter;
  Counter auth_failures;

  std::uint64_t requests(Op op, std::size_t result) const {
    return requests_[static_cast<std::size_t>(op)][result].value();
  }

  // The latency histogram of `op` (strop_request_duration_seconds{op}) and the writer's
  // commit histogram (strop_writer_commit_duration_seconds), for the console's figures.
  const Histogram& latency(Op op) const { return latency_[static_cast<std::size_t>(op)]; }
  const Histogram& commit_latency() const { return commit_latency_; }

  // The full exposition: the counters above plus the store's gauges from `s`.
  std::string render(const storage::StoreStats& s) const;

 private:
  std::array<std::array<Counter, kResultCount>, kOpCount> requests_;
  std::array<Histogram, kOpCount> latency_;
  Histogram commit_latency_;
};

// The process_* series of the Prometheus client conventions for this process, read from
// /proc: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds. A value /proc does not give is left out.
void render_process_metrics(std::string* out);

}  // namespace strop::node
