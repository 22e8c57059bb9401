// bench_client: load generator for strop-node's native API (a benchmark, not a test).
//
// Measures, over keep-alive HTTP/1.1 connections (raw sockets, one thread per connection):
//   check        latency percentiles and throughput of /v1/check (each message: body/1 +
//                fuzzy/1 + 3 url/1 = "all signatures of one message"; --exact: body/1 only)
//   report       durable reports per second (/v1/report, signed; acknowledged after commit)
//   mixed        check latency while report connections commit bursts concurrently
//   preload      stores N signatures (reports) so checks run against a large store
//   udp-check    strop-udp/1 check datagrams to --udp-port (the node's --udp-listen), from one
//                thread keeping --inflight N datagrams outstanding (sendmmsg/recvmmsg); each
//                datagram carries --messages messages, full (body/1 + fuzzy/1 + 3 url/1) or
//                --exact (body/1)
//   grow         grows the store through /v1/report from --from to --grow-to signatures
//                while one more connection checks (docs/performance.md "Growth through the
//                API"): messages are synthetic_store.hpp's (8 signatures each, the store
//                benchmarks' mix: body, fuzzy, 3 url, razor-e4, 2 razor-e8) numbered from
//                from/8, 125 a request (1,000 signatures) over --connections keep-alive
//                connections, one request in flight each; the checker alternately checks an
//                acknowledged message (all 8 signatures must match, else a miss) and an
//                unknown one (nothing may match), 200 us apart. Every --report-every
//                signatures it prints that window's report and check latency p50 / p99.9 /
//                max, the node's RSS (--node-pid) and data.mdb's size (--data); it exits 1
//                on any miss, false match or failed report. --checker-fifo runs the checker
//                thread SCHED_FIFO (root), so its latency is not its own wait for a CPU
// With --node-pid it also reads the node's CPU time (/proc/PID/stat) before and after, and
// prints server CPU per checked message.
//
// Usage: bench_client --port P [--host H] --mode check|report|mixed|preload
//          [--identity FILE] [--connections N] [--report-connections N] [--seconds S]
//          [--messages M] [--report-messages M] [--exact] [--hit-ratio R] [--preload N]
//          [--node-pid PID] [--udp-port P] [--inflight N] [--seed S]
//        (--seed: report and preload connection i draws its signatures from seed + i; without
//        it the seeds are fixed, so a second run re-reports the first run's signatures)
//        bench_client --port P --mode grow --identity FILE --grow-to N [--from N]
//          [--report-every M] [--connections N] [--node-pid PID] [--data DIR]
//          [--checker-fifo]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_stats.hpp"
#include "proc_cpu.hpp"
#include "protocol/codec.hpp"
#include "protocol/signing.hpp"
#include "protocol/udp_wire.hpp"
#include "synthetic_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using strop::protocol::Identity;

struct Options {
  std::string host = "127.0.0.1";
  int port = 7420;
  std::string mode = "check";
  std::string identity_file;
  int connections = 2;
  int report_connections = 1;
  double seconds = 10;
  int messages = 1;            // messages per request
  int report_messages = 1000;  // signatures per report request in mixed mode
  bool exact = false;
  bool checker_fifo = false;  // grow: the checker thread SCHED_FIFO
  double hit_ratio = 0.0;     // fraction of checked messages that were reported (preloaded)
  long preload = 0;           // signatures to store first
  int node_pid = 0;
  int udp_port = 0;       // udp-check: the node's strop-udp/1 port
  int inflight = 16;      // udp-check: datagrams outstanding
  long grow_from = 0;     // grow: signatures already stored (by earlier grow runs)
  long grow_to = 0;       // grow: signatures stored at the end
  long report_every = 0;  // grow: signatures per printed window (0: a tenth)
  std::string data_dir;   // grow: the node's data directory (data.mdb's size)
  long seed = -1;         // report/preload: connection i draws from seed + i (-1: fixed defaults)
};

std::string hex(std::mt19937_64& rng, int n) {
  static const char* d = "0123456789abcdef";
  std::string s(static_cast<std::size_t>(n), '0');
  for (auto& c : s) c = d[rng() & 15];
  return s;
}

