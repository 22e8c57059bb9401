// metrics.cpp: the Prometheus text exposition of NodeMetrics and the process series.
#include "node/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "strop/version.hpp"

namespace strop::node {

namespace {

void append_double(std::string* out, double v) {
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void append_uint(std::string* out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string* out, std::string_view name, std::string_view labels, double v) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->push_back(' ');
  append_double(out, v);
  out->push_back('\n');
}

void sample_u(std::string* out, std::string_view name, std::string_view labels, std::uint64_t v) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->push_back(' ');
  append_uint(out, v);
  out->push_back('\n');
}

void simple(std::string* out, std::string_view name, std::string_view type, std::string_view help,
            double v) {
  header(out, name, type, help);
  sample(out, name, "", v);
}

// One gauge or counter without labels, for simple_rows.
struct Row {
  std::string_view name;
  std::string_view type;
  std::string_view help;
  double value;
};

void simple_rows(std::string* out, std::initializer_list<Row> rows) {
  for (const auto& r : rows) simple(out, r.name, r.type, r.help, r.value);
}

}  // namespace

void Histogram::observe(std::chrono::nanoseconds d) {
  double s = static_cast<double>(d.count()) * 1e-9;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0),
                    std::memory_order_relaxed);
}

void Histogram::render(std::string* out, std::string_view name, std::string_view labels) const {
  std::string bucket_name = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string l(labels);
    if (!l.empty()) l += ',';
    l += "le=\"";
    if (i < kBounds.size()) {
      char buf[40];
      auto r = std::to_chars(buf, buf + sizeof buf, kBounds[i], std::chars_format::fixed);
      l.append(buf, r.ptr);
    } else {
      l += "+Inf";
    }
    l += '"';
    sample_u(out, bucket_name, l, cumulative);
  }
  sample(out, std::string(name) + "_sum", labels,
         static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9);
  sample_u(out, std::string(name) + "_count", labels, count_.load(std::memory_order_relaxed));
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kCheck: return "check";
    case Op::kReport: return "report";
    case Op::kRevoke: return "revoke";
    case Op::kRegister: return "register";
    case Op::kState: return "state";
    case Op::kHealth: return "healthz";
    case Op::kMetrics: return "metrics";
    case Op::kOther: return "other";
    case Op::kUdpCheck: return "udp_check";
    case Op::kPeerFeed: return "peer_feed";
  }
  return "other";
}

void NodeMetrics::record(Op op, std::size_t result, std::chrono::nanoseconds latency) {
  auto o = static_cast<std::size_t>(op);
  if (o >= kOpCount) o = static_cast<std::size_t>(Op::kOther);
  if (result >= kResultCount) result = result_index(protocol::ApiErrc::kInternal);
  requests_[o][result].add();
  latency_[o].observe(latency);
}

namespace {

// Fields 14 (utime), 15 (stime), 22 (starttime, clock ticks after boot) and 23 (vsize) of
// /proc/self/stat; the command name (field 2) may hold spaces, so fields count from its ')'.
struct ProcStat {
  double cpu_seconds = 0;
  double start_ticks = 0;
  double vsize = 0;
};

bool read_proc_stat(ProcStat* p) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  // After ')': field 3 is state; utime is field 14, i.e. the 12th token here.
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::strtod(f.c_str(), nullptr);
    if (i == 15) stime = std::strtod(f.c_str(), nullptr);
    if (i == 22) p->start_ticks = std::strtod(f.c_str(), nullptr);
    if (i == 23) {
      p->vsize = std::strtod(f.c_str(), nullptr);
      break;
    }
  }
  double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  if (hz <= 0) return false;
  p->cpu_seconds = (utime + stime) / hz;
  p->start_ticks /= hz;  // seconds after boot
  return true;
}

// btime of /proc/stat: boot time in Unix seconds.
double boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  double v = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  double size = 0, resident = 0;
  if (!(in >> size >> resident)) return -1;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  double n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') n += 1;
  }
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

}  // namespace

