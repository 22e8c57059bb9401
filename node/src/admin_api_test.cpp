// The admin API (admin_api.hpp) through Api::handle, over the fake store.
#include "admin_api.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "admin_api_internal.hpp"
#include "fake_store_test_util.hpp"
#include "protocol/codec.hpp"
#include "protocol/signing.hpp"

namespace strop::node {
namespace {

using protocol::ApiErrc;
using testing::FakeStore;

const std::string kSig = "body/1:0123456789abcdef0123456789abcdef";

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config o;
    o.ip_limit = {0, 0};
    o.reporter_limit = {0, 0};
    service_ = std::make_unique<SignatureService>(
        o, store_, metrics_, Clocks{[this] { return now_s_; }, [this] { return now_ns_; }});
    api_ = std::make_unique<Api>(*service_);
    alice_ = *store_.add_reporter({"alice", "alice-secret", 1.0, true, false});
    ASSERT_TRUE(store_.add_reporter({"root", "root-secret", 1.0, true, true}).ok());
  }

  // Sends one request signed by `who` ("" = unsigned); the response (synchronous here: the
  // service's offload executor runs jobs inline).
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& who = "root", const std::string& body = "") {
    method_ = method;
    target_ = target;
    body_ = body;
    protocol::AuthHeaders auth;
    if (!who.empty()) {
      auth = protocol::sign_request(who, who + "-secret", method_, target_, body_, now_s_,
                                    protocol::make_nonce());
    }
    HttpRequest req{method_, target_, body_, auth, "10.0.0.1", {}};
    std::optional<HttpResponse> out;
    api_->handle(req, [&out](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return out.value_or(HttpResponse{});
  }

  static ApiErrc code_of(const HttpResponse& r) {
    auto e = protocol::decode_error_body(r.body);
    EXPECT_TRUE(e.ok()) << r.body;
    return e.ok() ? e->code : ApiErrc::kInternal;
  }

  void report(const std::string& sig) {
    store_.report(alice_.id, {*sigs::parse_signature(sig)}, store_.clock,
                  [](Result<storage::VoteOutcome>) {});
  }
  bool spam(const std::string& sig) {
    auto out = service_->check(std::vector<sigs::Signature>{*sigs::parse_signature(sig)});
    return out.has_value() && out->spam;
  }

  FakeStore store_;
  NodeMetrics metrics_;
  std::unique_ptr<SignatureService> service_;
  std::unique_ptr<Api> api_;
  storage::Reporter alice_;
  std::string method_, target_, body_;
  std::int64_t now_s_ = 1'700'000'000;
  std::int64_t now_ns_ = 1'000'000'000;
};

TEST_F(AdminApiTest, ShowAllowUnallowDelete) {
  report(kSig);
  auto show = call("GET", "/admin/sig/" + kSig);
  ASSERT_EQ(show.status, 200) << show.body;
  auto j = nlohmann::json::parse(show.body);
  EXPECT_EQ(j["id"], kSig);
  EXPECT_EQ(j["stored"], true);
  EXPECT_EQ(j["listed"], true);
  EXPECT_EQ(j["allowed"], false);
  EXPECT_EQ(j["reports"], 1);
  ASSERT_EQ(j["reporters"].size(), 1u);

  auto allow = call("POST", "/admin/sig/" + kSig + "/allow");
  ASSERT_EQ(allow.status, 200) << allow.body;
  EXPECT_EQ(nlohmann::json::parse(allow.body)["changed"], true);
  EXPECT_FALSE(spam(kSig));
  j = nlohmann::json::parse(call("GET", "/admin/sig/" + kSig).body);
  EXPECT_EQ(j["allowed"], true);
  EXPECT_EQ(j["listed"], false);

  EXPECT_EQ(call("POST", "/admin/sig/" + kSig + "/unallow").status, 200);
  EXPECT_TRUE(spam(kSig));

  // Percent-encoded ids work too (':' as %3A).
  auto del = call("DELETE", "/admin/sig/body%2F1%3A0123456789abcdef0123456789abcdef");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(nlohmann::json::parse(del.body)["deleted"], true);
  EXPECT_FALSE(spam(kSig));
  auto again = call("POST", "/admin/sig/" + kSig + "/delete");
  EXPECT_EQ(nlohmann::json::parse(again.body)["deleted"], false);
  j = nlohmann::json::parse(call("GET", "/admin/sig/" + kSig).body);
  EXPECT_EQ(j["stored"], false);
  EXPECT_TRUE(j["first_seen"].is_null());
}

TEST_F(AdminApiTest, OnlySignedAdminRequests) {
  auto unsigned_req = call("GET", "/admin/sig/" + kSig, "");
  EXPECT_EQ(unsigned_req.status, 401);
  EXPECT_EQ(code_of(unsigned_req), ApiErrc::kAuthRequired);
  auto not_admin = call("POST", "/admin/sig/" + kSig + "/allow", "alice");
  EXPECT_EQ(not_admin.status, 403);
  EXPECT_EQ(code_of(not_admin), ApiErrc::kForbidden);
  EXPECT_FALSE(service_->describe(std::vector<sigs::Signature>{*sigs::parse_signature(kSig)})
                   ->at(0)
                   .info.allowed);
}

TEST_F(AdminApiTest, RoutingErrors) {
  EXPECT_EQ(call("GET", "/admin/nothing").status, 404);
  EXPECT_EQ(call("GET", "/admin/sig/").status, 404);
  // An unknown last segment is part of the id, which does not parse.
  EXPECT_EQ(call("POST", "/admin/sig/" + kSig + "/frobnicate").status, 405);
  EXPECT_EQ(call("GET", "/admin/sig/" + kSig + "/frobnicate").status, 400);
  auto wrong = call("GET", "/admin/sig/" + kSig + "/allow");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "POST");
  EXPECT_EQ(call("GET", "/admin/sig/body/1:xyz").status, 400);
  auto bad_id = call("GET", "/admin/sig/nosuchengine:00");
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(code_of(bad_id), ApiErrc::kInvalid);
  EXPECT_EQ(call("GET", "/admin/sig/body%2F1%3Azz%").status, 400);
}

