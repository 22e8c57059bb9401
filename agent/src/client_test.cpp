#include "agent/client.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "agent/identity.hpp"
#include "fake_node_test_util.hpp"
#include "protocol/codec.hpp"
#include "protocol/signing.hpp"

namespace strop::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeNode;
using testing::FakeRequest;
using testing::FakeResponse;

constexpr const char* kSecret = "s3cret-s3cret-s3cret";

sigs::SignatureSet make_set(int n) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%032x", n);
  sigs::SignatureSet s;
  s.sigs.push_back(sigs::Signature{sigs::Engine::kBody, hex});
  return s;
}

protocol::Identity identity(const std::string& secret = kSecret) {
  return protocol::Identity{"http://127.0.0.1:1", "alice", secret};
}

FakeResponse error(int status, protocol::ApiErrc code, const std::string& msg) {
  return FakeResponse{status, protocol::encode(protocol::ErrorBody{code, msg})};
}

// A node in miniature: stores reported signature texts; a check of a message with a stored
// signature is spam. Verifies signed requests against kSecret.
class MiniNode {
 public:
  explicit MiniNode(FakeNode::Mode mode = FakeNode::Mode::kServe)
      : server_([this](const FakeRequest& r) { return handle(r); }, mode) {}

  std::string url() const { return server_.url(); }
  FakeNode& server() { return server_; }
  std::size_t max_messages = 1000;  // beyond this, answer 413
  std::function<std::optional<FakeResponse>(const FakeRequest&)> override;

 private:
  FakeResponse handle(const FakeRequest& r) {
    if (override) {
      if (auto o = override(r)) return *o;
    }
    if (r.target == "/v1/check") {
      auto req = protocol::decode_check_request(r.body);
      if (!req) return error(400, protocol::ApiErrc::kMalformed, req.error().message);
      if (req->messages.size() > max_messages) {
        return error(413, protocol::ApiErrc::kLimitExceeded, "too many messages");
      }
      protocol::CheckResponse resp;
      std::lock_guard lock(mu_);
      for (const auto& m : req->messages) {
        protocol::MessageVerdict v;
        v.id = m.id;
        for (const auto& s : m.sigs) {
          if (stored_.count(s.text())) {
            v.verdict = protocol::Verdict::kSpam;
            v.confidence = 90;
            v.matches.push_back(protocol::Match{s.engine, s.text(), 1.0, 1, 0, 90});
          }
        }
        resp.results.push_back(v);
      }
      return FakeResponse{200, protocol::encode(resp)};
    }
    if (r.target == "/v1/report" || r.target == "/v1/revoke") {
      protocol::AuthHeaders h{r.header("X-Strop-Reporter"), r.header("X-Strop-Timestamp"),
                              r.header("X-Strop-Nonce"), r.header("X-Strop-Signature")};
      if (h.reporter.empty()) return error(401, protocol::ApiErrc::kAuthRequired, "sign it");
      auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      auto st = protocol::verify_request(h, kSecret, r.method, r.target, r.body, now);
      if (st == protocol::AuthStatus::kStale) {
        return error(401, protocol::ApiErrc::kStaleRequest, "timestamp outside the window");
      }
      if (st != protocol::AuthStatus::kOk) {
        return error(401, protocol::ApiErrc::kBadSignature, "signature does not verify");
      }
      auto req = protocol::decode_vote_request(r.body);
      if (!req) return error(400, protocol::ApiErrc::kMalformed, req.error().message);
      protocol::VoteResponse resp;
      std::lock_guard lock(mu_);
      for (const auto& m : req->messages) {
        protocol::MessageVoteResult res;
        res.id = m.id;
        for (const auto& s : m.sigs) {
          if (r.target == "/v1/report") {
            stored_.insert(s.text());
            ++res.recorded;
          } else {
            res.withdrawn += static_cast<std::uint32_t>(stored_.erase(s.text()));
          }
        }
        resp.results.push_back(res);
      }
      return FakeResponse{200, protocol::encode(resp)};
    }
    if (r.target == "/v1/register") {
      auto req = protocol::decode_register_request(r.body);
      if (!req) return error(400, protocol::ApiErrc::kMalformed, req.error().message);
      if (req->name == "taken") return error(409, protocol::ApiErrc::kNameTaken, "taken");
      return FakeResponse{
          200, protocol::encode(protocol::RegisterResponse{req->name, "fresh-secret", 0.1})};
    }
    if (r.target == "/v1/state") {
      protocol::StateResponse s;
      s.node_version = "test";
      return FakeResponse{200, protocol::encode(s)};
    }
    return error(404, protocol::ApiErrc::kNotFound, "no such endpoint");
  }

