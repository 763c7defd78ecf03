#include "vfs/internal/random.h"

#include <array>

#include <gtest/gtest.h>

namespace persy::vfs {
namespace {

TEST(RandomTest, SameSeedSameSequence) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

// Pinned values: a change to the generator would silently change every recorded replay seed.
TEST(RandomTest, SequenceIsStableAcrossBuilds) {
  Random r(0);
  EXPECT_EQ(r.Next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(r.Next(), 0x6e789e6aa1b965f4ull);
}

TEST(RandomTest, UniformCoversRangeOnly) {
  Random r(7);
  std::array<int, 5> hits{};
  for (int i = 0; i < 5000; ++i) {
    uint64_t v = r.Uniform(5);
    ASSERT_LT(v, 5u);
    ++hits[v];
  }
  for (int h : hits) EXPECT_GT(h, 800);
}

TEST(RandomTest, BernoulliExtremesAndRate) {
  Random r(9);
  int yes = 0;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(r.Bernoulli(0.0));
    EXPECT_TRUE(r.Bernoulli(1.0));
    yes += r.Bernoulli(0.25);
  }
  EXPECT_NEAR(yes, 2500, 300);
}

}  // namespace
}  // namespace persy::vfs