TEST_F(AdminApiTest, ReporterShowListTrustDisableEnable) {
  auto show = call("GET", "/admin/reporter/alice");
  ASSERT_EQ(show.status, 200) << show.body;
  auto j = nlohmann::json::parse(show.body);
  EXPECT_EQ(j["name"], "alice");
  EXPECT_EQ(j["trust"], 1.0);
  EXPECT_EQ(j["disabled"], false);
  EXPECT_EQ(j["admin"], false);
  EXPECT_EQ(j["peer"], false);
  EXPECT_TRUE(j.contains("open_registration"));
  EXPECT_TRUE(j.contains("created"));
  EXPECT_TRUE(j.contains("last_active"));
  EXPECT_FALSE(j.contains("secret"));
  EXPECT_EQ(show.body.find("alice-secret"), std::string::npos);

  // Pages by name.
  auto first = nlohmann::json::parse(call("GET", "/admin/reporters?limit=1").body);
  ASSERT_EQ(first["reporters"].size(), 1u);
  EXPECT_EQ(first["reporters"][0]["name"], "alice");
  EXPECT_EQ(first["next"], "alice");
  auto second = nlohmann::json::parse(call("GET", "/admin/reporters?limit=1&after=alice").body);
  ASSERT_EQ(second["reporters"].size(), 1u);
  EXPECT_EQ(second["reporters"][0]["name"], "root");
  EXPECT_TRUE(second["next"].is_null());
  EXPECT_EQ(nlohmann::json::parse(call("GET", "/admin/reporters").body)["reporters"].size(), 2u);
  EXPECT_EQ(call("GET", "/admin/reporters?limit=0").status, 400);

  auto trust = call("POST", "/admin/reporter/alice/trust", "root", R"({"trust":0.25})");
  ASSERT_EQ(trust.status, 200) << trust.body;
  EXPECT_EQ(nlohmann::json::parse(trust.body)["trust"], 0.25);
  EXPECT_EQ(nlohmann::json::parse(call("GET", "/admin/reporter/alice").body)["trust"], 0.25);
  auto out_of_range = call("POST", "/admin/reporter/alice/trust", "root", R"({"trust":1.5})");
  EXPECT_EQ(out_of_range.status, 400);
  EXPECT_EQ(code_of(out_of_range), ApiErrc::kInvalid);
  EXPECT_EQ(call("POST", "/admin/reporter/alice/trust", "root", R"({"trust":"x"})").status, 400);
  EXPECT_EQ(call("POST", "/admin/reporter/alice/trust", "root", "0.5").status, 400);

  auto disable = call("POST", "/admin/reporter/alice/disable");
  ASSERT_EQ(disable.status, 200) << disable.body;
  EXPECT_EQ(nlohmann::json::parse(disable.body)["disabled"], true);
  EXPECT_EQ(call("GET", "/admin/sig/" + kSig, "alice").status, 403);  // alice is no admin anyway
  EXPECT_EQ(nlohmann::json::parse(call("GET", "/admin/reporter/alice").body)["disabled"], true);
  auto enable = call("POST", "/admin/reporter/alice/enable");
  ASSERT_EQ(enable.status, 200) << enable.body;
  EXPECT_EQ(nlohmann::json::parse(enable.body)["disabled"], false);

  // Unknown reporters are 404, names no reporter can have 400, wrong methods 405.
  auto unknown = call("GET", "/admin/reporter/nobody");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(code_of(unknown), ApiErrc::kNotFound);
  EXPECT_EQ(call("POST", "/admin/reporter/nobody/disable").status, 404);
  EXPECT_EQ(call("POST", "/admin/reporter/nobody/trust", "root", R"({"trust":0.5})").status, 404);
  EXPECT_EQ(call("GET", "/admin/reporter/a%2Fb").status, 400);
  auto wrong = call("GET", "/admin/reporter/alice/disable");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "POST");
  EXPECT_EQ(call("POST", "/admin/reporter/alice").status, 405);
  EXPECT_EQ(call("GET", "/admin/reporters", "alice").status, 403);
  EXPECT_EQ(call("GET", "/admin/reporter/alice", "").status, 401);
}