void render_process_metrics(std::string* out) {
  ProcStat p;
  bool have_stat = read_proc_stat(&p);
  if (have_stat) {
    simple(out, "process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.", p.cpu_seconds);
  }
  if (double rss = resident_bytes(); rss >= 0) {
    simple(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
  }
  if (have_stat) {
    simple(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.vsize);
  }
  if (double fds = open_fds(); fds >= 0) {
    simple(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    simple(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
           static_cast<double>(rl.rlim_cur));
  }
  if (double boot = boot_time(); have_stat && boot > 0) {
    simple(out, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.", boot + p.start_ticks);
  }
}

std::string NodeMetrics::render(const storage::StoreStats& s) const {
  std::string out;
  out.reserve(16384);

  header(&out, "strop_build_info", "gauge", "The running Strop version (always 1).");
  {
    std::string labels = "version=\"";
    labels += strop::kVersion;
    labels += '"';
    sample_u(&out, "strop_build_info", labels, 1);
  }
  render_process_metrics(&out);

  header(&out, "strop_requests_total", "counter",
         "Requests handled, by operation and result code.");
  for (std::size_t o = 0; o < kOpCount; ++o) {
    for (std::size_t r = 0; r < kResultCount; ++r) {
      std::uint64_t v = requests_[o][r].value();
      // Always show the ok series; show error series once they happened (keeps it short).
      if (v == 0 && r != 0) continue;
      std::string labels = "op=\"";
      labels += op_name(static_cast<Op>(o));
      labels += "\",result=\"";
      labels += r == 0 ? std::string_view("ok")
                       : protocol::api_errc_name(static_cast<protocol::ApiErrc>(r));
      labels += '"';
      sample_u(&out, "strop_requests_total", labels, v);
    }
  }

  header(&out, "strop_request_duration_seconds", "histogram",
         "Server time per request, from the request fully read to the response ready.");
  for (std::size_t o = 0; o < kOpCount; ++o) {
    if (latency_[o].count() == 0 && o != static_cast<std::size_t>(Op::kCheck)) continue;
    std::string labels = "op=\"";
    labels += op_name(static_cast<Op>(o));
    labels += '"';
    latency_[o].render(&out, "strop_request_duration_seconds", labels);
  }

  simple(&out, "strop_connections_active", "gauge", "Open client connections.",
         static_cast<double>(connections_active.value()));
  simple(&out, "strop_connections_accepted_total", "counter", "Connections accepted.",
         static_cast<double>(connections_accepted.value()));
  simple(&out, "strop_connections_rejected_total", "counter",
         "Connections refused over the connection limit.",
         static_cast<double>(connections_rejected.value()));
  simple(&out, "strop_connections_timed_out_total", "counter",
         "Connections closed by an idle/read/write timeout.",
         static_cast<double>(connections_timed_out.value()));
  simple(&out, "strop_bad_requests_total", "counter",
         "Unparsable HTTP requests (connection closed).",
         static_cast<double>(bad_requests.value()));
  simple(&out, "strop_messages_checked_total", "counter", "Messages looked up by check requests.",
         static_cast<double>(messages_checked.value()));
  simple(&out, "strop_messages_spam_total", "counter",
         "Checked messages answered spam (native API and strop-udp/1).",
         static_cast<double>(messages_spam.value()));
  simple(&out, "strop_signatures_checked_total", "counter",
         "Signatures looked up by check requests.",
         static_cast<double>(signatures_checked.value()));
  simple(&out, "strop_signatures_reported_total", "counter", "Signatures in acknowledged reports.",
         static_cast<double>(signatures_reported.value()));
  simple(&out, "strop_signatures_revoked_total", "counter", "Signatures in acknowledged revokes.",
         static_cast<double>(signatures_revoked.value()));
  header(&out, "strop_rate_limited_total", "counter", "Requests refused with 429, by limiter.");
  sample_u(&out, "strop_rate_limited_total", "limiter=\"ip\"", rate_limited_ip.value());
  sample_u(&out, "strop_rate_limited_total", "limiter=\"reporter\"", rate_limited_reporter.value());
  simple(&out, "strop_auth_failures_total", "counter",
         "Signed requests refused (bad, stale, replayed, unknown).",
         static_cast<double>(auth_failures.value()));

  // Store gauges (sampled at scrape time).
  simple(&out, "strop_stored_signatures", "gauge", "Signatures stored.",
         static_cast<double>(s.signatures));
  header(&out, "strop_stored_signatures_by_engine", "gauge", "Signatures stored, by engine.");
  for (auto e : sigs::kAllEngines) {
    std::string labels = "engine=\"";
    labels += sigs::engine_name(e);
    labels += '"';
    sample_u(&out, "strop_stored_signatures_by_engine", labels,
             s.signatures_by_engine[static_cast<std::size_t>(e)]);
  }
  // Sampled store series, one row each: name, type, help, value.
  simple_rows(
      &out,
      {
          {"strop_votes", "gauge", "Vote records (reports and revokes) stored.",
           static_cast<double>(s.votes)},
          {"strop_reporters", "gauge", "Registered reporters.", static_cast<double>(s.reporters)},
          {"strop_writer_queue_depth", "gauge", "Signatures queued for the writer.",
           static_cast<double>(s.writer_queue_depth)},
          {"strop_writer_commits_total", "counter", "Write transactions committed.",
           static_cast<double>(s.commits)},
          {"strop_writer_committed_ops_total", "counter", "Operations (signatures) committed.",
           static_cast<double>(s.committed_ops)},
          {"strop_writer_commit_latency_seconds", "gauge", "Latency of the last group commit.",
           static_cast<double>(s.last_commit_latency.count()) * 1e-6},
          {"strop_writer_commit_latency_max_seconds", "gauge",
           "Largest group commit latency since start.",
           static_cast<double>(s.max_commit_latency.count()) * 1e-6},
          {"strop_writer_errors_total", "counter", "Failed write batches.",
           static_cast<double>(s.write_errors)},
          {"strop_expired_signatures_total", "counter", "Signatures expired since start.",
           static_cast<double>(s.expired)},
          {"strop_store_map_bytes", "gauge", "LMDB map size.", static_cast<double>(s.map_bytes)},
          {"strop_store_used_bytes", "gauge", "LMDB pages in use.",
           static_cast<double>(s.used_bytes)},
          {"strop_store_map_resizes_total", "counter", "LMDB map growths since start.",
           static_cast<double>(s.map_resizes)},
          {"strop_index_entries", "gauge", "In-memory index entries.",
           static_cast<double>(s.index_entries)},
      });
  header(&out, "strop_writer_commit_duration_seconds", "histogram",
         "Group commits of the writer, from the transaction's begin to the durable commit.");
  commit_latency_.render(&out, "strop_writer_commit_duration_seconds", "");
  return out;
}

}  // namespace strop::node
