// The long poll's waiting room (feed_waiters.hpp), driven by hand with injected times.
#include "node/feed_waiters.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace strop::node {
namespace {

using Why = FeedWaiters::Why;
const FeedWaiters::Time kT0{std::chrono::seconds(1000)};

TEST(FeedWaiters, OnePerPeerTheNewestAndABoundInAll) {
  FeedWaiters w(2);
  auto never = [](Why) { return false; };
  std::vector<Why> first;
  EXPECT_TRUE(w.add("a.test", kT0 + std::chrono::seconds(5), [&](Why why) {
    first.push_back(why);
    return why == Why::kExpired;
  }));
  // a.test pulls again: the newer pull takes the place, the older is answered (empty).
  EXPECT_TRUE(w.add("a.test", kT0 + std::chrono::seconds(5), never));
  EXPECT_EQ(first, std::vector<Why>{Why::kExpired});
  EXPECT_TRUE(w.add("b.test", kT0 + std::chrono::seconds(5), never));
  EXPECT_FALSE(w.add("c.test", kT0 + std::chrono::seconds(5), never));  // the total is reached
  EXPECT_EQ(w.waiting(), 2u);
  w.stop();  // answers both (expired): nothing stays parked
  EXPECT_EQ(w.waiting(), 0u);
  EXPECT_FALSE(w.add("c.test", kT0, never));  // stopped
}

TEST(FeedWaiters, ACommitWakesEveryWaiterAndTheDeadlineEndsTheWait) {
  FeedWaiters w;
  std::vector<Why> a_calls, b_calls;
  bool a_has_entry = false;
  EXPECT_TRUE(w.add("a.test", kT0 + std::chrono::seconds(10), [&](Why why) {
    a_calls.push_back(why);
    return a_has_entry || why == Why::kExpired;
  }));
  EXPECT_TRUE(w.add("b.test", kT0 + std::chrono::seconds(3), [&](Why why) {
    b_calls.push_back(why);
    return why == Why::kExpired;
  }));
  w.service(kT0 + std::chrono::seconds(1), false);  // nothing due
  EXPECT_TRUE(a_calls.empty());
  EXPECT_TRUE(b_calls.empty());
  w.service(kT0 + std::chrono::seconds(2), true);  // a commit with nothing for either
  EXPECT_EQ(a_calls, std::vector<Why>{Why::kCommitted});
  EXPECT_EQ(b_calls, std::vector<Why>{Why::kCommitted});
  EXPECT_EQ(w.waiting(), 2u);
  w.service(kT0 + std::chrono::seconds(3), false);  // b's wait ends: answered empty
  EXPECT_EQ(b_calls.back(), Why::kExpired);
  EXPECT_EQ(w.waiting(), 1u);
  a_has_entry = true;
  w.service(kT0 + std::chrono::seconds(4), true);  // the commit brought a's entry
  EXPECT_EQ(a_calls.back(), Why::kCommitted);
  EXPECT_EQ(w.waiting(), 0u);
  EXPECT_EQ(b_calls.size(), 2u);
}

TEST(FeedWaiters, TheThreadAnswersOnNotify) {
  FeedWaiters w;
  w.start();
  std::atomic<int> answered{0};
  std::atomic<bool> ready{false};
  EXPECT_TRUE(
      w.add("a.test", std::chrono::steady_clock::now() + std::chrono::seconds(60), [&](Why why) {
        if (why != Why::kExpired && !ready) return false;
        ++answered;
        return true;
      }));
  ready = true;
  w.notify();
  for (int i = 0; i < 400 && answered == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(answered, 1);
  w.stop();
  EXPECT_EQ(answered, 1);
}

}  // namespace
}  // namespace strop::node
