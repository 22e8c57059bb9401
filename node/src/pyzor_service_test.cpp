// Pyzor requests handled without sockets, over the fake store.
#include "pyzor_service.hpp"

#include <gtest/gtest.h>

#include "fake_store_test_util.hpp"

namespace strop::node {
namespace {

namespace pz = protocol::pyzor;

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kDigest = "f3ec0000000000000000000000000000000004cf";

NodeKey test_key() {
  std::array<unsigned char, NodeKey::kBytes> k{};
  k.fill(3);
  return NodeKey::from_bytes(k);
}

class PyzorServiceTest : public ::testing::Test {
 protected:
  PyzorServiceTest() : accounts_(test_key()) {
    storage::ReporterSpec spec;
    spec.name = "alice";
    spec.secret = "alice-native-secret";
    alice_ = *store_.add_reporter(spec);
  }

  std::unique_ptr<PyzorService> service(const Config& o = {}) {
    Clocks c;
    c.unix_seconds = [this] { return now_; };
    c.mono_ns = [this] { return mono_; };
    cores_.push_back(std::make_unique<SignatureService>(o, store_, metrics_, c));
    auto s = PyzorService::create(*cores_.back(), accounts_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
    return s.ok() ? std::move(*s) : nullptr;
  }

  // A request as the pyzor client builds it (fields in its order), signed for `user`
  // with `key` ("" = anonymous, signed with the empty key as the client does).
  static std::string request(const std::string& op, const std::vector<std::string>& digests,
                             const std::string& user, const std::string& key, std::int64_t time,
                             int thread = 4242) {
    std::vector<pz::Field> f = {{"Op", op}};
    for (const auto& d : digests) f.push_back({"Op-Digest", d});
    if (op == "report" || op == "whitelist") f.push_back({"Op-Spec", "20,3,60,3"});
    f.push_back({"Thread", std::to_string(thread)});
    f.push_back({"PV", "2.1"});
    f.push_back({"User", user.empty() ? "anonymous" : user});
    f.push_back({"Time", std::to_string(time)});
    pz::Message m;
    m.fields = f;
    std::string u = user.empty() ? "anonymous" : user;
    f.push_back({"Sig", pz::sign(pz::hash_key(key, u), time, pz::signed_text(m))});
    return pz::encode_message(f);
  }

  static pz::Message call(PyzorService& s, std::string_view dgram) {
    std::string out;
    bool called = false;
    s.handle(dgram, "127.0.0.1", [&](std::string r) {
      called = true;
      out = std::move(r);
    });
    EXPECT_TRUE(called);
    auto m = pz::parse_message(out);
    EXPECT_TRUE(m.ok());
    return m.ok() ? *m : pz::Message{};
  }

  // The raw reply ("" when the service stays silent).
  static std::string raw(PyzorService& s, std::string_view dgram,
                         std::string_view client = "127.0.0.1") {
    std::string out = "<no callback>";
    s.handle(dgram, client, [&](std::string r) { out = std::move(r); });
    return out;
  }

  static std::string field(const pz::Message& m, std::string_view name) {
    const std::string* v = m.find(name);
    return v ? *v : std::string("<none>");
  }

  std::string alice_key() { return *accounts_.pyzor_key(alice_); }

  testing::FakeStore store_;
  RazorAccounts accounts_;
  NodeMetrics metrics_;
  std::vector<std::unique_ptr<SignatureService>> cores_;
  storage::Reporter alice_;
  std::int64_t now_ = kNow;
  std::int64_t mono_ = 0;
};

TEST_F(PyzorServiceTest, AnswersLikePyzord) {
  auto s = service();
  auto ping = call(*s, "Op: ping\nThread: 2000\nPV: 2.1\n\n");
  EXPECT_EQ(field(ping, "Code"), "200");
  EXPECT_EQ(field(ping, "Diag"), "OK");
  EXPECT_EQ(field(ping, "Thread"), "2000");
  EXPECT_EQ(field(ping, "Count"), "<none>");

  // pyzord answers garbage with a 400 and an empty Thread; the node stays silent (a client
  // could not pair the reply; a spoofed source would only get reflected traffic).
  std::string out = "unset";
  s->handle("xx", "k", [&](std::string r) { out = std::move(r); });
  EXPECT_EQ(out, "");
  // Error replies carry pyzord's codes and texts, but only to requests at least as large as
  // the reply (padded here with a field pyzord ignores; NoReflection covers the small ones).
  auto padded = [](std::string req) {
    return req.insert(req.size() - 1, "X-Pad: " + std::string(120, 'p') + "\n");
  };
  auto nopv = call(*s, padded("Op: ping\nThread: 2000\n\n"));
  EXPECT_EQ(field(nopv, "Code"), "400");
  EXPECT_EQ(field(nopv, "Diag"), "Bad request: Protocol Version not specified in request");

  EXPECT_EQ(field(call(*s, padded("Op: ping\nThread: 3006\nPV: x\n\n")), "Diag"),
            "Bad request: Invalid Protocol Version");
  auto v3 = call(*s, padded("Op: ping\nThread: 3002\nPV: 3.0\n\n"));
  EXPECT_EQ(field(v3, "Code"), "505");
  EXPECT_EQ(field(v3, "Diag"), "Version Not Supported: ");
  EXPECT_EQ(field(call(*s, "Op: ping\nThread: 3002\nPV: 2.9\n\n"), "Code"), "200");
  auto del = call(*s, padded("Op: delete\nThread: 3001\nPV: 2.1\n\n"));
  EXPECT_EQ(field(del, "Code"), "403");
  EXPECT_EQ(field(del, "Diag"), "Forbidden: User is not authorized to request the operation.");

  auto check = call(*s, "Op: check\nOp-Digest: hello\nThread: 3000\nPV: 2.1\n\n");
  EXPECT_EQ(field(check, "Count"), "0");
  EXPECT_EQ(field(check, "WL-Count"), "0");
  auto pong = call(*s, "Op: pong\nOp-Digest: aa\nThread: 3004\nPV: 2.1\n\n");
  EXPECT_EQ(field(pong, "Count"), "9223372036854775807");
  auto info = call(*s, "Op: info\nOp-Digest: aa\nThread: 3005\nPV: 2.1\n\n");
  ASSERT_EQ(info.fields.size(), 10u);
  EXPECT_EQ(info.fields[4].name, "Entered");
  EXPECT_EQ(info.fields[9].name, "WL-Count");
  // check without a digest: 200 and no counts (pyzord).
  EXPECT_EQ(field(call(*s, "Op: check\nThread: 3003\nPV: 2.1\n\n"), "Count"), "<none>");
  auto unknown = call(*s, padded("Op: ping\nThread: abc\nPV: 2.1\nUser: bob\nTime: 1\nSig: x\n\n"));
  EXPECT_EQ(field(unknown, "Code"), "401");
  EXPECT_EQ(field(unknown, "Diag"), "Unauthorized: Signature Error: Unknown user.");
}

TEST_F(PyzorServiceTest, DefaultAccessRules) {
  auto s = service();
  // Anonymous: check yes, report and whitelist no (pyzord allows anonymous reports; here
  // a report needs an accountable reporter).
  EXPECT_EQ(field(call(*s, request("check", {kDigest}, "", "", kNow)), "Code"), "200");
  EXPECT_EQ(field(call(*s, request("report", {kDigest}, "", "", kNow)), "Code"), "403");
  EXPECT_EQ(field(call(*s, request("whitelist", {kDigest}, "", "", kNow)), "Code"), "403");
  // Reporters: everything.
  EXPECT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 1)), "Code"),
            "200");
  EXPECT_EQ(field(call(*s, request("whitelist", {kDigest}, "alice", alice_key(), kNow, 2)), "Code"),
            "200");
}

