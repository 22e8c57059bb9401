#include "node/razor_accounts.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace strop::node {
namespace {

NodeKey test_key(unsigned char fill) {
  std::array<unsigned char, NodeKey::kBytes> k{};
  k.fill(fill);
  return NodeKey::from_bytes(k);
}

TEST(RazorAccounts, KeyFileIsCreatedPrivateAndReloaded) {
  char tmpl[] = "/tmp/strop-razor-key-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/razor.key";
  auto missing = NodeKey::load(path, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  auto a = NodeKey::load(path, true);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto b = NodeKey::load(path, true);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->bytes(), b->bytes());
  std::filesystem::resize_file(path, 5);
  auto bad = NodeKey::load(path, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kMalformed);
  std::filesystem::remove_all(tmpl);
}

TEST(RazorAccounts, SealedPasswordsOpenOnlyForTheirReporterAndKey) {
  RazorAccounts acc(test_key(7));
  auto sealed = acc.seal("alice@example.org", "s3cret");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(RazorAccounts::is_sealed(*sealed));
  EXPECT_EQ(sealed->find("s3cret"), std::string::npos);
  EXPECT_LE(sealed->size(), 128u);  // fits the store's secret limit
  auto again = acc.seal("alice@example.org", "s3cret");
  EXPECT_NE(*again, *sealed);  // fresh nonce every time

  auto opened = acc.open("alice@example.org", *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "s3cret");

  auto other_name = acc.open("bob", *sealed);
  ASSERT_FALSE(other_name.ok());
  EXPECT_EQ(other_name.error().code, Errc::kUnauthorized);

  RazorAccounts other_key(test_key(8));
  EXPECT_FALSE(other_key.open("alice@example.org", *sealed).ok());

  std::string tampered = *sealed;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(acc.open("alice@example.org", tampered).ok());

  RazorAccounts nokey(std::nullopt);
  EXPECT_EQ(nokey.seal("a", "b").error().code, Errc::kUnavailable);
  EXPECT_EQ(nokey.open("alice@example.org", *sealed).error().code, Errc::kUnavailable);

  EXPECT_FALSE(acc.seal("a", "").ok());
  EXPECT_FALSE(acc.seal("a", std::string(kMaxRazorPassword + 1, 'x')).ok());
  auto longest = acc.seal(std::string(64, 'n'), std::string(kMaxRazorPassword, 'x'));
  ASSERT_TRUE(longest.ok());
  EXPECT_LE(longest->size(), 128u);
}

TEST(RazorAccounts, PasswordsAndPyzorKeysOfReporters) {
  RazorAccounts acc(test_key(1));
  storage::Reporter native;
  native.name = "carol";
  native.secret = "native-secret-from-identity-file";
  auto pw = acc.razor_password(native);
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, native.secret);

  storage::Reporter razor;
  razor.name = "alice";
  razor.secret = *acc.seal("alice", "s3cret");
  EXPECT_EQ(*acc.razor_password(razor), "s3cret");

  auto k1 = acc.pyzor_key(native);
  auto k2 = acc.pyzor_key(razor);
  ASSERT_TRUE(k1.ok());
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ(k1->size(), 40u);
  EXPECT_EQ(k1->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(*k1, *k2);
  EXPECT_EQ(*acc.pyzor_key(native), *k1);  // deterministic
  // The pyzor key of a Razor reporter depends on its password, not on the sealed bytes.
  razor.secret = *acc.seal("alice", "s3cret");
  EXPECT_EQ(*acc.pyzor_key(razor), *k2);
}

TEST(RazorAccounts, RandomText) {
  auto a = random_text(16, kAlnum);
  auto b = random_text(16, kAlnum);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of(kAlnum), std::string::npos);
  EXPECT_EQ(random_text(100, "xy").find_first_not_of("xy"), std::string::npos);
}

}  // namespace
}  // namespace strop::node
