// legacy_load: a load generator for the legacy protocols (benchmark tool, not a test).
//
//   legacy_load pyzor --port P [--host H] [--seconds S] [--concurrency C] [--digests FILE]
//       Pyzor "check" requests over UDP, C in flight at once (closed loop: a reply or a 1 s
//       timeout frees a slot), each with its own Thread id; the digests cycle through FILE
//       (one 40-hex digest per line) or random ones. The same tool drives strop-node and
//       pyzord, so the two figures are comparable.
//   legacy_load razor --port P [--host H] [--seconds S] [--concurrency C] [--sigs FILE]
//       Razor2 checks with razor-check's connection pattern: connect, read the greeting,
//       "cn=razor-agents&cv=2.84", one check batch (e4 + e8 of one part), read the reply,
//       "a=q", close; C such conversations in parallel (one thread each). FILE holds
//       "e4 e8" pairs (one per line) or random signatures are used.
//
// Prints requests/s and latency percentiles (p50, p90, p99, max) of completed requests, and
// the number of timeouts/errors. Loopback only; bounded by --seconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  int port = 0;
  double seconds = 10;
  int concurrency = 16;
  std::string file;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string random_text(std::mt19937_64& rng, std::size_t n, const char* alphabet) {
  std::size_t k = std::strlen(alphabet);
  std::string s(n, 'x');
  for (auto& c : s) c = alphabet[rng() % k];
  return s;
}

void report(const char* what, double elapsed, std::vector<double>& lat_us, std::uint64_t errors) {
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    if (lat_us.empty()) return 0.0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(lat_us.size() - 1));
    return lat_us[i];
  };
  std::printf(
      "%s: %zu requests in %.2f s = %.0f req/s; latency us p50 %.0f p90 %.0f p99 %.0f max %.0f; "
      "%llu timeouts/errors\n",
      what, lat_us.size(), elapsed, static_cast<double>(lat_us.size()) / elapsed, pct(0.5),
      pct(0.9), pct(0.99), lat_us.empty() ? 0.0 : lat_us.back(),
      static_cast<unsigned long long>(errors));
}

sockaddr_in address(const Options& o) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "bad --host\n");
    std::exit(2);
  }
  return a;
}

// ---- pyzor ------------------------------------------------------------------------------

int run_pyzor(const Options& o) {
  auto digests = read_lines(o.file);
  std::mt19937_64 rng(42);
  if (digests.empty()) {
    for (int i = 0; i < 1000; ++i) digests.push_back(random_text(rng, 40, "0123456789abcdef"));
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to = address(o);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    std::perror("connect");
    return 2;
  }
  int buf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  // In-flight requests by Thread id (1024..65535).
  std::unordered_map<int, Clock::time_point> inflight;
  int next_thread = 1024;
  std::size_t next_digest = 0;
  std::vector<double> lat;
  lat.reserve(1 << 20);
  std::uint64_t errors = 0;
  // Requests are queued and sent in batches (sendmmsg), replies read in batches (recvmmsg),
  // so the generator spends as little CPU per request as the server it measures.
  constexpr int kBatch = 64;
  std::vector<std::string> outq;
  auto queue_one = [&] {
    int t;
    do {
      t = next_thread++;
      if (next_thread > 65535) next_thread = 1024;
    } while (inflight.count(t));
    const std::string& d = digests[next_digest++ % digests.size()];
    char pkt[256];
    int n = std::snprintf(
        pkt, sizeof pkt,
        "Op: check\nOp-Digest: %s\nThread: %d\nPV: 2.1\nUser: anonymous\nTime: %lld\nSig: x\n\n",
        d.c_str(), t, static_cast<long long>(std::time(nullptr)));
    inflight[t] = Clock::now();
    outq.emplace_back(pkt, static_cast<std::size_t>(n));
  };
  auto flush = [&] {
    std::size_t i = 0;
    while (i < outq.size()) {
      std::array<mmsghdr, kBatch> msgs{};
      std::array<iovec, kBatch> iov{};
      std::size_t n = std::min<std::size_t>(kBatch, outq.size() - i);
      for (std::size_t k = 0; k < n; ++k) {
        iov[k].iov_base = outq[i + k].data();
        iov[k].iov_len = outq[i + k].size();
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      int sent = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
      if (sent <= 0) {
        ++errors;
        break;
      }
      i += static_cast<std::size_t>(sent);
    }
    outq.clear();
  };
  auto start = Clock::now();
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int i = 0; i < o.concurrency; ++i) queue_one();
  flush();
  std::vector<char> rbufs(static_cast<std::size_t>(kBatch) * 2048);
  std::array<mmsghdr, kBatch> rmsgs{};
  std::array<iovec, kBatch> riov{};
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, 50);
    auto now = Clock::now();
    if (pr > 0) {
      for (int k = 0; k < kBatch; ++k) {
        riov[k].iov_base = rbufs.data() + static_cast<std::size_t>(k) * 2048;
        riov[k].iov_len = 2047;
        rmsgs[k].msg_hdr = msghdr{};
        rmsgs[k].msg_hdr.msg_iov = &riov[k];
        rmsgs[k].msg_hdr.msg_iovlen = 1;
      }
      int got = ::recvmmsg(fd, rmsgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      for (int k = 0; k < got; ++k) {
        char* rbuf = static_cast<char*>(riov[k].iov_base);
        rbuf[rmsgs[k].msg_len] = '\0';
        const char* th = std::strstr(rbuf, "\nThread: ");
        const char* code = std::strstr(rbuf, "Code: 200");
        if (th == nullptr) {
          ++errors;
          continue;
        }
        int t = std::atoi(th + 9);
        auto it = inflight.find(t);
        if (it == inflight.end()) continue;  // a late reply to a timed-out request
        if (code == nullptr) ++errors;
        lat.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
        inflight.erase(it);
        queue_one();
      }
    }
    // Expire requests without a reply after 1 s (lost datagrams) and replace them.
    for (auto it = inflight.begin(); it != inflight.end();) {
      if (now - it->second > std::chrono::seconds(1)) {
        ++errors;
        it = inflight.erase(it);
        queue_one();
      } else {
        ++it;
      }
    }
    flush();
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  report("pyzor check", elapsed, lat, errors);
  return 0;
}

