#include "protocol/codec.hpp"

#include <gtest/gtest.h>

#include <string>

#include "protocol/errors.hpp"

namespace strop::protocol {
namespace {

const std::string kBody = "body/1:0123456789abcdef0123456789abcdef";
const std::string kUrl = "url/1:fedcba9876543210fedcba9876543210";
const std::string kFuzzy = "fuzzy/1:" + std::string(256, 'a');
const std::string kPyzor = "pyzor:" + std::string(40, '1');

sigs::Signature sig(const std::string& text) {
  auto s = sigs::parse_signature(text);
  EXPECT_TRUE(s.ok()) << text;
  return s.ok() ? *s : sigs::Signature{};
}

std::string check_json(const std::string& messages) {
  return R"({"v":1,"messages":)" + messages + "}";
}

TEST(Codec, CheckRequestRoundTrip) {
  CheckRequest req;
  req.messages.push_back({"m1", {sig(kBody), sig(kFuzzy), sig(kUrl)}});
  req.messages.push_back({"", {sig(kPyzor)}});
  req.messages.push_back({"empty", {}});
  auto text = encode(req);
  auto back = decode_check_request(text);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  ASSERT_EQ(back->messages.size(), 3u);
  EXPECT_EQ(back->messages[0].id, "m1");
  EXPECT_EQ(back->messages[0].sigs, req.messages[0].sigs);
  EXPECT_EQ(back->messages[1].id, "");
  EXPECT_EQ(back->messages[1].sigs, req.messages[1].sigs);
  EXPECT_TRUE(back->messages[2].sigs.empty());
}

TEST(Codec, CheckRequestWireShape) {
  CheckRequest req;
  req.messages.push_back({"a", {sig(kBody)}});
  EXPECT_EQ(encode(req), R"({"v":1,"messages":[{"id":"a","sigs":[")" + kBody + R"("]}]})");
}

TEST(Codec, CheckRequestIgnoresUnknownFieldsAndWhitespace) {
  std::string text =
      " {\n \"extra\": {\"a\": [1, 2.5e3, true, null, \"x\"]},\t\"messages\" : [ {\"sigs\": [\"" +
      kBody + "\"], \"future\": false } ], \"v\": 1 } \n";
  auto r = decode_check_request(text);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].sigs[0].text(), kBody);
}

TEST(Codec, CheckRequestMissingVersionIsV1) {
  auto r = decode_check_request(R"({"messages":[{"sigs":[")" + kBody + R"("]}]})");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
}

TEST(Codec, CheckRequestUnsupportedVersion) {
  auto r = decode_check_request(R"({"v":2,"messages":[{"sigs":[")" + kBody + R"("]}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api_errc_for(r.error()), ApiErrc::kUnsupportedVersion);
}

TEST(Codec, CheckRequestEscapedStrings) {
  // An id with escapes and non-ASCII; a signature written with \u escapes.
  std::string esc_sig;
  for (char c : kBody) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
    esc_sig += buf;
  }
  auto r = decode_check_request(
      check_json(R"([{"id":"a\"b\\c\u00e9\ud83d\ude00 ü","sigs":[")" + esc_sig + R"("]}])"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->messages[0].id, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80 \xc3\xbc");
  EXPECT_EQ(r->messages[0].sigs[0].text(), kBody);
  // The id survives a round trip through the encoder.
  CheckResponse resp;
  resp.results.push_back({r->messages[0].id, Verdict::kNotSpam, 0, {}});
  auto back = decode_check_response(encode(resp));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->results[0].id, r->messages[0].id);
}

struct BadCase {
  const char* name;
  std::string body;
  Errc code;
};