TEST_F(PyzorServiceTest, ReportCheckWhitelistCycle) {
  auto s = service();
  auto before = call(*s, request("check", {kDigest}, "", "", kNow));
  EXPECT_EQ(field(before, "Count"), "0");
  auto rep = call(
      *s, request("report", {kDigest, std::string(40, 'a')}, "alice", alice_key(), kNow, 1000));
  EXPECT_EQ(field(rep, "Code"), "200");
  EXPECT_EQ(field(rep, "Thread"), "1000");
  auto after = call(*s, request("check", {kDigest}, "", "", kNow));
  EXPECT_EQ(field(after, "Count"), "1");
  EXPECT_EQ(field(after, "WL-Count"), "0");
  EXPECT_EQ(field(call(*s, request("check", {std::string(40, 'A')}, "", "", kNow)), "Count"), "1");
  EXPECT_EQ(
      field(call(*s, request("whitelist", {kDigest}, "alice", alice_key(), kNow, 1001)), "Code"),
      "200");
  EXPECT_EQ(field(call(*s, request("check", {kDigest}, "", "", kNow)), "Count"), "0");
}

// info answers as pyzord's record: first and latest report times, raw counts.
TEST_F(PyzorServiceTest, InfoHasTheStoredTimesAndCounts) {
  auto s = service();
  auto none = call(*s, request("info", {kDigest}, "", "", kNow));
  EXPECT_EQ(field(none, "Entered"), "0");
  EXPECT_EQ(field(none, "Count"), "0");
  store_.clock = storage::TimePoint{std::chrono::seconds{kNow - 500}};
  ASSERT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 1000)), "Code"),
            "200");
  store_.clock = storage::TimePoint{std::chrono::seconds{kNow - 100}};
  ASSERT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 1001)), "Code"),
            "200");
  auto info = call(*s, request("info", {kDigest}, "", "", kNow));
  EXPECT_EQ(field(info, "Code"), "200");
  EXPECT_EQ(field(info, "Entered"), std::to_string(kNow - 500));
  EXPECT_EQ(field(info, "Updated"), std::to_string(kNow - 100));
  EXPECT_EQ(field(info, "WL-Entered"), "0");
  EXPECT_EQ(field(info, "WL-Updated"), "0");
  EXPECT_EQ(field(info, "Count"), "1");
  EXPECT_EQ(field(info, "WL-Count"), "0");
  // An allowed digest is not spam to a pyzor check; info still tells what was reported.
  auto sig = std::vector<sigs::Signature>{{sigs::Engine::kPyzor, kDigest}};
  ASSERT_TRUE(cores_.back()->set_allowed(sig, true).has_value());
  EXPECT_EQ(field(call(*s, request("check", {kDigest}, "", "", kNow)), "Count"), "0");
  EXPECT_EQ(field(call(*s, request("info", {kDigest}, "", "", kNow)), "Count"), "1");
}