std::string random_message_sigs(std::mt19937_64& rng, bool exact) {
  std::string s = "\"body/1:" + hex(rng, 32) + "\"";
  if (!exact) {
    s += ",\"fuzzy/1:" + hex(rng, 256) + "\"";
    for (int i = 0; i < 3; ++i) s += ",\"url/1:" + hex(rng, 32) + "\"";
  }
  return s;
}

class Conn {
 public:
  Conn(const std::string& host, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("connect");
      std::exit(69);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_.reserve(1 << 20);
  }
  ~Conn() { ::close(fd_); }

  // Sends one request and reads the response; returns the status (0 on I/O error).
  int exchange(const std::string& req, std::string* body) {
    std::size_t off = 0;
    while (off < req.size()) {
      ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return 0;
      off += static_cast<std::size_t>(n);
    }
    buf_.clear();
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    char tmp[65536];
    for (;;) {
      if (header_end == std::string::npos) {
        header_end = buf_.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          auto p = buf_.find("Content-Length: ");
          if (p == std::string::npos || p > header_end) return 0;
          content_length = std::strtoul(buf_.c_str() + p + 16, nullptr, 10);
        }
      }
      if (header_end != std::string::npos && buf_.size() >= header_end + 4 + content_length) break;
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return 0;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    if (body) body->assign(buf_, header_end + 4, content_length);
    return std::atoi(buf_.c_str() + 9);
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

std::string http_post(const Options& o, const std::string& target, const std::string& body,
                      const strop::protocol::AuthHeaders* auth) {
  std::string r =
      "POST " + target + " HTTP/1.1\r\nHost: " + o.host + "\r\nContent-Type: application/json\r\n";
  if (auth) {
    r += "X-Strop-Reporter: " + auth->reporter + "\r\nX-Strop-Timestamp: " + auth->timestamp +
         "\r\nX-Strop-Nonce: " + auth->nonce + "\r\nX-Strop-Signature: " + auth->signature + "\r\n";
  }
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// POST /v1/report of `body`, signed as `id`.
std::string signed_report(const Options& o, const Identity& id, const std::string& body) {
  auto auth = strop::protocol::sign_request(id.reporter, id.secret, "POST", "/v1/report", body,
                                            unix_now(), strop::protocol::make_nonce());
  return http_post(o, "/v1/report", body, &auth);
}

struct Stats {
  std::mutex mu;
  std::vector<double> latencies_us;
  long requests = 0;
  long messages = 0;
  long signatures = 0;
  long errors = 0;
  void add(const std::vector<double>& l, long req, long msgs, long sigs, long errs) {
    std::lock_guard lock(mu);
    latencies_us.insert(latencies_us.end(), l.begin(), l.end());
    requests += req;
    messages += msgs;
    signatures += sigs;
    errors += errs;
  }
  void print(const char* what, double secs) {
    std::sort(latencies_us.begin(), latencies_us.end());
    auto pct = [&](double p) {
      if (latencies_us.empty()) return 0.0;
      return latencies_us[std::min(
          latencies_us.size() - 1,
          static_cast<std::size_t>(p * static_cast<double>(latencies_us.size())))];
    };
    std::printf("%-8s requests %ld (%.0f/s)  messages %.0f/s  signatures %.0f/s  errors %ld\n",
                what, requests, static_cast<double>(requests) / secs,
                static_cast<double>(messages) / secs, static_cast<double>(signatures) / secs,
                errors);
    std::printf("%-8s latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n", what,
                pct(0.5), pct(0.9), pct(0.99), pct(0.999),
                latencies_us.empty() ? 0.0 : latencies_us.back());
  }
};

// Signatures reported by preload, reused by checks for the hit ratio.
std::vector<std::string> g_known;

void check_worker(const Options& o, Clock::time_point until, Stats* st, unsigned seed) {
  std::mt19937_64 rng(seed);
  Conn c(o.host, o.port);
  std::vector<double> lat;
  lat.reserve(1 << 20);
  long req = 0, msgs = 0, sigs = 0, errs = 0;
  std::string body;
  std::uniform_real_distribution<double> coin(0, 1);
  while (Clock::now() < until) {
    std::string b = "{\"v\":1,\"messages\":[";
    for (int m = 0; m < o.messages; ++m) {
      if (m) b += ',';
      b += "{\"sigs\":[";
      if (!g_known.empty() && coin(rng) < o.hit_ratio) {
        b += "\"" + g_known[rng() % g_known.size()] + "\"";
        if (!o.exact) b += "," + random_message_sigs(rng, false);
      } else {
        b += random_message_sigs(rng, o.exact);
      }
      b += "]}";
      sigs += o.exact ? 1 : 5;
    }
    b += "]}";
    auto req_text = http_post(o, "/v1/check", b, nullptr);
    auto t0 = Clock::now();
    int status = c.exchange(req_text, &body);
    auto t1 = Clock::now();
    if (status != 200) {
      ++errs;
      if (status == 0) break;
      continue;
    }
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    ++req;
    msgs += o.messages;
  }
  st->add(lat, req, msgs, sigs, errs);
}

// GET /healthz: the HTTP keep-alive floor (no decoding, no store).
void health_worker(const Options& o, Clock::time_point until, Stats* st) {
  Conn c(o.host, o.port);
  std::vector<double> lat;
  long req = 0, errs = 0;
  std::string body;
  const std::string text = "GET /healthz HTTP/1.1\r\nHost: " + o.host + "\r\n\r\n";
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    int status = c.exchange(text, &body);
    auto t1 = Clock::now();
    if (status != 200) {
      ++errs;
      if (status == 0) break;
      continue;
    }
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    ++req;
  }
  st->add(lat, req, req, 0, errs);
}

void report_worker(const Options& o, const Identity& id, Clock::time_point until, long max_sigs,
                   Stats* st, unsigned seed, std::vector<std::string>* keep) {
  std::mt19937_64 rng(seed);
  Conn c(o.host, o.port);
  std::vector<double> lat;
  long req = 0, msgs = 0, sigs = 0, errs = 0;
  std::string body;
  const int per_request = std::max(o.messages, 1);
  while (Clock::now() < until && (max_sigs <= 0 || sigs < max_sigs)) {
    std::string b = "{\"v\":1,\"messages\":[";
    std::vector<std::string> batch;
    for (int m = 0; m < per_request; ++m) {
      if (m) b += ',';
      std::string s = "body/1:" + hex(rng, 32);
      b += "{\"sigs\":[\"" + s + "\"]}";
      batch.push_back(std::move(s));
    }
    b += "]}";
    auto req_text = signed_report(o, id, b);
    auto t0 = Clock::now();
    int status = c.exchange(req_text, &body);
    auto t1 = Clock::now();
    if (status != 200) {
      ++errs;
      if (errs < 5) std::fprintf(stderr, "report: HTTP %d %s\n", status, body.c_str());
      if (status == 0) break;
      continue;
    }
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    ++req;
    msgs += per_request;
    sigs += per_request;
    if (keep) keep->insert(keep->end(), batch.begin(), batch.end());
  }
  st->add(lat, req, msgs, sigs, errs);
}

// strop-udp/1 checks: one thread, `o.inflight` datagrams outstanding. Requests come from a
// pre-encoded pool (the request id is patched in), so the client spends its CPU on syscalls.
void udp_check_worker(const Options& o, Clock::time_point until, Stats* st) {
  namespace udp = strop::protocol::udp;
  std::mt19937_64 rng(4242);
  std::uniform_real_distribution<double> coin(0, 1);
  auto parse = [](const std::string& text) { return *strop::sigs::parse_signature(text); };
  std::vector<std::string> pool;
  long sigs_per_request = 0;
  for (int i = 0; i < 1024; ++i) {
    udp::CheckRequest req;
    sigs_per_request = 0;
    for (int m = 0; m < o.messages; ++m) {
      std::vector<strop::sigs::Signature> msg;
      if (!g_known.empty() && coin(rng) < o.hit_ratio) {
        msg.push_back(parse(g_known[rng() % g_known.size()]));
      } else {
        msg.push_back(parse("body/1:" + hex(rng, 32)));
      }
      if (!o.exact) {
        msg.push_back(parse("fuzzy/1:" + hex(rng, 256)));
        for (int k = 0; k < 3; ++k) msg.push_back(parse("url/1:" + hex(rng, 32)));
      }
      sigs_per_request += static_cast<long>(msg.size());
      req.messages.push_back(std::move(msg));
    }
    pool.push_back(*udp::encode_request(req));
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.udp_port));
  ::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(69);
  }
  int buf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  constexpr int kMax = 64;
  constexpr std::uint32_t kRing = 1u << 16;
  std::vector<Clock::time_point> sent_at(kRing);
  std::vector<double> lat;
  lat.reserve(1 << 22);
  long req = 0, msgs = 0, sigs = 0, errs = 0;
  std::uint32_t next_id = 0;
  long outstanding = 0;
  std::vector<std::string> out(kMax);
  auto send_n = [&](int n) {
    while (n > 0) {
      int k = std::min(n, kMax);
      std::array<mmsghdr, kMax> mh{};
      std::array<iovec, kMax> iov{};
      auto now = Clock::now();
      for (int i = 0; i < k; ++i) {
        std::uint32_t id = next_id++;
        out[static_cast<std::size_t>(i)] = pool[id % pool.size()];
        std::string& d = out[static_cast<std::size_t>(i)];
        d[4] = static_cast<char>(id >> 24);
        d[5] = static_cast<char>(id >> 16);
        d[6] = static_cast<char>(id >> 8);
        d[7] = static_cast<char>(id);
        sent_at[id % kRing] = now;
        iov[static_cast<std::size_t>(i)] = {d.data(), d.size()};
        mh[static_cast<std::size_t>(i)].msg_hdr.msg_iov = &iov[static_cast<std::size_t>(i)];
        mh[static_cast<std::size_t>(i)].msg_hdr.msg_iovlen = 1;
      }
      int s = ::sendmmsg(fd, mh.data(), static_cast<unsigned>(k), 0);
      if (s <= 0) {
        ++errs;
        return;
      }
      outstanding += s;
      n -= s;
    }
  };
  send_n(o.inflight);
  std::array<char, 2048> rbuf[kMax];
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) {
      // Lost datagrams (socket buffers overflowed): count them and refill the window.
      errs += outstanding;
      outstanding = 0;
      send_n(o.inflight);
      continue;
    }
    std::array<mmsghdr, kMax> mh{};
    std::array<iovec, kMax> iov{};
    for (int i = 0; i < kMax; ++i) {
      iov[static_cast<std::size_t>(i)] = {rbuf[i].data(), rbuf[i].size()};
      mh[static_cast<std::size_t>(i)].msg_hdr.msg_iov = &iov[static_cast<std::size_t>(i)];
      mh[static_cast<std::size_t>(i)].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, mh.data(), kMax, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      std::string_view d(rbuf[i].data(), mh[static_cast<std::size_t>(i)].msg_len);
      auto r = udp::decode_reply(d);
      if (!r || r->status != udp::Status::kOk ||
          r->results.size() != static_cast<std::size_t>(o.messages)) {
        ++errs;
        continue;
      }
      lat.push_back(
          std::chrono::duration<double, std::micro>(now - sent_at[r->request_id % kRing]).count());
      ++req;
      msgs += o.messages;
      sigs += sigs_per_request;
    }
    outstanding = std::max(0L, outstanding - n);
    send_n(n);
  }
  ::close(fd);
  st->add(lat, req, msgs, sigs, errs);
}