TEST(Codec, CheckRequestRejectsMalformed) {
  std::vector<BadCase> cases = {
      {"empty", "", Errc::kMalformed},
      {"not json", "hello", Errc::kMalformed},
      {"array top", "[]", Errc::kMalformed},
      {"missing messages", R"({"v":1})", Errc::kMalformed},
      {"messages not array", R"({"messages":{}})", Errc::kMalformed},
      {"message not object", R"({"messages":[1]})", Errc::kMalformed},
      {"sigs not array", R"({"messages":[{"sigs":"x"}]})", Errc::kMalformed},
      {"sig not string", R"({"messages":[{"sigs":[1]}]})", Errc::kMalformed},
      {"trailing comma", check_json(R"([{"sigs":[]},])"), Errc::kMalformed},
      {"trailing comma obj", R"({"messages":[{"sigs":[]}],})", Errc::kMalformed},
      {"trailing garbage", check_json(R"([{"sigs":[]}])") + "x", Errc::kMalformed},
      {"two objects", check_json(R"([{"sigs":[]}])") + "{}", Errc::kMalformed},
      {"unterminated", R"({"messages":[{"sigs":[)", Errc::kMalformed},
      {"bad escape", R"({"messages":[{"id":"\q","sigs":[]}]})", Errc::kMalformed},
      {"lone surrogate", R"({"messages":[{"id":"\ud800","sigs":[]}]})", Errc::kMalformed},
      {"raw control", "{\"messages\":[{\"id\":\"a\x01\",\"sigs\":[]}]}", Errc::kMalformed},
      {"bad utf8", "{\"messages\":[{\"id\":\"\xc3\x28\",\"sigs\":[]}]}", Errc::kMalformed},
      {"overlong utf8", "{\"messages\":[{\"id\":\"\xc0\xaf\",\"sigs\":[]}]}", Errc::kMalformed},
      {"v not int", R"({"v":"1","messages":[{"sigs":[]}]})", Errc::kMalformed},
      {"v float", R"({"v":1.0,"messages":[{"sigs":[]}]})", Errc::kMalformed},
      {"bad number", R"({"x":01,"messages":[{"sigs":[]}]})", Errc::kMalformed},
      {"bad literal", R"({"x":tru,"messages":[{"sigs":[]}]})", Errc::kMalformed},
      {"empty messages", R"({"messages":[]})", Errc::kInvalidArgument},
      {"bad signature", check_json(R"([{"sigs":["body/1:xyz"]}])"), Errc::kInvalidArgument},
      {"unknown engine", check_json(R"([{"sigs":["nope/1:00"]}])"), Errc::kInvalidArgument},
  };
  for (const auto& c : cases) {
    auto r = decode_check_request(c.body);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, c.code) << c.name << ": " << r.error().to_string();
  }
}

TEST(Codec, CheckRequestLimits) {
  Limits lim;
  lim.max_messages = 2;
  lim.max_sigs_per_message = 2;
  lim.max_signature_length = 40;
  lim.max_message_id_length = 4;
  lim.max_json_depth = 4;
  lim.max_body_bytes = 300;
  std::string one = R"({"sigs":[")" + kBody + R"("]})";
  EXPECT_TRUE(decode_check_request(check_json("[" + one + "," + one + "]"), lim).ok());
  auto too_many = decode_check_request(check_json("[" + one + "," + one + "," + one + "]"), lim);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, Errc::kLimitExceeded);
  auto many_sigs = decode_check_request(
      check_json(R"([{"sigs":[")" + kBody + "\",\"" + kBody + "\",\"" + kBody + "\"]}]"), lim);
  ASSERT_FALSE(many_sigs.ok());
  EXPECT_EQ(many_sigs.error().code, Errc::kLimitExceeded);
  auto long_sig = decode_check_request(check_json(R"([{"sigs":[")" + kPyzor + R"("]}])"), lim);
  ASSERT_FALSE(long_sig.ok());
  EXPECT_EQ(long_sig.error().code, Errc::kLimitExceeded);
  auto long_id = decode_check_request(check_json(R"([{"id":"abcde","sigs":[]}])"), lim);
  ASSERT_FALSE(long_id.ok());
  EXPECT_EQ(long_id.error().code, Errc::kLimitExceeded);
  auto deep = decode_check_request(R"({"x":[[[[1]]]],"messages":[{"sigs":[]}]})", lim);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code, Errc::kLimitExceeded);
  auto big = decode_check_request(check_json("[" + one + "]") + std::string(300, ' '), lim);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::kLimitExceeded);
  EXPECT_EQ(api_errc_for(big.error()), ApiErrc::kLimitExceeded);
}

TEST(Codec, DeepNestingIsBoundedNotRecursive) {
  std::string deep = R"({"x":)" + std::string(100000, '[') + std::string(100000, ']') +
                     R"(,"messages":[{"sigs":[]}]})";
  Limits lim;
  lim.max_body_bytes = deep.size();
  auto r = decode_check_request(deep, lim);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kLimitExceeded);
  auto reg = decode_register_request(R"({"name":"a","x":)" + std::string(100000, '[') + "}", lim);
  ASSERT_FALSE(reg.ok());
  EXPECT_EQ(reg.error().code, Errc::kLimitExceeded);
}