TEST(AdminPath, ReporterRoutesQueriesAndBodies) {
  using admin_internal::Action;
  using admin_internal::route_of;
  auto list = route_of("/admin/reporters", "GET");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->action, Action::kReporterList);
  auto show = route_of("/admin/reporter/alice", "GET");
  ASSERT_TRUE(show);
  EXPECT_EQ(show->action, Action::kReporterShow);
  EXPECT_EQ(show->id, "alice");
  auto trust = route_of("/admin/reporter/alice/trust", "GET");
  ASSERT_TRUE(trust);
  EXPECT_EQ(trust->action, Action::kReporterTrust);
  EXPECT_EQ(trust->method, "POST");
  EXPECT_EQ(trust->id, "alice");
  EXPECT_EQ(route_of("/admin/reporter/alice/disable", "POST")->action, Action::kReporterDisable);
  EXPECT_EQ(route_of("/admin/reporter/alice/enable", "POST")->action, Action::kReporterEnable);
  EXPECT_FALSE(route_of("/admin/reporter/", "GET"));

  using admin_internal::parse_name;
  EXPECT_EQ(*parse_name("a%40b.example"), "a@b.example");
  EXPECT_EQ(parse_name("a/b").error().code, Errc::kMalformed);
  EXPECT_EQ(parse_name("a%2").error().code, Errc::kMalformed);
  EXPECT_EQ(parse_name(std::string(65, 'a')).error().code, Errc::kMalformed);
  EXPECT_EQ(parse_name(std::string(admin_internal::kMaxNameChars + 1, 'a')).error().code,
            Errc::kLimitExceeded);

  using admin_internal::parse_reporter_query;
  auto dflt = parse_reporter_query("");
  ASSERT_TRUE(dflt);
  EXPECT_EQ(dflt->limit, admin_internal::kDefaultReporterPage);
  EXPECT_EQ(dflt->after, "");
  auto page = parse_reporter_query("after=a%40b&x=1&limit=5");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->limit, 5u);
  EXPECT_EQ(page->after, "a@b");
  EXPECT_EQ(parse_reporter_query("limit=99999999999999999999999")->limit,
            admin_internal::kMaxReporterPage);
  EXPECT_FALSE(parse_reporter_query("limit=-1"));
  EXPECT_FALSE(parse_reporter_query("limit=1x"));
  EXPECT_FALSE(parse_reporter_query(std::string(admin_internal::kMaxQueryChars + 1, 'a')));

  using admin_internal::parse_trust_body;
  auto t = parse_trust_body(R"({"trust":0.7,"pinned":false})");
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(t->trust, 0.7);
  EXPECT_FALSE(t->pinned);
  EXPECT_TRUE(parse_trust_body(R"({"trust":1})")->pinned);
  EXPECT_FALSE(parse_trust_body(R"({"trust":0.7,"pinned":1})"));
  EXPECT_FALSE(parse_trust_body(R"({"pinned":true})"));
  EXPECT_FALSE(parse_trust_body("[0.7]"));
  EXPECT_FALSE(parse_trust_body("{"));
  EXPECT_EQ(parse_trust_body(std::string(admin_internal::kMaxTrustBody + 1, ' ')).error().code,
            Errc::kLimitExceeded);
}