  std::mutex mu_;
  std::set<std::string> stored_;
  FakeNode server_;  // last: stops before the state it uses is destroyed
};

std::unique_ptr<Client> make_client(std::vector<std::string> nodes,
                                    std::function<void(ClientOptions&)> tweak = nullptr) {
  ClientOptions o;
  o.nodes = std::move(nodes);
  o.identity = identity();
  if (tweak) tweak(o);
  auto c = Client::create(std::move(o));
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(Client, CreateRejectsBadOptions) {
  EXPECT_EQ(Client::create(ClientOptions{}).error().code, Errc::kInvalidArgument);
  ClientOptions o;
  o.nodes = {"gopher://x"};
  EXPECT_EQ(Client::create(o).error().code, Errc::kInvalidArgument);
  o.nodes = {"https://127.0.0.1:1"};
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(Client::create(o).error().code, Errc::kInvalidArgument);
}

TEST(Client, ReportThenCheckFindsSpamInOrder) {
  MiniNode node;
  auto c = make_client({node.url()});
  std::vector<sigs::SignatureSet> spam{make_set(1), make_set(2)};
  auto rep = c->report(spam);
  ASSERT_TRUE(rep.ok()) << rep.error().to_string();
  ASSERT_EQ(rep->results.size(), 2u);
  EXPECT_EQ(rep->results[0].recorded, 1u);

  std::vector<sigs::SignatureSet> sets{make_set(3), make_set(2), make_set(4), make_set(1)};
  auto v = c->check(sets);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  ASSERT_EQ(v->size(), 4u);
  EXPECT_EQ((*v)[0].verdict, protocol::Verdict::kNotSpam);
  EXPECT_EQ((*v)[1].verdict, protocol::Verdict::kSpam);
  EXPECT_EQ((*v)[1].confidence, 90);
  ASSERT_EQ((*v)[1].matches.size(), 1u);
  EXPECT_EQ((*v)[1].matches[0].id, make_set(2).sigs[0].text());
  EXPECT_EQ((*v)[2].verdict, protocol::Verdict::kNotSpam);
  EXPECT_EQ((*v)[3].verdict, protocol::Verdict::kSpam);
  EXPECT_EQ(node.server().requests(), 2);  // one report, one check: batched
}

TEST(Client, RequestsAreSignedWithTheIdentity) {
  MiniNode node;
  auto c = make_client({node.url()});
  auto s = make_set(1);
  ASSERT_TRUE(c->report(std::span(&s, 1)).ok());
  auto got = node.server().received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("X-Strop-Reporter"), "alice");
  EXPECT_EQ(got[0].header("X-Strop-Signature").size(), 64u);
  EXPECT_TRUE(protocol::valid_nonce(got[0].header("X-Strop-Nonce")));
}

TEST(Client, WrongSecretIsAnAuthenticationError) {
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) { o.identity = identity("wrong"); });
  auto s = make_set(1);
  auto r = c->report(std::span(&s, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnauthorized);
  EXPECT_NE(r.error().message.find("authentication failed at node " + node.url()),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("alice"), std::string::npos);
}

