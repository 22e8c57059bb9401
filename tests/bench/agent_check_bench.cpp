// agent_check_bench: what one check costs the agent (libstrop-agent), measured against the
// raw loopback round trip of the same request (a benchmark, not a test; docs/performance.md
// "Agent HTTP checks").
//
// Against a running node, for the native signatures of the ham messages in --corpus (the
// set strop-milter sends for each message), one at a time, sequentially:
//   raw    POST /v1/check with the same JSON body over one blocking keep-alive socket
//          (TCP_NODELAY; send, then read the Content-Length-framed answer): the floor
//   http   agent::Client::check over an http:// node URL (verdict cache off)
//   udp    agent::Client::check over a udp:// node URL, when --udp-port is given
// Each mode runs --rounds passes over the messages after one warm-up pass and prints the
// median, p90 and p99 wall time per check, and with --node-pid the node's CPU per check.
//
// With --gap-us the client pauses before each check, as a milter does between messages, so
// that the node and the client go idle and every check pays the wake-ups.
//
// Usage: agent_check_bench --port P [--udp-port U] [--corpus DIR] [--rounds N]
//          [--node-pid PID] [--gap-us US]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/client.hpp"
#include "proc_cpu.hpp"
#include "protocol/codec.hpp"
#include "sigs/compute.hpp"

namespace {

namespace agent = strop::agent;
namespace protocol = strop::protocol;
namespace sigs = strop::sigs;
using Clock = std::chrono::steady_clock;

// One blocking keep-alive connection: the raw round trip of a request.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("connect");
      std::exit(69);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConn() { ::close(fd_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool exchange(const std::string& req) {
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return false;
    buf_.clear();
    char tmp[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<std::size_t>(n));
      auto end = buf_.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      auto p = buf_.find("Content-Length: ");
      if (p == std::string::npos || p > end) return false;
      std::size_t len = std::stoul(buf_.substr(p + 16));
      if (buf_.size() >= end + 4 + len) return buf_.compare(9, 3, "200") == 0;
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

struct Figures {
  double p50 = 0, p90 = 0, p99 = 0, cpu_us = 0;
};

Figures run(const char* name, std::size_t n, int rounds, int node_pid, int gap_us,
            const std::function<bool(std::size_t)>& one) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!one(i)) {
      std::fprintf(stderr, "%s: check %zu failed\n", name, i);
      std::exit(1);
    }
  }
  std::vector<double> us;
  us.reserve(n * static_cast<std::size_t>(rounds));
  double cpu0 = strop::bench::process_cpu_seconds(node_pid);
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < n; ++i) {
      if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
      auto t0 = Clock::now();
      if (!one(i)) {
        std::fprintf(stderr, "%s: check %zu failed\n", name, i);
        std::exit(1);
      }
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  }
  double cpu1 = strop::bench::process_cpu_seconds(node_pid);
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
  Figures f{pct(0.5), pct(0.9), pct(0.99), (cpu1 - cpu0) * 1e6 / static_cast<double>(us.size())};
  std::printf("%-5s checks %zu  p50 %.1f us  p90 %.1f us  p99 %.1f us", name, us.size(), f.p50,
              f.p90, f.p99);
  if (node_pid > 0) std::printf("  node CPU %.1f us/check", f.cpu_us);
  std::printf("\n");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agent_check_bench: agent check latency against the raw round trip"};
  int port = 0;
  int udp_port = 0;
  int rounds = 10;
  int node_pid = 0;
  int gap_us = 0;
  std::string corpus = STROP_SHARED_DIR "/corpus/ham";
  app.add_option("--port", port, "The node's HTTP port (127.0.0.1)")->required();
  app.add_option("--udp-port", udp_port, "The node's strop-udp/1 port");
  app.add_option("--corpus", corpus, "Directory of messages");
  app.add_option("--rounds", rounds, "Measured passes over the messages");
  app.add_option("--node-pid", node_pid, "Node process, for its CPU time per check");
  app.add_option("--gap-us", gap_us,
                 "Pause before each check (a milter's checks come between messages, to a "
                 "node and a client that went idle meanwhile)");
  CLI11_PARSE(app, argc, argv);

  sigs::Options so;
  so.engines = sigs::EngineMask::native();
  std::vector<sigs::SignatureSet> sets;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(corpus)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::ifstream f(p, std::ios::binary);
    std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto set = sigs::compute(raw, so);
    if (set && !set->sigs.empty()) sets.push_back(std::move(*set));
    if (sets.size() == 200) break;
  }
  if (sets.empty()) {
    std::fprintf(stderr, "no messages with signatures in %s\n", corpus.c_str());
    return 1;
  }

  std::vector<std::string> raw_requests;
  for (const auto& s : sets) {
    protocol::CheckRequest req;
    req.messages.push_back(protocol::MessageSigs{{}, s.sigs});
    std::string body = protocol::encode(req);
    raw_requests.push_back(
        "POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  std::printf("# %zu messages (native signatures of %s), %d rounds, %d us between checks\n",
              sets.size(), corpus.c_str(), rounds, gap_us);

  RawConn raw(port);
  auto fr = run("raw", sets.size(), rounds, node_pid, gap_us,
                [&](std::size_t i) { return raw.exchange(raw_requests[i]); });

  auto make = [&](const std::string& url) {
    agent::ClientOptions co;
    co.nodes = {url};
    co.cache_ttl = std::chrono::milliseconds(0);
    co.sig_options = so;
    auto c = agent::Client::create(std::move(co));
    if (!c) {
      std::fprintf(stderr, "%s\n", c.error().message.c_str());
      std::exit(1);
    }
    return std::move(*c);
  };
  auto http = make("http://127.0.0.1:" + std::to_string(port));
  auto fh = run("http", sets.size(), rounds, node_pid, gap_us, [&](std::size_t i) {
    return static_cast<bool>(http->check(sets[i], Clock::now() + std::chrono::seconds(5)));
  });
  std::printf("# http/raw median %.2fx; HTTP requests sent %zu\n", fh.p50 / fr.p50,
              http->stats().requests);
  if (udp_port > 0) {
    auto udp = make("udp://127.0.0.1:" + std::to_string(udp_port));
    run("udp", sets.size(), rounds, node_pid, gap_us, [&](std::size_t i) {
      return static_cast<bool>(udp->check(sets[i], Clock::now() + std::chrono::seconds(5)));
    });
  }
  return 0;
}