// ---- grow

// JSON array elements of a synthetic message's signatures: "engine:value",...
std::string message_json(std::uint64_t m) {
  std::string s = "{\"sigs\":[";
  bool first = true;
  for (const auto& sig : strop::bench::message(m)) {
    if (!first) s += ',';
    first = false;
    s += '"' + sig.text() + '"';
  }
  return s + "]}";
}

// Number of matches in a /v1/check response of one message.
int count_matches(const std::string& body) {
  int n = 0;
  for (std::size_t p = body.find("\"engine\""); p != std::string::npos;
       p = body.find("\"engine\"", p + 1)) {
    ++n;
  }
  return n;
}

int grow(const Options& o, const Identity& id) {
  using strop::bench::kSigsPerMessage;
  constexpr std::uint64_t kPerRequest = 1000 / kSigsPerMessage;  // messages a request
  const std::uint64_t first = static_cast<std::uint64_t>(o.grow_from) / kSigsPerMessage;
  const std::uint64_t last = static_cast<std::uint64_t>(o.grow_to) / kSigsPerMessage;
  if (last <= first) {
    std::fprintf(stderr, "bench_client: --grow-to must exceed --from\n");
    return 64;
  }
  const std::uint64_t every = std::max<std::uint64_t>(
      kSigsPerMessage, o.report_every > 0 ? static_cast<std::uint64_t>(o.report_every)
                                          : (last - first) * kSigsPerMessage / 10);
  const std::uint64_t requests = (last - first + kPerRequest - 1) / kPerRequest;
  std::atomic<std::uint64_t> next{0};  // the next request to send
  std::mutex mu;
  std::condition_variable cv;
  std::vector<char> done(requests + 1, 0);
  std::uint64_t done_prefix = 0;            // requests [0, done_prefix) acknowledged
  std::atomic<std::uint64_t> acked{first};  // messages [0, acked) are stored
  std::atomic<long> report_errors{0}, misses{0}, false_matches{0}, check_errors{0};
  std::atomic<bool> stop{false};
  using strop::bench::pct;
  strop::bench::Window reports, checks;

  auto reporter = [&] {
    pthread_setname_np(pthread_self(), "bench-reporter");  // node_growth_bench.sh PIN_CPUS=1
    Conn c(o.host, o.port);
    std::string body;
    for (std::uint64_t r; (r = next.fetch_add(1)) < requests;) {
      const std::uint64_t m0 = first + r * kPerRequest, m1 = std::min(last, m0 + kPerRequest);
      std::string b = "{\"v\":1,\"messages\":[";
      for (std::uint64_t m = m0; m < m1; ++m) {
        if (m != m0) b += ',';
        b += message_json(m);
      }
      b += "]}";
      auto text = signed_report(o, id, b);
      auto t0 = Clock::now();
      int status = c.exchange(text, &body);
      reports.add(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (status != 200) {
        if (report_errors++ < 5) std::fprintf(stderr, "report: HTTP %d %s\n", status, body.c_str());
        {
          std::lock_guard lk(mu);  // the main thread stops waiting for this window
          cv.notify_all();
        }
        if (status == 0) return;
        continue;
      }
      std::lock_guard lk(mu);
      done[r] = 1;
      while (done[done_prefix] != 0) ++done_prefix;
      acked.store(std::min(last, first + done_prefix * kPerRequest));
      cv.notify_all();
    }
  };

  std::thread checker([&] {
    pthread_setname_np(pthread_self(), "bench-checker");
    if (o.checker_fifo) {
      sched_param sp{};
      sp.sched_priority = 1;
      if (int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); e != 0) {
        std::fprintf(stderr, "--checker-fifo: %s\n", std::strerror(e));
        std::exit(1);
      }
    }
    Conn c(o.host, o.port);
    std::mt19937_64 rng(3);
    std::uint64_t unknown = (std::uint64_t{1} << 40) + first;
    std::string body;
    bool stored = true;
    while (!stop) {
      const std::uint64_t have = acked.load();
      if (have == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      const std::uint64_t m = stored ? rng() % have : unknown++;
      auto text =
          http_post(o, "/v1/check", "{\"v\":1,\"messages\":[" + message_json(m) + "]}", nullptr);
      auto t0 = Clock::now();
      int status = c.exchange(text, &body);
      checks.add(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (status != 200) {
        ++check_errors;
        if (status == 0) return;
      } else if (int n = count_matches(body); stored && n != static_cast<int>(kSigsPerMessage)) {
        if (misses++ < 5)
          std::fprintf(stderr, "check of stored message %llu: %d of %d matched\n",
                       static_cast<unsigned long long>(m), n, static_cast<int>(kSigsPerMessage));
      } else if (!stored && n != 0) {
        ++false_matches;
      }
      stored = !stored;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });

  const std::string data_mdb = o.data_dir.empty() ? "" : o.data_dir + "/data.mdb";
  std::printf("%11s %7s %9s | %-26s | %-26s | %15s | %9s\n", "signatures", "s", "sigs/s",
              "report ms p50/p99.9/max", "check ms p50/p99.9/max", "node anon/file MiB",
              "data MiB");
  const auto t_start = Clock::now();
  auto t_window = t_start;
  std::uint64_t window_start = first * kSigsPerMessage;
  auto print_window = [&](std::uint64_t sigs_now) {
    auto r = reports.take();
    auto k = checks.take();
    const strop::bench::Rss rss =
        o.node_pid > 0 ? strop::bench::rss_of(std::to_string(o.node_pid)) : strop::bench::Rss{};
    const auto t = Clock::now();
    std::printf(
        "%11llu %7.1f %9.0f | %7.2f %8.2f %9.2f | %7.3f %8.3f %9.3f | %7.0f/%7.0f | %9.0f\n",
        static_cast<unsigned long long>(sigs_now),
        std::chrono::duration<double>(t - t_start).count(),
        static_cast<double>(sigs_now - window_start) /
            std::chrono::duration<double>(t - t_window).count(),
        pct(r, 0.5) / 1e3, pct(r, 0.999) / 1e3, r.empty() ? 0 : r.back() / 1e3, pct(k, 0.5) / 1e3,
        pct(k, 0.999) / 1e3, k.empty() ? 0 : k.back() / 1e3, rss.anon, rss.file,
        strop::bench::file_mib(data_mdb));
    std::fflush(stdout);
    t_window = t;
    window_start = sigs_now;
  };
  std::vector<std::thread> ts;
  for (int i = 0; i < std::max(1, o.connections); ++i) ts.emplace_back(reporter);
  for (std::uint64_t boundary = first * kSigsPerMessage + every;; boundary += every) {
    const std::uint64_t target = std::min(boundary, last * kSigsPerMessage);
    {
      std::unique_lock lk(mu);
      cv.wait(lk,
              [&] { return acked.load() * kSigsPerMessage >= target || report_errors.load() > 0; });
    }
    if (report_errors.load() > 0) break;
    print_window(target);
    if (target == last * kSigsPerMessage) break;
  }
  for (auto& t : ts) t.join();
  stop = true;
  checker.join();
  std::printf(
      "grown from %ld to %ld signatures in %.1f s; report errors %ld, check misses %ld, "
      "false matches %ld, check errors %ld\n",
      o.grow_from, o.grow_to, std::chrono::duration<double>(Clock::now() - t_start).count(),
      report_errors.load(), misses.load(), false_matches.load(), check_errors.load());
  return report_errors == 0 && misses == 0 && false_matches == 0 && check_errors == 0 ? 0 : 1;
}

Identity load_identity(const std::string& path) {
  std::ifstream f(path);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto id = strop::protocol::decode_identity(s);
  if (!id) {
    std::fprintf(stderr, "bench_client: %s: %s\n", path.c_str(), id.error().to_string().c_str());
    std::exit(66);
  }
  return *id;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"strop-node load generator"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port)->required();
  app.add_option("--mode", o.mode)
      ->check(
          CLI::IsMember({"check", "report", "mixed", "preload", "health", "udp-check", "grow"}));
  app.add_option("--identity", o.identity_file, "Identity file (report, mixed, preload)");
  app.add_option("--connections", o.connections,
                 "Check connections (check, mixed) or report connections");
  app.add_option("--report-connections", o.report_connections, "Report connections in mixed mode");
  app.add_option("--report-messages", o.report_messages,
                 "Signatures per report request in mixed mode");
  app.add_option("--seconds", o.seconds);
  app.add_option("--messages", o.messages, "Messages per request");
  app.add_flag("--exact", o.exact, "Checks carry one body/1 signature per message");
  app.add_option("--hit-ratio", o.hit_ratio,
                 "Fraction of checked messages with a stored signature");
  app.add_option("--preload", o.preload, "Signatures to store before measuring");
  app.add_option("--node-pid", o.node_pid, "strop-node's pid, for server CPU per message");
  app.add_option("--udp-port", o.udp_port, "udp-check: the node's strop-udp/1 port (--udp-listen)");
  app.add_option("--inflight", o.inflight, "udp-check: datagrams outstanding")
      ->check(CLI::Range(1, 4096));
  app.add_option("--from", o.grow_from, "grow: signatures already stored");
  app.add_option("--grow-to", o.grow_to, "grow: signatures stored at the end");
  app.add_option("--report-every", o.report_every, "grow: signatures per printed window");
  app.add_option("--seed", o.seed,
                 "report, preload: connection i reports signatures drawn from seed + i (default: "
                 "fixed seeds, so a repeated run re-reports the same signatures)");
  app.add_option("--data", o.data_dir, "grow: the node's data directory (data.mdb's size)");
  app.add_flag("--checker-fifo", o.checker_fifo, "grow: run the checker thread SCHED_FIFO (root)");
  CLI11_PARSE(app, argc, argv);

  Identity id;
  if (!o.identity_file.empty()) id = load_identity(o.identity_file);
  auto need_identity = [&] {
    if (o.identity_file.empty()) {
      std::fprintf(stderr, "bench_client: --identity is required for this mode\n");
      std::exit(64);
    }
  };

  if (o.mode == "grow") {
    need_identity();
    return grow(o, id);
  }
  if (o.preload > 0 || o.mode == "preload") {
    need_identity();
    Options p = o;
    p.messages = 1000;
    Stats st;
    auto t0 = Clock::now();
    std::vector<std::vector<std::string>> keep(static_cast<std::size_t>(o.connections));
    std::vector<std::thread> ts;
    long per = o.preload / o.connections + 1;
    for (int i = 0; i < o.connections; ++i) {
      ts.emplace_back(
          report_worker, std::cref(p), std::cref(id), Clock::now() + std::chrono::hours(1), per,
          &st, (o.seed >= 0 ? static_cast<unsigned>(o.seed) : 1000u) + static_cast<unsigned>(i),
          &keep[static_cast<std::size_t>(i)]);
    }
    for (auto& t : ts) t.join();
    for (auto& k : keep) {
      for (std::size_t j = 0; j < k.size() && g_known.size() < 100000; ++j) g_known.push_back(k[j]);
    }
    st.print("preload", std::chrono::duration<double>(Clock::now() - t0).count());
    if (o.mode == "preload") return 0;
  }

  double cpu0 = o.node_pid ? strop::bench::process_cpu_seconds(o.node_pid) : 0;
  auto start = Clock::now();
  auto until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  Stats checks, reports;
  std::vector<std::thread> ts;
  if (o.mode == "check" || o.mode == "mixed") {
    for (int i = 0; i < o.connections; ++i)
      ts.emplace_back(check_worker, std::cref(o), until, &checks, 7u + static_cast<unsigned>(i));
  }
  if (o.mode == "health") {
    for (int i = 0; i < o.connections; ++i)
      ts.emplace_back(health_worker, std::cref(o), until, &checks);
  }
  if (o.mode == "udp-check") {
    if (o.udp_port <= 0) {
      std::fprintf(stderr, "bench_client: --udp-port is required for udp-check\n");
      return 64;
    }
    ts.emplace_back(udp_check_worker, std::cref(o), until, &checks);
  }
  if (o.mode == "report" || o.mode == "mixed") {
    need_identity();
    int n = o.mode == "report" ? o.connections : o.report_connections;
    static Options ro;
    ro = o;
    if (o.mode == "mixed") ro.messages = o.report_messages;
    for (int i = 0; i < n; ++i) {
      ts.emplace_back(
          report_worker, std::cref(ro), std::cref(id), until, 0, &reports,
          (o.seed >= 0 ? static_cast<unsigned>(o.seed) : 99u) + static_cast<unsigned>(i), nullptr);
    }
  }
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu1 = o.node_pid ? strop::bench::process_cpu_seconds(o.node_pid) : 0;
  if (o.mode == "check" || o.mode == "mixed") checks.print("check", secs);
  if (o.mode == "health") checks.print("healthz", secs);
  if (o.mode == "udp-check") checks.print("udpcheck", secs);
  if (o.mode == "report" || o.mode == "mixed") reports.print("report", secs);
  if (o.node_pid) {
    double cpu = cpu1 - cpu0;
    std::printf("server   cpu %.2f s over %.2f s wall (%.0f%% of one core)\n", cpu, secs,
                100 * cpu / secs);
    if (checks.messages > 0 && (o.mode == "check" || o.mode == "health" || o.mode == "udp-check")) {
      std::printf("server   cpu per check request %.1f us, per message %.1f us\n",
                  1e6 * cpu / static_cast<double>(checks.requests),
                  1e6 * cpu / static_cast<double>(checks.messages));
    }
    if (reports.signatures > 0 && o.mode == "report") {
      std::printf("server   cpu per reported signature %.1f us\n",
                  1e6 * cpu / static_cast<double>(reports.signatures));
    }
  }
  return 0;
}
