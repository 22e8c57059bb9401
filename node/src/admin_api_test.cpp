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
                    const std::string& who = "root") {
    method_ = method;
    target_ = target;
    protocol::AuthHeaders auth;
    if (!who.empty()) {
      auth = protocol::sign_request(who, who + "-secret", method_, target_, "", now_s_,
                                    protocol::make_nonce());
    }
    HttpRequest req{method_, target_, "", auth, "10.0.0.1", {}};
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
  std::string method_, target_;
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