TEST_F(AdminApiTest, PeerRoutesAddListEditAndRemove) {
  const std::string add =
      R"({"name":"solo.example","url":"http://127.0.0.1:8080","secret":"0123456789abcdef",)"
      R"("trust":0.6})";
  auto added = call("POST", "/admin/peers", "root", add);
  ASSERT_EQ(added.status, 200) << added.body;
  auto j = nlohmann::json::parse(added.body);
  EXPECT_EQ(j["name"], "solo.example");
  EXPECT_EQ(j["url"], "http://127.0.0.1:8080");
  EXPECT_FALSE(j.contains("secret"));  // never echoed
  EXPECT_EQ(call("POST", "/admin/peers", "root", add).status, 409);
  EXPECT_EQ(
      call("POST", "/admin/peers", "root", R"({"name":"x","url":"http://x","secret":"short"})")
          .status,
      400);
  auto list = call("GET", "/admin/peers");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(nlohmann::json::parse(list.body)["peers"].size(), 1u);
  EXPECT_EQ(call("GET", "/admin/peer/solo.example").status, 200);
  // A reporter's name is no peer.
  EXPECT_EQ(call("GET", "/admin/peer/alice").status, 404);
  EXPECT_EQ(call("POST", "/admin/peer/alice/disable").status, 404);
  EXPECT_FALSE(store_.find_reporter("alice")->disabled);

  auto trust = call("POST", "/admin/peer/solo.example/trust", "root", R"({"trust":0.2})");
  ASSERT_EQ(trust.status, 200) << trust.body;
  EXPECT_NEAR(store_.find_reporter("solo.example")->trust, 0.2, 0.01);
  ASSERT_EQ(call("POST", "/admin/peer/solo.example/disable").status, 200);
  EXPECT_TRUE(store_.find_reporter("solo.example")->disabled);
  ASSERT_EQ(call("POST", "/admin/peer/solo.example/enable").status, 200);
  EXPECT_FALSE(store_.find_reporter("solo.example")->disabled);

  auto wrong = call("PUT", "/admin/peers");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, POST");
  EXPECT_EQ(call("POST", "/admin/peer/solo.example").allow, "GET, DELETE");
  EXPECT_EQ(call("GET", "/admin/peers", "alice").status, 403);
  EXPECT_EQ(call("GET", "/admin/peers", "").status, 401);

  auto removed = call("DELETE", "/admin/peer/solo.example");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(nlohmann::json::parse(removed.body)["removed"], true);
  EXPECT_EQ(call("DELETE", "/admin/peer/solo.example").status, 404);
}

TEST(AdminPath, PeerRoutesAndBody) {
  using admin_internal::Action;
  using admin_internal::route_of;
  EXPECT_EQ(route_of("/admin/peers", "GET")->action, Action::kPeerList);
  EXPECT_EQ(route_of("/admin/peers", "POST")->action, Action::kPeerAdd);
  auto show = route_of("/admin/peer/solo.example", "GET");
  ASSERT_TRUE(show);
  EXPECT_EQ(show->action, Action::kPeerShow);
  EXPECT_EQ(show->id, "solo.example");
  EXPECT_EQ(route_of("/admin/peer/solo.example", "DELETE")->action, Action::kPeerRemove);
  auto trust = route_of("/admin/peer/solo.example/trust", "GET");
  ASSERT_TRUE(trust);
  EXPECT_EQ(trust->action, Action::kPeerTrust);
  EXPECT_EQ(trust->method, "POST");
  EXPECT_EQ(route_of("/admin/peer/p/disable", "POST")->action, Action::kPeerDisable);
  EXPECT_EQ(route_of("/admin/peer/p/enable", "POST")->action, Action::kPeerEnable);
  EXPECT_FALSE(route_of("/admin/peer/", "GET"));
  EXPECT_FALSE(admin_internal::reporter_action(Action::kPeerShow));
  EXPECT_TRUE(admin_internal::peer_action(Action::kPeerRemove));

  using admin_internal::parse_peer_body;
  auto b = parse_peer_body(R"({"name":"s","url":"http://x","secret":"0123456789abcdef"})");
  ASSERT_TRUE(b);
  EXPECT_DOUBLE_EQ(b->trust, 0.3);
  EXPECT_EQ(b->secret, "0123456789abcdef");
  EXPECT_FALSE(parse_peer_body(R"({"name":"s","url":"http://x"})"));
  EXPECT_FALSE(parse_peer_body(R"({"name":1,"url":"http://x","secret":"0123456789abcdef"})"));
  EXPECT_FALSE(
      parse_peer_body(R"({"name":"s","url":"http://x","secret":"0123456789abcdef","trust":"1"})"));
  EXPECT_FALSE(parse_peer_body("[]"));
  EXPECT_EQ(parse_peer_body(std::string(admin_internal::kMaxPeerBody + 1, ' ')).error().code,
            Errc::kLimitExceeded);
}

TEST(AdminPath, RoutesByMethodAndLastSegment) {
  using admin_internal::Action;
  using admin_internal::route_of;
  auto show = route_of("/admin/sig/body/1:ab", "GET");
  ASSERT_TRUE(show);
  EXPECT_EQ(show->action, Action::kShow);
  EXPECT_EQ(show->id, "body/1:ab");
  auto del = route_of("/admin/sig/body/1:ab", "DELETE");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->action, Action::kDelete);
  EXPECT_EQ(del->method, "DELETE");
  auto allow = route_of("/admin/sig/body/1:ab/allow", "GET");
  ASSERT_TRUE(allow);
  EXPECT_EQ(allow->action, Action::kAllow);
  EXPECT_EQ(allow->method, "POST");
  EXPECT_EQ(allow->id, "body/1:ab");
  // A verb with nothing before it is not a verb: "/allow" is then the ID, which never parses.
  auto bare = route_of("/admin/sig//allow", "POST");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->action, Action::kShow);
  EXPECT_FALSE(admin_internal::parse_id(bare->id));
  EXPECT_FALSE(route_of("/admin/sig/", "GET"));
  EXPECT_FALSE(route_of("/admin/other", "GET"));
}

TEST(AdminPath, IdsDecodeStrictlyWithinTheLimit) {
  using admin_internal::kMaxIdChars;
  using admin_internal::parse_id;
  const std::string text = kSig;
  auto plain = parse_id(text);
  ASSERT_TRUE(plain) << plain.error().to_string();
  EXPECT_EQ(plain->text(), text);
  std::string encoded;
  for (char c : text)
    encoded += c == '/' ? std::string("%2F") : c == ':' ? "%3a" : std::string(1, c);
  auto decoded = parse_id(encoded);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, *plain);
  EXPECT_EQ(parse_id(text + "%").error().code, Errc::kMalformed);
  EXPECT_EQ(parse_id(std::string(kMaxIdChars + 1, 'a')).error().code, Errc::kLimitExceeded);
}

}  // namespace
}  // namespace strop::node