TEST(Client, SkewedClockIsRejectedAsStale) {
  MiniNode node;
  auto c = make_client({node.url()},
                       [](ClientOptions& o) { o.unix_time = [] { return std::int64_t{1000}; }; });
  auto s = make_set(1);
  auto r = c->revoke(std::span(&s, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnauthorized);
  EXPECT_NE(r.error().message.find("window"), std::string::npos) << r.error().message;
}

TEST(Client, ReportWithoutIdentityFailsLocally) {
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) { o.identity.reset(); });
  auto s = make_set(1);
  auto r = c->report(std::span(&s, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(node.server().requests(), 0);
}

TEST(Client, EmptySetsAreNotReported) {
  MiniNode node;
  auto c = make_client({node.url()});
  std::vector<sigs::SignatureSet> sets{sigs::SignatureSet{}, make_set(1)};
  auto r = c->report(sets);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->skipped_empty, 1u);
  EXPECT_EQ(r->results[0].recorded, 0u);
  EXPECT_EQ(r->results[1].recorded, 1u);
}

TEST(Client, HugeSignatureSetsAreTruncatedToTheProtocolLimit) {
  MiniNode node;
  auto c = make_client({node.url()});
  sigs::SignatureSet big;
  for (int i = 0; i < 300; ++i) big.sigs.push_back(make_set(1000 + i).sigs[0]);
  auto r = c->report(std::span(&big, 1));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->results[0].recorded, protocol::Limits{}.max_sigs_per_message);
  auto v = c->check(big, c->default_deadline());
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->verdict, protocol::Verdict::kSpam);
}

TEST(Client, CacheServesRepeatsAndReportClearsIt) {
  MiniNode node;
  auto c = make_client({node.url()});
  auto s = make_set(7);
  auto deadline = c->default_deadline();
  ASSERT_EQ(c->check(s, deadline)->verdict, protocol::Verdict::kNotSpam);
  ASSERT_EQ(c->check(s, deadline)->verdict, protocol::Verdict::kNotSpam);
  EXPECT_EQ(node.server().requests(), 1);
  EXPECT_EQ(c->stats().cache_hits, 1u);
  ASSERT_TRUE(c->report(std::span(&s, 1)).ok());
  EXPECT_EQ(c->check(s, c->default_deadline())->verdict, protocol::Verdict::kSpam);
  EXPECT_EQ(node.server().requests(), 3);
}

TEST(Client, CacheCanBeDisabled) {
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) { o.cache_ttl = 0ms; });
  auto s = make_set(7);
  ASSERT_TRUE(c->check(s, c->default_deadline()).ok());
  ASSERT_TRUE(c->check(s, c->default_deadline()).ok());
  EXPECT_EQ(node.server().requests(), 2);
}

TEST(Client, SequentialChecksShareOneKeepAliveConnection) {
  // Issue 18: a milter's checks, one message at a time, must not pay a connect each.
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) { o.cache_ttl = 0ms; });
  constexpr int kChecks = 50;
  for (int i = 0; i < kChecks; ++i) {
    auto r = c->check(make_set(i), Clock::now() + 5s);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }
  EXPECT_EQ(node.server().connections(), 1);
  EXPECT_EQ(c->stats().requests, static_cast<std::size_t>(kChecks));
  EXPECT_EQ(node.server().received().size(), static_cast<std::size_t>(kChecks));
}

TEST(Client, BatchesAreSplitByMaxBatch) {
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) { o.max_batch = 2; });
  std::vector<sigs::SignatureSet> sets;
  for (int i = 0; i < 5; ++i) sets.push_back(make_set(i));
  auto v = c->check(sets);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 5u);
  EXPECT_EQ(node.server().requests(), 3);
}

