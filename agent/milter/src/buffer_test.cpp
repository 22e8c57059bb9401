#include "milter/buffer.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace strop::milter {
namespace {

TEST(Buffer, StaysInMemoryWhenSmall) {
  MemoryBudget budget(1 << 20);
  testing::TempDir dir;
  BufferOptions o;
  o.spool_dir = dir.path();
  {
    MessageBuffer b(o, &budget);
    ASSERT_TRUE(b.append("Subject: x\r\n\r\n").ok());
    ASSERT_TRUE(b.append("body").ok());
    EXPECT_FALSE(b.spilled());
    EXPECT_EQ(*b.view(), "Subject: x\r\n\r\nbody");
    EXPECT_GT(budget.used(), 0u);
  }
  EXPECT_EQ(budget.used(), 0u);  // released on destruction
}

TEST(Buffer, SpillsBeyondPerMessageLimit) {
  MemoryBudget budget(1 << 20);
  testing::TempDir dir;
  BufferOptions o;
  o.spool_dir = dir.path();
  o.memory_per_message = 100;
  MessageBuffer b(o, &budget);
  std::string expect;
  for (int i = 0; i < 50; ++i) {
    std::string chunk = "line " + std::to_string(i) + "\r\n";
    expect += chunk;
    ASSERT_TRUE(b.append(chunk).ok());
  }
  EXPECT_TRUE(b.spilled());
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(*b.view(), expect);
  // Appending after a view still works (the mapping is refreshed).
  ASSERT_TRUE(b.append("tail").ok());
  EXPECT_EQ(*b.view(), expect + "tail");
}

TEST(Buffer, SpillsWhenTheSharedBudgetIsSpent) {
  MemoryBudget budget(150);
  testing::TempDir dir;
  BufferOptions o;
  o.spool_dir = dir.path();
  o.memory_per_message = 100;
  MessageBuffer a(o, &budget), b(o, &budget);
  ASSERT_TRUE(a.append(std::string(100, 'a')).ok());
  EXPECT_FALSE(a.spilled());
  ASSERT_TRUE(b.append(std::string(80, 'b')).ok());
  EXPECT_TRUE(b.spilled());  // only 50 bytes were left in the budget
  EXPECT_EQ(*b.view(), std::string(80, 'b'));
  EXPECT_LE(budget.used(), 150u);
}

TEST(Buffer, TruncatesPastMaxMessageBytes) {
  MemoryBudget budget(1 << 20);
  BufferOptions o;
  o.max_message_bytes = 10;
  MessageBuffer b(o, &budget);
  ASSERT_TRUE(b.append("0123456789abcdef").ok());
  EXPECT_TRUE(b.truncated());
  EXPECT_EQ(b.size(), 10u);
  EXPECT_EQ(b.seen(), 16u);
  EXPECT_EQ(*b.view(), "0123456789");
  b.clear();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_FALSE(b.truncated());
}

TEST(Buffer, UnwritableSpoolIsAnError) {
  MemoryBudget budget(0);
  BufferOptions o;
  o.spool_dir = "/nonexistent/strop";
  MessageBuffer b(o, &budget);
  auto r = b.append("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
}

TEST(Buffer, HeadersAsLibmilterHandsThemOver) {
  MemoryBudget budget(1 << 20);
  testing::TempDir dir;
  BufferOptions o;
  o.spool_dir = dir.path();
  MessageBuffer b(o, &budget);
  // Folded lines arrive joined by bare LF; CRLF already there stays as it is.
  ASSERT_TRUE(b.append_header("Subject", "one\n\ttwo\r\n three").ok());
  ASSERT_TRUE(b.append_header("X-Empty", "").ok());
  ASSERT_TRUE(b.end_headers().ok());
  ASSERT_TRUE(b.append("body").ok());
  EXPECT_EQ(*b.view(), "Subject: one\r\n\ttwo\r\n three\r\nX-Empty: \r\n\r\nbody");
}

}  // namespace
}  // namespace strop::milter