TEST_F(PyzorServiceTest, LowConfidenceIsNotSpam) {
  Config o;
  o.store.threshold = 61;  // the fake store's confidence is 60
  auto s = service(o);
  ASSERT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 1000)), "Code"),
            "200");
  auto c = call(*s, request("check", {kDigest}, "", "", kNow));
  EXPECT_EQ(field(c, "Count"), "0");
}

TEST_F(PyzorServiceTest, SignaturesTimeAndReplays) {
  auto s = service();
  std::string good = request("report", {kDigest}, "alice", alice_key(), kNow, 1200);
  EXPECT_EQ(field(call(*s, good), "Code"), "200");
  auto replay = call(*s, good);
  EXPECT_EQ(field(replay, "Code"), "401");
  EXPECT_EQ(field(replay, "Diag"), "Unauthorized: Signature Error: Replayed request.");
  EXPECT_EQ(s->counters().replays.value(), 1u);

  auto bad = call(*s, request("report", {kDigest}, "alice", std::string(40, '0'), kNow, 1201));
  EXPECT_EQ(field(bad, "Code"), "401");
  EXPECT_EQ(field(bad, "Diag"), "Unauthorized: Signature Error: Invalid signature.");

  auto stale = call(*s, request("report", {kDigest}, "alice", alice_key(), kNow - 301, 1202));
  EXPECT_EQ(field(stale, "Diag"),
            "Unauthorized: Signature Error: Timestamp not within allowed range.");
  EXPECT_EQ(
      field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow - 299, 1203)), "Code"),
      "200");

  // A tampered field breaks the signature.
  std::string tampered = request("report", {kDigest}, "alice", alice_key(), kNow, 1204);
  tampered.replace(tampered.find(kDigest), 4, "0000");
  EXPECT_EQ(field(call(*s, tampered), "Code"), "401");

  // A disabled reporter is refused after a valid signature.
  ASSERT_TRUE(store_.set_disabled("alice", true).ok());
  EXPECT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 1205)), "Code"),
            "403");
}

TEST_F(PyzorServiceTest, CustomAccessRules) {
  Config o;
  o.pyzor.access = {"all : anonymous : allow", "whitelist : anonymous : deny",
                    "report : alice : deny"};
  auto s = service(o);
  auto anon = store_.find_reporter(kPyzorAnonymousReporter);
  ASSERT_TRUE(anon.ok());  // created because anonymous may report
  EXPECT_EQ(field(call(*s, request("report", {kDigest}, "", "", kNow)), "Code"), "200");
  EXPECT_EQ(field(call(*s, request("whitelist", {kDigest}, "", "", kNow)), "Code"), "403");
  EXPECT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 7)), "Code"),
            "403");
  EXPECT_EQ(field(call(*s, request("check", {kDigest}, "alice", alice_key(), kNow, 8)), "Code"),
            "403");

  for (auto bad : std::vector<std::vector<std::string>>{{"check : anonymous"},
                                                        {"check : anonymous : maybe"},
                                                        {"frobnicate : all : allow"},
                                                        {" : all : allow"},
                                                        {"check :  : allow"}}) {
    auto acl = PyzorAcl::parse(bad);
    EXPECT_FALSE(acl.ok()) << bad[0];
  }
}

