#include "http_transport.hpp"

#include <gtest/gtest.h>

#include "fake_node_test_util.hpp"

namespace strop::agent::detail {
namespace {

using namespace std::chrono_literals;
using testing::FakeNode;
using testing::FakeRequest;
using testing::FakeResponse;

NodeTransport make_transport(const std::string& url, TransportOptions o = {}) {
  auto u = parse_node_url(url);
  EXPECT_TRUE(u.ok());
  return NodeTransport(*u, o, nullptr);
}

HttpRequest post(const std::string& target, const std::string& body) {
  HttpRequest r;
  r.method = "POST";
  r.target = target;
  r.body = body;
  r.headers.emplace_back("X-Test", "1");
  return r;
}

TEST(HttpTransport, PostsAndReusesKeepAliveConnection) {
  FakeNode node([](const FakeRequest& r) {
    return FakeResponse{200, "{\"echo\":\"" + r.body + "\"}"};
  });
  auto t = make_transport(node.url() + "/base");
  for (int i = 0; i < 3; ++i) {
    auto r = t.exchange(post("/base/v1/x", std::to_string(i)), Clock::now() + 5s);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"echo\":\"" + std::to_string(i) + "\"}");
    EXPECT_EQ(r->content_type, "application/json");
  }
  EXPECT_EQ(node.connections(), 1);
  EXPECT_EQ(t.idle_count(), 1u);
  auto got = node.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].target, "/base/v1/x");
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].header("X-Test"), "1");
  EXPECT_EQ(got[0].header("Host"), "127.0.0.1:" + std::to_string(node.port()));
}

TEST(HttpTransport, ReturnsErrorStatusesAsResponses) {
  FakeNode node([](const FakeRequest&) { return FakeResponse{429, "{\"error\":\"slow down\"}"}; });
  auto t = make_transport(node.url());
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 429);
}

TEST(HttpTransport, ConnectionCloseIsNotPooled) {
  FakeNode node([](const FakeRequest&) {
    FakeResponse r;
    r.close = true;
    return r;
  });
  auto t = make_transport(node.url());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(t.exchange(post("/v1/x", "{}"), Clock::now() + 5s).ok());
  EXPECT_EQ(node.connections(), 2);
  EXPECT_EQ(t.idle_count(), 0u);
}

TEST(HttpTransport, RetriesOnceWhenAPooledConnectionWasClosed) {
  FakeNode node([](const FakeRequest&) {
    FakeResponse r;
    r.drop = true;  // says keep-alive, then hangs up
    return r;
  });
  auto t = make_transport(node.url());
  ASSERT_TRUE(t.exchange(post("/v1/x", "{}"), Clock::now() + 5s).ok());
  EXPECT_EQ(t.idle_count(), 1u);
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(node.connections(), 2);
  EXPECT_EQ(node.requests(), 2);
}

TEST(HttpTransport, FreshHeadersAreMadeForEveryAttempt) {
  FakeNode node([](const FakeRequest&) {
    FakeResponse r;
    r.drop = true;
    return r;
  });
  auto t = make_transport(node.url());
  int calls = 0;
  auto req = post("/v1/x", "{}");
  req.fresh_headers = [&calls](std::vector<std::pair<std::string, std::string>>* out) {
    out->emplace_back("X-Nonce", std::to_string(++calls));
  };
  ASSERT_TRUE(t.exchange(req, Clock::now() + 5s).ok());
  ASSERT_TRUE(t.exchange(req, Clock::now() + 5s).ok());  // stale connection: two attempts
  auto got = node.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].header("X-Nonce"), "1");
  EXPECT_EQ(got[1].header("X-Nonce"), "3");
  EXPECT_EQ(calls, 3);
}

TEST(HttpTransport, RefusedConnectionIsUnavailable) {
  auto t = make_transport(FakeNode::closed_url());
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
}

TEST(HttpTransport, SilentNodeTimesOutAtTheDeadline) {
  FakeNode node(nullptr, FakeNode::Mode::kSilent);
  auto t = make_transport(node.url());
  auto start = Clock::now();
  auto r = t.exchange(post("/v1/x", "{}"), start + 300ms);
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
  EXPECT_NE(r.error().message.find("reading the response"), std::string::npos);
  EXPECT_GE(elapsed, 300ms);
  // Generous bound: only a broken deadline (a blocking read) exceeds it.
  EXPECT_LT(elapsed, 10s);
  EXPECT_EQ(node.requests(), 1);
}

TEST(HttpTransport, PassedDeadlineFailsWithoutSending) {
  FakeNode node([](const FakeRequest&) { return FakeResponse{}; });
  auto t = make_transport(node.url());
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() - 1ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
  EXPECT_EQ(node.requests(), 0);
}

TEST(HttpTransport, GarbageIsMalformed) {
  FakeNode node(nullptr, FakeNode::Mode::kGarbage);
  auto t = make_transport(node.url());
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed) << r.error().to_string();
}

TEST(HttpTransport, OversizedResponseHitsLimit) {
  FakeNode node([](const FakeRequest&) { return FakeResponse{200, std::string(5000, 'x')}; });
  TransportOptions o;
  o.max_response_bytes = 1000;
  auto t = make_transport(node.url(), o);
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kLimitExceeded);
}

TEST(HttpTransport, UnresolvableHostIsUnavailable) {
  auto t = make_transport("http://no-such-host.invalid:80");
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().code == Errc::kUnavailable || r.error().code == Errc::kTimeout)
      << r.error().to_string();
}

TEST(HttpTransport, TlsHandshakeAgainstPlainServerFails) {
  FakeNode node([](const FakeRequest&) { return FakeResponse{}; });
  auto tls = TlsContext::create("", true);
  ASSERT_TRUE(tls.ok());
  auto u = parse_node_url("https://127.0.0.1:" + std::to_string(node.port()));
  ASSERT_TRUE(u.ok());
  NodeTransport t(*u, {}, *tls);
  auto r = t.exchange(post("/v1/x", "{}"), Clock::now() + 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().to_string();
}

TEST(HttpTransport, MissingCaFileIsAnError) {
  auto tls = TlsContext::create("/nonexistent/ca.pem", true);
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace strop::agent::detail
