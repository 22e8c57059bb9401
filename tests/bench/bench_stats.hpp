// bench_stats.hpp: the figures the growth benchmarks (store_growth_bench, node_bench_client
// --mode grow) take alike: windows of latencies with their percentiles, a process's resident
// memory and a file's size on disk. Benchmark code only. Thread-safety: Window is safe to
// share between threads; the functions read /proc and the file system.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace strop::bench {

// Latencies of one window, microseconds: added by any thread, taken (sorted) at the window's
// end.
class Window {
 public:
  void add(double us) {
    std::lock_guard lk(mu_);
    v_.push_back(us);
  }
  std::vector<double> take() {
    std::vector<double> out;
    {
      std::lock_guard lk(mu_);
      out.swap(v_);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<double> v_;
};

// The p-quantile (0..1) of sorted values; 0 when there are none.
inline double pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
}

// RssAnon (the heap: an index, not LMDB's file pages), RssFile (mapped file pages resident:
// LMDB's) and VmHWM (peak RSS, file pages included) of a process ("self" or a pid), MiB.
struct Rss {
  double anon = 0, file = 0, hwm = 0;
};
inline Rss rss_of(const std::string& pid = "self") {
  std::ifstream f("/proc/" + pid + "/status");
  std::string line;
  Rss r;
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) == 0) r.anon = std::stod(line.substr(8)) / 1024.0;
    if (line.rfind("RssFile:", 0) == 0) r.file = std::stod(line.substr(8)) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) r.hwm = std::stod(line.substr(6)) / 1024.0;
  }
  return r;
}

// Bytes a file occupies on disk (allocated blocks), MiB; 0 when it is missing.
inline double file_mib(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<double>(st.st_blocks) * 512.0 / 1048576.0;
}

}  // namespace strop::bench