TEST(Client, TooLargeBatchIsSplitAndRetried) {
  MiniNode node;
  node.max_messages = 2;
  auto c = make_client({node.url()});
  ASSERT_TRUE(c->report(std::vector{make_set(3)}).ok());
  std::vector<sigs::SignatureSet> sets;
  for (int i = 0; i < 5; ++i) sets.push_back(make_set(i));
  auto v = c->check(sets);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  ASSERT_EQ(v->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*v)[static_cast<std::size_t>(i)].verdict,
              i == 3 ? protocol::Verdict::kSpam : protocol::Verdict::kNotSpam);
  }
}

TEST(Client, FailsOverFromADownNodeAndRemembersIt) {
  MiniNode good;
  std::string down = FakeNode::closed_url();
  auto c = make_client({down, good.url()});
  auto s = make_set(1);
  ASSERT_TRUE(c->check(s, c->default_deadline()).ok());
  EXPECT_EQ(c->stats().failovers, 1u);
  EXPECT_EQ(c->stats().requests, 2u);
  auto t = make_set(2);
  ASSERT_TRUE(c->check(t, c->default_deadline()).ok());
  // The down node is now tried last, so the second call needs one attempt only.
  EXPECT_EQ(c->stats().requests, 3u);
  EXPECT_EQ(good.server().requests(), 2);
}

TEST(Client, FailsOverFromAHungNodeWithinTheDeadline) {
  FakeNode hung(nullptr, FakeNode::Mode::kSilent);
  MiniNode good;
  auto c = make_client({hung.url(), good.url()});
  auto s = make_set(1);
  auto start = Clock::now();
  auto r = c->check(s, start + 4s);
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(hung.requests(), 1);
  EXPECT_EQ(good.server().requests(), 1);
  EXPECT_LT(elapsed, 4s);  // the hung node got half the budget (2 s), not all of it
}

TEST(Client, FailsOverOnOverload) {
  MiniNode busy;
  busy.override = [](const FakeRequest&) -> std::optional<FakeResponse> {
    return error(503, protocol::ApiErrc::kOverloaded, "writer queue full");
  };
  MiniNode good;
  auto c = make_client({busy.url(), good.url()});
  auto s = make_set(1);
  ASSERT_TRUE(c->report(std::span(&s, 1)).ok());
  EXPECT_EQ(busy.server().requests(), 1);
  EXPECT_EQ(good.server().requests(), 1);
}

TEST(Client, RateLimitIsNotFailedOver) {
  MiniNode limited;
  limited.override = [](const FakeRequest&) -> std::optional<FakeResponse> {
    return error(429, protocol::ApiErrc::kRateLimited, "per-reporter budget spent");
  };
  MiniNode other;
  auto c = make_client({limited.url(), other.url()});
  auto s = make_set(1);
  auto r = c->report(std::span(&s, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kRateLimited);
  EXPECT_NE(r.error().message.find("rate-limited by node " + limited.url()), std::string::npos)
      << r.error().message;
  EXPECT_EQ(other.server().requests(), 0);
}

TEST(Client, AllNodesDownNamesEveryNode) {
  std::string a = FakeNode::closed_url();
  std::string b = FakeNode::closed_url();
  auto c = make_client({a, b});
  auto s = make_set(1);
  auto r = c->check(s, c->default_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_NE(r.error().message.find("node " + a + " unreachable: connection refused"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("node " + b), std::string::npos);
}

TEST(Client, HungNodeTimesOutAtTheDeadline) {
  FakeNode hung(nullptr, FakeNode::Mode::kSilent);
  auto c = make_client({hung.url()});
  auto s = make_set(1);
  auto start = Clock::now();
  auto r = c->check(s, start + 500ms);
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
  EXPECT_NE(r.error().message.find("did not answer within"), std::string::npos)
      << r.error().message;
  EXPECT_GE(elapsed, 500ms);
  EXPECT_LT(elapsed, 10s);  // generous: fails only if the deadline is not enforced
}

TEST(Client, GarbageAnswerIsMalformedNotACrash) {
  MiniNode node;
  node.override = [](const FakeRequest&) -> std::optional<FakeResponse> {
    return FakeResponse{200, "{\"v\":1,\"results\":[{\"verdict\":"};
  };
  auto c = make_client({node.url()});
  auto s = make_set(1);
  auto r = c->check(s, c->default_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed);
}

TEST(Client, WrongResultCountIsMalformed) {
  MiniNode node;
  node.override = [](const FakeRequest&) -> std::optional<FakeResponse> {
    return FakeResponse{200, protocol::encode(protocol::CheckResponse{})};
  };
  auto c = make_client({node.url()});
  auto s = make_set(1);
  EXPECT_EQ(c->check(s, c->default_deadline()).error().code, Errc::kMalformed);
}

TEST(Client, RegisterReturnsIdentityBoundToTheNode) {
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) { o.identity.reset(); });
  auto id = c->register_reporter("bob", std::nullopt, c->default_deadline());
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  EXPECT_EQ(id->reporter, "bob");
  EXPECT_EQ(id->secret, "fresh-secret");
  EXPECT_EQ(id->node, node.url());
  auto got = node.server().received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("X-Strop-Signature"), "");  // open registration: unsigned

  auto taken = c->register_reporter("taken", std::nullopt, c->default_deadline());
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, Errc::kExists);
  EXPECT_EQ(c->register_reporter("-bad", std::nullopt, c->default_deadline()).error().code,
            Errc::kInvalidArgument);
}

