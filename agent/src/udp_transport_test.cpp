// Tests of udp:// node URLs and the Client's strop-udp/1 check path against an in-process
// fake UDP node (and the HTTP fake for the fallback).
#include "udp_transport.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "agent/client.hpp"
#include "agent/node_url.hpp"
#include "fake_node_test_util.hpp"
#include "protocol/codec.hpp"

namespace strop::agent {
namespace {

using namespace std::chrono_literals;
namespace udp = protocol::udp;

sigs::SignatureSet body_set(int n) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%032x", n);
  sigs::SignatureSet s;
  s.sigs.push_back(sigs::Signature{sigs::Engine::kBody, hex});
  return s;
}

// Answers strop-udp/1 checks on 127.0.0.1: body/1 values in `spam` are listed (confidence
// 90, one reporter). Drops the first `drop_first` datagrams (to exercise resends).
class FakeUdpNode {
 public:
  explicit FakeUdpNode(std::set<std::string> spam, int drop_first = 0)
      : spam_(std::move(spam)), drop_(drop_first) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeUdpNode() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "udp://127.0.0.1:" + std::to_string(port_); }
  int datagrams() const { return datagrams_.load(); }

  // A udp:// URL on which nothing listens.
  static std::string closed_url() {
    FakeUdpNode n({});
    return n.url();
  }

 private:
  void run() {
    char buf[9000];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n <= 0) continue;
      ++datagrams_;
      if (drop_ > 0) {
        --drop_;
        continue;
      }
      auto req = udp::decode_request(std::string_view(buf, static_cast<std::size_t>(n)));
      if (!req) continue;
      udp::CheckReply rep;
      rep.request_id = req->request_id;
      for (const auto& m : req->messages) {
        udp::MessageResult r;
        for (const auto& s : m) {
          if (s.engine == sigs::Engine::kBody && spam_.count(s.value)) {
            r.spam = true;
            r.confidence = 90;
            r.matches.push_back({sigs::Engine::kBody, 100, 1, 0});
          }
        }
        rep.results.push_back(r);
      }
      auto out = udp::encode_reply(rep, static_cast<std::size_t>(n));
      ::sendto(fd_, out->data(), out->size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }

  std::set<std::string> spam_;
  int drop_ = 0;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> datagrams_{0};
  std::thread thread_;
};

std::unique_ptr<Client> make_client(std::vector<std::string> nodes,
                                    std::chrono::milliseconds timeout = 2s) {
  ClientOptions o;
  o.nodes = std::move(nodes);
  o.timeout = timeout;
  o.cache_ttl = 0ms;
  auto c = Client::create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.error().to_string();
  return std::move(c).value();
}

TEST(UdpNodeUrl, Parses) {
  auto u = parse_node_url("udp://127.0.0.1:7420");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->udp);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, "7420");
  EXPECT_EQ(u->text, "udp://127.0.0.1:7420");
  EXPECT_EQ(parse_node_url("UDP://[::1]:9")->text, "udp://[::1]:9");
  EXPECT_FALSE(parse_node_url("udp://127.0.0.1").ok());
  EXPECT_FALSE(parse_node_url("udp://127.0.0.1:7420/v1").ok());
  EXPECT_FALSE(parse_node_url("http://h:1")->udp);
}

TEST(UdpClient, ChecksOverUdp) {
  FakeUdpNode node({body_set(1).sigs[0].value});
  auto c = make_client({node.url()});
  std::vector<sigs::SignatureSet> sets = {body_set(1), body_set(2), sigs::SignatureSet{}};
  auto r = c->check(sets);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].verdict, protocol::Verdict::kSpam);
  EXPECT_EQ((*r)[0].confidence, 90);
  ASSERT_EQ((*r)[0].matches.size(), 1u);
  EXPECT_EQ((*r)[0].matches[0].engine, sigs::Engine::kBody);
  EXPECT_EQ((*r)[0].matches[0].similarity, 1.0);
  EXPECT_EQ((*r)[0].matches[0].reports, 1u);
  EXPECT_EQ((*r)[1].verdict, protocol::Verdict::kNotSpam);
  EXPECT_EQ((*r)[2].verdict, protocol::Verdict::kNotSpam);
  EXPECT_EQ(node.datagrams(), 1);  // both non-empty sets in one datagram
}

TEST(UdpClient, ManyMessagesAreSplitIntoDatagrams) {
  FakeUdpNode node({body_set(5).sigs[0].value});
  auto c = make_client({node.url()});
  std::vector<sigs::SignatureSet> sets;
  for (int i = 0; i < 200; ++i) sets.push_back(body_set(i));
  auto r = c->check(sets);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ((*r)[static_cast<std::size_t>(i)].verdict,
              i == 5 ? protocol::Verdict::kSpam : protocol::Verdict::kNotSpam);
  }
  EXPECT_EQ(node.datagrams(), 4);  // 64 + 64 + 64 + 8
}

TEST(UdpClient, ResendsLostDatagrams) {
  FakeUdpNode node({body_set(1).sigs[0].value}, /*drop_first=*/2);
  auto c = make_client({node.url()}, 3s);
  auto r = c->check(body_set(1), c->default_deadline());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->verdict, protocol::Verdict::kSpam);
  EXPECT_EQ(node.datagrams(), 3);
}

TEST(UdpClient, UdpOnlyClientsCannotVote) {
  FakeUdpNode node({});
  ClientOptions o;
  o.nodes = {node.url()};
  o.identity = protocol::Identity{"udp://x:1", "alice", "s3cret-s3cret-s3cret"};
  auto c = Client::create(std::move(o));
  ASSERT_TRUE(c.ok());
  std::vector<sigs::SignatureSet> sets = {body_set(1)};
  auto r = (*c)->report(sets);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("udp://"), std::string::npos);
  EXPECT_FALSE((*c)->state((*c)->default_deadline()).ok());
}

TEST(UdpClient, DeadUdpNodeFailsWithinTheDeadline) {
  auto c = make_client({FakeUdpNode::closed_url()}, 600ms);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->check(body_set(1), c->default_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().code == Errc::kTimeout || r.error().code == Errc::kUnavailable)
      << r.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST(UdpClient, FallsBackToHttp) {
  testing::FakeNode http([](const testing::FakeRequest& req) {
    auto d = protocol::decode_check_request(req.body);
    protocol::CheckResponse resp;
    for (const auto& m : d->messages) {
      protocol::MessageVerdict v;
      v.id = m.id;
      v.verdict = protocol::Verdict::kSpam;
      v.confidence = 77;
      resp.results.push_back(v);
    }
    return testing::FakeResponse{200, protocol::encode(resp)};
  });
  auto c = make_client({FakeUdpNode::closed_url(), http.url()});
  auto r = c->check(body_set(1), c->default_deadline());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->confidence, 77);
  EXPECT_EQ(http.requests(), 1);
}

}  // namespace
}  // namespace strop::agent
