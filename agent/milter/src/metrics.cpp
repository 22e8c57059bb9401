#include "milter/metrics.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include "strop/version.hpp"

namespace strop::milter {

const char* metric_stage_name(MetricStage s) {
  switch (s) {
    case MetricStage::kParse: return "parse";
    case MetricStage::kClamd: return "clamd";
    case MetricStage::kLookup: return "lookup";
    case MetricStage::kSpamd: return "spamd";
    case MetricStage::kRules: return "rules";
    case MetricStage::kReport: return "report";
    case MetricStage::kTotal: return "total";
  }
  return "?";
}

namespace {
const char* bypass_name(std::size_t i) {
  static constexpr const char* kNames[] = {"network", "authenticated", "sender", "recipient"};
  return kNames[i];
}
}  // namespace

void StageHealth::enable(Stage s) {
  MutexLock lock(&mu_);
  enabled_[static_cast<std::size_t>(s)] = true;
}

void StageHealth::ok(Stage s) {
  MutexLock lock(&mu_);
  down_[static_cast<std::size_t>(s)] = false;
}

void StageHealth::failed(Stage s, std::string reason) {
  MutexLock lock(&mu_);
  down_[static_cast<std::size_t>(s)] = true;
  reason_[static_cast<std::size_t>(s)] = std::move(reason);
}

std::string StageHealth::degraded() const {
  MutexLock lock(&mu_);
  std::string out;
  for (std::size_t i = 0; i < kStages; ++i) {
    if (!enabled_[i] || !down_[i]) continue;
    if (!out.empty()) out += "; ";
    out += fmt::format("{} ({})", stage_name(static_cast<Stage>(i)), reason_[i]);
  }
  return out;
}

int StageHealth::state(Stage s) const {
  MutexLock lock(&mu_);
  auto i = static_cast<std::size_t>(s);
  if (!enabled_[i]) return -1;
  return down_[i] ? 0 : 1;
}

void Metrics::message(Action verdict) {
  messages_[static_cast<std::size_t>(verdict)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t Metrics::messages(Action verdict) const {
  return messages_[static_cast<std::size_t>(verdict)].load(std::memory_order_relaxed);
}

void Metrics::bypass(BypassKind kind) {
  bypass_[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::stage_time(MetricStage stage, double seconds) {
  Histogram& h = stages_[static_cast<std::size_t>(stage)];
  std::size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  h.buckets[i].fetch_add(1, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::stage_error(MetricStage stage, Errc code) {
  auto c = static_cast<std::size_t>(code);
  if (c >= kErrcs) c = static_cast<std::size_t>(Errc::kInternal);
  errors_[static_cast<std::size_t>(stage)][c].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render() const {
  std::string out;
  auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  out += "# HELP strop_milter_build_info The running Strop version (always 1).\n";
  out += "# TYPE strop_milter_build_info gauge\n";
  out += fmt::format("strop_milter_build_info{{version=\"{}\"}} 1\n", strop::kVersion);
  out += "# HELP strop_milter_stage_up Whether an enabled remote stage works (last seen).\n";
  out += "# TYPE strop_milter_stage_up gauge\n";
  for (Stage st : {Stage::kClamd, Stage::kLookup, Stage::kSpamd}) {
    int state = health.state(st);
    if (state < 0) continue;
    out += fmt::format("strop_milter_stage_up{{stage=\"{}\"}} {}\n", stage_name(st), state);
  }
  out += "# HELP strop_milter_messages_total Messages scanned, by verdict.\n";
  out += "# TYPE strop_milter_messages_total counter\n";
  for (std::size_t i = 0; i < kActions; ++i) {
    out += fmt::format("strop_milter_messages_total{{verdict=\"{}\"}} {}\n",
                       action_name(static_cast<Action>(i)), load(messages_[i]));
  }
  out += "# HELP strop_milter_bypass_total Messages not scanned, by bypass reason.\n";
  out += "# TYPE strop_milter_bypass_total counter\n";
  for (std::size_t i = 0; i < kBypassKinds; ++i) {
    out += fmt::format("strop_milter_bypass_total{{reason=\"{}\"}} {}\n", bypass_name(i),
                       load(bypass_[i]));
  }
  out += "# HELP strop_milter_viruses_total Messages in which clamd found a virus.\n";
  out += "# TYPE strop_milter_viruses_total counter\n";
  out += fmt::format("strop_milter_viruses_total {}\n", load(viruses_));
  out += "# HELP strop_milter_stage_seconds Time spent per pipeline stage.\n";
  out += "# TYPE strop_milter_stage_seconds histogram\n";
  for (std::size_t s = 0; s < kMetricStages; ++s) {
    const Histogram& h = stages_[s];
    const char* name = metric_stage_name(static_cast<MetricStage>(s));
    std::uint64_t cum = 0;
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      cum += load(h.buckets[b]);
      out += fmt::format("strop_milter_stage_seconds_bucket{{stage=\"{}\",le=\"{}\"}} {}\n", name,
                         kBuckets[b], cum);
    }
    cum += load(h.buckets[kBuckets.size()]);
    out += fmt::format("strop_milter_stage_seconds_bucket{{stage=\"{}\",le=\"+Inf\"}} {}\n", name,
                       cum);
    out += fmt::format("strop_milter_stage_seconds_sum{{stage=\"{}\"}} {:.6f}\n", name,
                       static_cast<double>(load(h.sum_us)) / 1e6);
    out +=
        fmt::format("strop_milter_stage_seconds_count{{stage=\"{}\"}} {}\n", name, load(h.count));
  }
  out += "# HELP strop_milter_stage_errors_total Stage failures, by stage and error.\n";
  out += "# TYPE strop_milter_stage_errors_total counter\n";
  for (std::size_t s = 0; s < kMetricStages; ++s) {
    for (std::size_t e = 1; e < kErrcs; ++e) {
      std::uint64_t v = load(errors_[s][e]);
      if (v == 0) continue;
      out += fmt::format("strop_milter_stage_errors_total{{stage=\"{}\",error=\"{}\"}} {}\n",
                         metric_stage_name(static_cast<MetricStage>(s)),
                         errc_name(static_cast<Errc>(e)), v);
    }
  }
  out += "# HELP strop_milter_connections_active SMTP connections the milter is serving.\n";
  out += "# TYPE strop_milter_connections_active gauge\n";
  out += fmt::format("strop_milter_connections_active {}\n", load(connections_));
  out += "# HELP strop_milter_buffer_memory_bytes Message bytes buffered in memory.\n";
  out += "# TYPE strop_milter_buffer_memory_bytes gauge\n";
  out += fmt::format("strop_milter_buffer_memory_bytes {}\n", buffer_gauge_ ? buffer_gauge_() : 0);
  return out;
}

Result<void> MetricsServer::start(const Endpoint& listen) {
  auto s = listen_tcp(listen, 16);
  if (!s) return s.error();
  listener_ = std::move(*s);
  port_ = local_port(listener_);
  thread_ = std::thread([this] { serve(); });
  return {};
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  ::shutdown(listener_.fd(), SHUT_RDWR);
  thread_.join();
  listener_.close();
}

void MetricsServer::serve() {
  while (!stopping_) {
    int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EINVAL) return;  // listener shut down
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    Socket conn(fd);
    // Bounded request read: 8 KiB, 2 s.
    Deadline deadline = Deadline::after(std::chrono::milliseconds(2000));
    std::string req;
    char buf[1024];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
      auto n = recv_some(conn, buf, sizeof buf, deadline);
      if (!n || *n == 0) break;
      req.append(buf, *n);
    }
    std::string status = "404 Not Found", body = "not found\n", type = "text/plain; charset=utf-8";
    if (req.starts_with("GET /metrics ") || req.starts_with("GET /metrics?")) {
      status = "200 OK";
      body = metrics_->render();
      type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (req.starts_with("GET /healthz ")) {
      // Alive: 200; the body names the enabled stages that are failing.
      status = "200 OK";
      std::string degraded = metrics_->health.degraded();
      body = degraded.empty() ? "ok\n" : "degraded: " + degraded + "\n";
    }
    std::string resp = fmt::format(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        status, type, body.size(), body);
    (void)send_all(conn, resp, deadline);
  }
}

}  // namespace strop::milter