TEST_F(PyzorServiceTest, LimitsAndRates) {
  Config o;
  o.pyzor.limits.max_digests = 2;
  o.ip_limit = {1, 3};
  auto s = service(o);
  auto many =
      call(*s, request("report", {kDigest, kDigest, kDigest}, "alice", alice_key(), kNow, 9));
  EXPECT_EQ(field(many, "Code"), "400");
  EXPECT_EQ(field(call(*s, "Op: ping\nThread: 1\nPV: 2.1\n\n"), "Code"), "200");
  EXPECT_EQ(field(call(*s, "Op: ping\nThread: 1\nPV: 2.1\n\n"), "Code"), "200");
  // Over the per-address budget: dropped without a reply (a 503 would reflect a spoofed flood).
  EXPECT_EQ(raw(*s, "Op: ping\nThread: 1\nPV: 2.1\n\n"), "");
  EXPECT_EQ(s->counters().rate_limited.value(), 1u);
  mono_ += 1'000'000'000;
  EXPECT_EQ(field(call(*s, "Op: ping\nThread: 1\nPV: 2.1\n\n"), "Code"), "200");
  std::string silent = "unset";
  s->handle(std::string(9000, 'x'), "k", [&](std::string r) { silent = std::move(r); });
  EXPECT_EQ(silent, "");  // oversized and no Thread: no answer
  EXPECT_EQ(
      field(call(*s, "Thread: 5\nPV: 2.1\nOp: ping\nX: " + std::string(9000, 'x') + "\n"), "Code"),
      "400");
}

TEST_F(PyzorServiceTest, ReplyWaitsForTheCommit) {
  auto s = service();
  store_.defer = true;
  std::string out;
  s->handle(request("report", {kDigest}, "alice", alice_key(), kNow, 77), "k",
            [&](std::string r) { out = std::move(r); });
  EXPECT_TRUE(out.empty());
  store_.release();
  EXPECT_NE(out.find("Code: 200\n"), std::string::npos);
  store_.defer = false;
  store_.unavailable = true;
  EXPECT_EQ(field(call(*s, request("report", {kDigest}, "alice", alice_key(), kNow, 78)), "Code"),
            "503");
}

TEST_F(PyzorServiceTest, NoReflection) {
  // The observed reflection: the 8-byte datagram "Thread:1" earned a 90-byte 400 reply, and
  // a flood from one (spoofable) address got one reply per datagram.
  auto s = service();
  EXPECT_EQ(raw(*s, "Thread:1"), "");
  EXPECT_EQ(raw(*s, "Thread: 1\n"), "");
  EXPECT_EQ(raw(*s, "Thread: 1\nPV: 9.9\n\n"), "");         // 505 is larger than the request
  EXPECT_EQ(raw(*s, "Thread: 1\nPV: 2.1\nOp: x\n\n"), "");  // 403 likewise
  EXPECT_GE(s->counters().suppressed.value(), 4u);

  // A flood of small garbage and of valid pings from one address: what goes back is never
  // larger than what came in, for garbage; valid pings are answered only within the budget.
  Config o;
  o.ip_limit = {10, 20};
  auto f = service(o);
  std::size_t in = 0, out = 0, answered_pings = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string g = "Thread:" + std::to_string(i);
    in += g.size();
    out += raw(*f, g, "203.0.113.9").size();
  }
  EXPECT_EQ(out, 0u);
  for (int i = 0; i < 5000; ++i) {
    std::string r = raw(*f, "Op: ping\nThread: 1\nPV: 2.1\n\n", "203.0.113.9");
    if (!r.empty()) ++answered_pings;
  }
  EXPECT_LE(answered_pings, 20u);  // the burst; the clock does not move
  EXPECT_GT(in, 0u);

  // Error replies that fit in their request are still sent (real clients see their errors).
  auto bad = call(*s, request("report", {kDigest}, "alice", std::string(40, '0'), kNow, 1201));
  EXPECT_EQ(field(bad, "Code"), "401");
}

TEST_F(PyzorServiceTest, ReplayRefusedAfterRestart) {
  // The observed replay: the replay cache lived only in memory, so after a restart a
  // captured signed report was accepted again. The store now consumes (user, Sig) with the
  // votes; a new service (a restarted node, empty memory) over the same store refuses it.
  std::string good = request("whitelist", {kDigest}, "alice", alice_key(), kNow, 1300);
  {
    auto s = service();
    EXPECT_EQ(field(call(*s, good), "Code"), "200");
  }
  auto restarted = service();
  auto again = call(*restarted, good);
  EXPECT_EQ(field(again, "Code"), "401");
  EXPECT_EQ(field(again, "Diag"), "Unauthorized: Signature Error: Replayed request.");
  EXPECT_EQ(restarted->counters().replays.value(), 1u);
}

}  // namespace
}  // namespace strop::node