TEST(Client, RegisterWhenClosedExplainsWhatToDo) {
  MiniNode node;
  node.override = [](const FakeRequest&) -> std::optional<FakeResponse> {
    return error(403, protocol::ApiErrc::kRegistrationClosed, "closed");
  };
  auto c = make_client({node.url()});
  auto r = c->register_reporter("bob", std::nullopt, c->default_deadline());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kForbidden);
  EXPECT_NE(r.error().message.find("strop-node reporter add bob"), std::string::npos);
}

TEST(Client, State) {
  MiniNode node;
  auto c = make_client({node.url()});
  auto s = c->state(c->default_deadline());
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->node_version, "test");
}

TEST(Client, ConcurrentChecksFromManyThreads) {
  MiniNode node;
  auto c = make_client({node.url()}, [](ClientOptions& o) {
    o.cache_capacity = 16;
    o.max_idle_connections = 8;
  });
  ASSERT_TRUE(c->report(std::vector{make_set(0)}).ok());
  std::atomic<int> spam{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        auto s = make_set((t * 40 + i) % 50);
        auto r = c->check(s, Clock::now() + 10s);
        if (!r.ok()) {
          ++failed;
        } else if (r->verdict == protocol::Verdict::kSpam) {
          ++spam;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(spam.load(), 240 / 50 + 1);  // make_set(0) appears 5 times in 0..239 mod 50
  EXPECT_LE(node.server().connections(), 7);
}

TEST(Identity, SaveWritesMode0600AndLoadReadsItBack) {
  auto dir = std::filesystem::temp_directory_path() /
             ("strop-identity-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string path = (dir / "sub" / "identity.json").string();
  protocol::Identity id{"http://127.0.0.1:7420", "alice", "abc"};
  auto w = save_identity(path, id);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto r = load_identity(path);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->node, id.node);
  EXPECT_EQ(r->reporter, id.reporter);
  EXPECT_EQ(r->secret, id.secret);
  // Replacing an existing, too-open file tightens it.
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(save_identity(path, id).ok());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(dir);
}

TEST(Identity, LoadErrorsAreClear) {
  auto r = load_identity("/nonexistent/identity.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_NE(r.error().message.find("/nonexistent/identity.json"), std::string::npos);
  auto path =
      std::filesystem::temp_directory_path() / ("strop-bad-id-" + std::to_string(::getpid()));
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("not json", f);
    std::fclose(f);
  }
  auto b = load_identity(path.string());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::kMalformed);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace strop::agent