TEST(Codec, VoteRequestNeedsSignatures) {
  VoteRequest req;
  req.messages.push_back({"x", {sig(kBody), sig(kUrl)}});
  auto back = decode_vote_request(encode(req));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->messages[0].sigs, req.messages[0].sigs);
  auto empty = decode_vote_request(check_json(R"([{"sigs":[]}])"));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, Errc::kInvalidArgument);
  auto missing = decode_vote_request(check_json(R"([{"id":"x"}])"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kInvalidArgument);
}

TEST(Codec, CheckResponseRoundTrip) {
  CheckResponse resp;
  MessageVerdict mv;
  mv.id = "m1";
  mv.verdict = Verdict::kSpam;
  mv.confidence = 87;
  mv.matches.push_back({sigs::Engine::kFuzzy, kFuzzy, 0.84375, 3, 1, 80});
  mv.matches.push_back({sigs::Engine::kBody, kBody, 1.0, 1, 0, 87});
  resp.results.push_back(mv);
  resp.results.push_back({});
  auto text = encode(resp);
  EXPECT_NE(text.find(R"("verdict":"spam","confidence":87)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("similarity":0.84375)"), std::string::npos) << text;
  auto back = decode_check_response(text);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  ASSERT_EQ(back->results.size(), 2u);
  const auto& r0 = back->results[0];
  EXPECT_EQ(r0.id, "m1");
  EXPECT_EQ(r0.verdict, Verdict::kSpam);
  EXPECT_EQ(r0.confidence, 87);
  ASSERT_EQ(r0.matches.size(), 2u);
  EXPECT_EQ(r0.matches[0].engine, sigs::Engine::kFuzzy);
  EXPECT_EQ(r0.matches[0].id, kFuzzy);
  EXPECT_DOUBLE_EQ(r0.matches[0].similarity, 0.84375);
  EXPECT_EQ(r0.matches[0].reports, 3u);
  EXPECT_EQ(r0.matches[0].revokes, 1u);
  EXPECT_EQ(r0.matches[0].confidence, 80);
  EXPECT_EQ(back->results[1].verdict, Verdict::kNotSpam);
}

TEST(Codec, CheckResponseIgnoresUnknownEngines) {
  auto r = decode_check_response(
      R"({"v":1,"results":[{"verdict":"spam","confidence":60,"matches":[{"engine":"future/9","id":"future/9:x"}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->results[0].matches.empty());
}

TEST(Codec, VoteResponseRoundTrip) {
  VoteResponse resp;
  resp.results.push_back({"a", 1, 2, 3, 4, 5});
  auto back = decode_vote_response(encode(resp));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->results.size(), 1u);
  EXPECT_EQ(back->results[0].id, "a");
  EXPECT_EQ(back->results[0].recorded, 1u);
  EXPECT_EQ(back->results[0].unchanged, 2u);
  EXPECT_EQ(back->results[0].changed, 3u);
  EXPECT_EQ(back->results[0].withdrawn, 4u);
  EXPECT_EQ(back->results[0].unknown, 5u);
}

