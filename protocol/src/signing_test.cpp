#include "protocol/signing.hpp"

#include <gtest/gtest.h>

#include "base/digest.hpp"

namespace strop::protocol {
namespace {

constexpr std::string_view kBody = R"({"v":1})";
constexpr std::string_view kNonce = "0123456789abcdef";

TEST(Signing, MatchesIndependentVector) {
  // Computed with Python's hmac/hashlib (docs/protocol.md shows the same example).
  EXPECT_EQ(sha256_hex(kBody), "afbf9d0f3560b0fd7795e81c42a0a79ee6b6fc67e064f77826aee642cad28d91");
  auto h = sign_request("alice", "s3cret", "POST", "/v1/report", kBody, 1700000000, kNonce);
  EXPECT_EQ(h.reporter, "alice");
  EXPECT_EQ(h.timestamp, "1700000000");
  EXPECT_EQ(h.nonce, kNonce);
  EXPECT_EQ(h.signature, "4c3f50f521b56bd428ffca681851a4fab90aab814686b2bfddfb47cda5dc7992");
}

TEST(Signing, CanonicalStringLayout) {
  EXPECT_EQ(canonical_request("POST", "/v1/report", "1700000000", kNonce, kBody),
            "STROP-HMAC-SHA256\nPOST\n/v1/report\n1700000000\n0123456789abcdef\n"
            "afbf9d0f3560b0fd7795e81c42a0a79ee6b6fc67e064f77826aee642cad28d91");
}

TEST(Signing, VerifyAcceptsWithinWindow) {
  auto h = sign_request("alice", "s3cret", "POST", "/v1/report", kBody, 1000, kNonce);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000, 300), AuthStatus::kOk);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1300, 300), AuthStatus::kOk);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 700, 300), AuthStatus::kOk);
}

TEST(Signing, VerifyRejectsOutsideWindow) {
  auto h = sign_request("alice", "s3cret", "POST", "/v1/report", kBody, 1000, kNonce);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1301, 300),
            AuthStatus::kStale);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 699, 300), AuthStatus::kStale);
}

TEST(Signing, VerifyRejectsAnyChange) {
  auto h = sign_request("alice", "s3cret", "POST", "/v1/report", kBody, 1000, kNonce);
  EXPECT_EQ(verify_request(h, "other", "POST", "/v1/report", kBody, 1000),
            AuthStatus::kBadSignature);
  EXPECT_EQ(verify_request(h, "s3cret", "GET", "/v1/report", kBody, 1000),
            AuthStatus::kBadSignature);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/revoke", kBody, 1000),
            AuthStatus::kBadSignature);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", R"({"v":2})", 1000),
            AuthStatus::kBadSignature);
  auto h2 = h;
  h2.nonce = "0123456789abcdeg";
  EXPECT_EQ(verify_request(h2, "s3cret", "POST", "/v1/report", kBody, 1000),
            AuthStatus::kBadSignature);
  auto h3 = h;
  h3.timestamp = "1001";
  EXPECT_EQ(verify_request(h3, "s3cret", "POST", "/v1/report", kBody, 1000),
            AuthStatus::kBadSignature);
}

TEST(Signing, VerifyRejectsMalformedHeaders) {
  auto good = sign_request("alice", "s3cret", "POST", "/v1/report", kBody, 1000, kNonce);
  auto h = good;
  h.timestamp = "10x0";
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  h.timestamp = "";
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  h.timestamp = "-1000";
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  h.nonce = "short";
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  h.nonce = "0123456789abcdef!";
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  h.signature = good.signature.substr(1);
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  for (auto& c : h.signature) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
  h = good;
  h.reporter.clear();
  EXPECT_EQ(verify_request(h, "s3cret", "POST", "/v1/report", kBody, 1000), AuthStatus::kMalformed);
}

TEST(Signing, NonceAndSecretShapes) {
  auto n1 = make_nonce();
  auto n2 = make_nonce();
  EXPECT_EQ(n1.size(), 32u);
  EXPECT_TRUE(valid_nonce(n1));
  EXPECT_NE(n1, n2);
  auto s = make_secret();
  EXPECT_EQ(s.size(), 43u);
  EXPECT_EQ(s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_NE(s, make_secret());
}

TEST(Signing, EmptyBodyAndEmptySecret) {
  auto h = sign_request("bob", "", "GET", "/v1/state", "", 5, kNonce);
  EXPECT_EQ(verify_request(h, "", "GET", "/v1/state", "", 5), AuthStatus::kOk);
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace strop::protocol