// ---- razor ------------------------------------------------------------------------------

bool read_until(int fd, std::string& acc, const char* terminator, Clock::time_point deadline) {
  char b[2048];
  while (acc.find(terminator) == std::string::npos) {
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (ms <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    ssize_t n = ::recv(fd, b, sizeof b, 0);
    if (n <= 0) return false;
    acc.append(b, static_cast<std::size_t>(n));
  }
  return true;
}

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

int run_razor(const Options& o) {
  auto lines = read_lines(o.file);
  std::vector<std::pair<std::string, std::string>> sigs;
  std::mt19937_64 rng(7);
  const char* alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (const auto& l : lines) {
    auto sp = l.find(' ');
    if (sp != std::string::npos) sigs.emplace_back(l.substr(0, sp), l.substr(sp + 1));
  }
  if (sigs.empty()) {
    for (int i = 0; i < 1000; ++i)
      sigs.emplace_back(random_text(rng, 28, alpha), random_text(rng, 12, alpha));
  }
  sockaddr_in to = address(o);
  std::mutex mu;
  std::vector<double> lat;
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::size_t> counter{0};
  auto start = Clock::now();
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) {
    threads.emplace_back([&] {
      std::vector<double> mine;
      while (Clock::now() < end) {
        auto& s = sigs[counter.fetch_add(1) % sigs.size()];
        auto t0 = Clock::now();
        auto deadline = t0 + std::chrono::seconds(5);
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
        std::string acc;
        ok = ok && read_until(fd, acc, "\r\n", deadline);  // greeting
        acc.clear();
        ok = ok && send_all(fd, "cn=razor-agents&cv=2.84\r\n");
        ok = ok && send_all(fd, "-a=c&e=4&ep4=7542-10&s=" + s.first + "\r\na=c&e=8&s=" + s.second +
                                    "\r\n.\r\n");
        ok = ok && read_until(fd, acc, ".\r\n", deadline);
        ok = ok && send_all(fd, "a=q\r\n");
        ::close(fd);
        if (ok) {
          mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        } else {
          errors.fetch_add(1);
        }
      }
      std::lock_guard lock(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  report("razor check conversation", elapsed, lat, errors.load());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: legacy_load pyzor|razor --port P [--host H] [--seconds S] [--concurrency "
                 "C] [--digests|--sigs FILE]\n");
    return 2;
  }
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--port") {
      o.port = std::atoi(v.c_str());
    } else if (k == "--host") {
      o.host = v;
    } else if (k == "--seconds") {
      o.seconds = std::atof(v.c_str());
    } else if (k == "--concurrency") {
      o.concurrency = std::max(1, std::atoi(v.c_str()));
    } else if (k == "--digests" || k == "--sigs") {
      o.file = v;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.port <= 0 || o.seconds <= 0 || o.seconds > 3600) {
    std::fprintf(stderr, "need --port and 0 < --seconds <= 3600\n");
    return 2;
  }
  if (o.mode == "pyzor") return run_pyzor(o);
  if (o.mode == "razor") return run_razor(o);
  std::fprintf(stderr, "mode must be pyzor or razor\n");
  return 2;
}