TEST(Codec, RegisterRoundTrip) {
  RegisterRequest req{"alice@example.org", 0.75, true};
  auto back = decode_register_request(encode(req));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->name, "alice@example.org");
  ASSERT_TRUE(back->trust.has_value());
  EXPECT_DOUBLE_EQ(*back->trust, 0.75);
  EXPECT_TRUE(back->admin);

  auto plain = decode_register_request(R"({"v":1,"name":"bob"})");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->trust.has_value());
  EXPECT_FALSE(plain->admin);

  EXPECT_EQ(decode_register_request(R"({"v":1})").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_register_request(R"({"name":"bad name"})").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(decode_register_request(R"({"name":"-x"})").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(decode_register_request(R"({"name":"x","trust":1.5})").error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(decode_register_request(R"({"name":"x","trust":"hi"})").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_register_request(R"({"name":"x","admin":1})").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_register_request(R"({"name":7})").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_register_request("{").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_register_request(R"({"name":"x","v":3})").error().code, Errc::kInvalidArgument);

  RegisterResponse resp{"alice", "secret-text", 0.1};
  auto rb = decode_register_response(encode(resp));
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->reporter, "alice");
  EXPECT_EQ(rb->secret, "secret-text");
  EXPECT_DOUBLE_EQ(rb->trust, 0.1);
}

TEST(Codec, StateRoundTrip) {
  StateResponse s;
  s.node_version = "0.1.0";
  s.engines = {"body/1", "fuzzy/1"};
  s.threshold = 50;
  s.limits.max_messages = 77;
  s.anonymous_check = false;
  s.open_registration = false;
  s.signatures = 123456789012ull;
  s.reporters = 3;
  auto b = decode_state_response(encode(s));
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(b->node_version, "0.1.0");
  EXPECT_EQ(b->api_version, kApiVersion);
  EXPECT_EQ(b->engines, s.engines);
  EXPECT_EQ(b->threshold, 50);
  EXPECT_EQ(b->limits.max_messages, 77u);
  EXPECT_EQ(b->limits.max_body_bytes, s.limits.max_body_bytes);
  EXPECT_FALSE(b->anonymous_check);
  EXPECT_FALSE(b->open_registration);
  EXPECT_EQ(b->signatures, 123456789012ull);
  EXPECT_EQ(b->reporters, 3u);
}

TEST(Codec, ErrorBodyRoundTrip) {
  ErrorBody e{ApiErrc::kReplayedNonce, "nonce \"x\" reused\n"};
  auto text = encode(e);
  EXPECT_EQ(text, R"({"v":1,"error":{"code":"replayed_nonce","message":"nonce \"x\" reused\n"}})");
  auto b = decode_error_body(text);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->code, ApiErrc::kReplayedNonce);
  EXPECT_EQ(b->message, e.message);
  auto unknown = decode_error_body(R"({"v":1,"error":{"code":"brand_new","message":"m"}})");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->code, ApiErrc::kInternal);
  EXPECT_EQ(unknown->message, "brand_new: m");
}

TEST(Codec, IdentityRoundTrip) {
  Identity id{"http://127.0.0.1:7420", "alice", "abc-def_123"};
  auto b = decode_identity(encode(id));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->node, id.node);
  EXPECT_EQ(b->reporter, id.reporter);
  EXPECT_EQ(b->secret, id.secret);
  EXPECT_FALSE(decode_identity(R"({"node":"x","reporter":"a"})").ok());
  EXPECT_FALSE(decode_identity(R"({"node":"x","reporter":"a b","secret":"s"})").ok());
}

TEST(Errors, StableNamesAndStatuses) {
  EXPECT_EQ(api_errc_name(ApiErrc::kMalformed), "malformed");
  EXPECT_EQ(http_status(ApiErrc::kMalformed), 400);
  EXPECT_EQ(http_status(ApiErrc::kBadSignature), 401);
  EXPECT_EQ(http_status(ApiErrc::kForbidden), 403);
  EXPECT_EQ(http_status(ApiErrc::kNotFound), 404);
  EXPECT_EQ(http_status(ApiErrc::kMethodNotAllowed), 405);
  EXPECT_EQ(http_status(ApiErrc::kTooLarge), 413);
  EXPECT_EQ(http_status(ApiErrc::kRateLimited), 429);
  EXPECT_EQ(http_status(ApiErrc::kOverloaded), 503);
  for (int i = 1; i <= 18; ++i) {
    auto c = static_cast<ApiErrc>(i);
    auto back = api_errc_from_name(api_errc_name(c));
    ASSERT_TRUE(back.has_value()) << i;
    EXPECT_EQ(*back, c);
  }
  EXPECT_FALSE(api_errc_from_name("nope").has_value());
  EXPECT_EQ(errc_from(ApiErrc::kRateLimited), Errc::kRateLimited);
  EXPECT_EQ(errc_from(ApiErrc::kOverloaded), Errc::kUnavailable);
  EXPECT_EQ(api_errc_from(Errc::kUnavailable), ApiErrc::kOverloaded);
}

TEST(Limits, ReporterNames) {
  EXPECT_TRUE(valid_reporter_name("alice"));
  EXPECT_TRUE(valid_reporter_name("a.b-c_d@e+f"));
  EXPECT_FALSE(valid_reporter_name(""));
  EXPECT_FALSE(valid_reporter_name(".hidden"));
  EXPECT_FALSE(valid_reporter_name("-x"));
  EXPECT_FALSE(valid_reporter_name("a b"));
  EXPECT_FALSE(valid_reporter_name("a/b"));
  EXPECT_TRUE(valid_reporter_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_reporter_name(std::string(65, 'a')));
}

}  // namespace
}  // namespace strop::protocol
