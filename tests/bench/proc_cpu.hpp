// proc_cpu.hpp: the CPU time another process has used (user + system, from /proc/PID/stat),
// for the benchmarks that measure the node's CPU per request from outside (node_bench_client,
// agent_check_bench). Benchmark code only; thread-safe (reads a file).
#pragma once

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace strop::bench {

// Seconds of CPU process `pid` has used; 0 when pid <= 0 or the process is gone.
inline double process_cpu_seconds(int pid) {
  if (pid <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto p = s.rfind(')');  // the command name may hold spaces and ')'
  if (p == std::string::npos || p + 2 > s.size()) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace strop::bench
