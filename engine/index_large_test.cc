// A big index within a small cache: PERSY_INDEX_ENTRIES entries (default 100,000; the deep run
// in docs/testing.md uses 10,000,000) of u64 -> u64, over the POSIX file layer with an 8 MiB
// page cache. Loaded in ascending commits of 50,000 keys (as ids or timestamps arrive), then
// changed at scattered places: commits of 2,000 removes of random keys, whose leaves lie all
// over the tree. Then: a full range forward and backward sees every entry in order, random gets
// agree, every other key is removed, the integrity check passes (every page of the tree read
// and checked), and after each phase the heap in use stays under a bound that does not grow
// with the index (not checked under sanitizers, whose allocator is their own). A commit holds
// the pages it changes in memory, so the batches bound the memory, not the size of the index.

#include <gtest/gtest.h>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "engine/persy.h"
#include "tools/test_seed.h"
#include "vfs/vfs.h"

namespace persy {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

uint64_t Entries() {
  const char* env = std::getenv("PERSY_INDEX_ENTRIES");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 100000;
}

// The process's peak resident memory, in bytes (Linux).
uint64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) << 10;
  }
  return 0;
}

TEST(IndexLargeTest, ManyEntriesWithinTheCache) {
  const uint64_t n = Entries();
  const uint64_t seed = persy::testing::TestSeed();
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/index_large.persy";
  std::remove(path.c_str());
  Config config;
  config.cache_size_bytes = 8 << 20;
  auto db = Persy::Create(path, config);
  ASSERT_TRUE(db.ok()) << db.status();
  {
    auto tx = (*db)->Begin();
    ASSERT_TRUE(((*tx)->CreateIndex<uint64_t, uint64_t>("big", ValueMode::kReplace).ok()));
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  const uint64_t rss_before = PeakRss();
  constexpr uint64_t kBatch = 50000;
  // Key k has the value 3k + 1.
  for (uint64_t start = 0; start < n; start += kBatch) {
    auto tx = (*db)->Begin();
    ASSERT_TRUE(tx.ok());
    for (uint64_t k = start; k < std::min(n, start + kBatch); ++k) {
      ASSERT_TRUE(((*tx)->Put<uint64_t, uint64_t>("big", k, 3 * k + 1).ok()));
    }
    absl::Status s = (*tx)->Commit();
    ASSERT_TRUE(s.ok()) << "batch at " << start << ": " << s;
  }
  // What the process holds on the heap after each phase must not grow with the index: the
  // cache, and nothing else that stays. (The peak resident size is printed too; it also counts
  // memory the C library keeps after a commit frees it, so it is reported, not bounded. The
  // heap's own peak, measured with valgrind's massif, is in docs/testing.md.)
  auto phase = [&](const char* name) {
    const struct mallinfo2 heap = mallinfo2();
    const uint64_t in_use = heap.uordblks + heap.hblkhd;
    std::printf("after %s: heap in use %llu MiB (arena %llu MiB), peak resident +%llu MiB\n",
                name, static_cast<unsigned long long>(in_use >> 20),
                static_cast<unsigned long long>(heap.arena >> 20),
                static_cast<unsigned long long>((PeakRss() - rss_before) >> 20));
    std::fflush(stdout);
    if (kSanitized) return;  // the sanitizer's allocator is not malloc's: nothing to measure
    EXPECT_LT(in_use, uint64_t{48} << 20) << "after " << name;
  };
  phase("the ascending load");
  std::mt19937_64 rng(seed);
  std::set<uint64_t> removed;
  for (int batch = 0; batch < 10; ++batch) {
    auto tx = (*db)->Begin();
    for (int i = 0; i < 2000; ++i) {
      const uint64_t k = rng() % n;
      ASSERT_TRUE((*tx)->Remove("big", k).ok());
      removed.insert(k);
    }
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  phase("the scattered removes");
  // Forward and backward, every key once in order with its value.
  for (Direction d : {Direction::kForward, Direction::kBackward}) {
    uint64_t expect = d == Direction::kForward ? 0 : n - 1;
    uint64_t seen = 0;
    bool ordered = true;
    absl::Status s = (*db)->Range<uint64_t, uint64_t>(
        "big", IndexBound::Unbounded(), IndexBound::Unbounded(), d,
        [&](const uint64_t& k, const std::vector<uint64_t>& v) {
          while (removed.count(expect) != 0) expect += d == Direction::kForward ? 1 : -1;
          ordered &= k == expect && v.size() == 1 && v[0] == 3 * k + 1;
          expect += d == Direction::kForward ? 1 : -1;
          ++seen;
          return ordered;
        });
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(ordered) << "at key " << expect;
    ASSERT_EQ(seen, n - removed.size());
  }
  for (int i = 0; i < 10000; ++i) {
    const uint64_t k = rng() % (n + 100);
    absl::StatusOr<std::vector<uint64_t>> v = (*db)->Get<uint64_t, uint64_t>("big", k);
    ASSERT_TRUE(v.ok()) << v.status();
    ASSERT_EQ(v->size(), k < n && removed.count(k) == 0 ? 1u : 0u) << k << " (seed " << seed << ")";
  }
  phase("the ranges and gets");
  // Remove every other key.
  for (uint64_t start = 0; start < n; start += 2 * kBatch) {
    auto tx = (*db)->Begin();
    for (uint64_t k = start; k < std::min(n, start + 2 * kBatch); k += 2) {
      ASSERT_TRUE((*tx)->Remove("big", k).ok());
    }
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  uint64_t left = 0;
  absl::Status ranged = (*db)->Range<uint64_t, uint64_t>(
      "big", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward,
      [&](const uint64_t& k, const std::vector<uint64_t>&) {
        left += k % 2;
        return k % 2 == 1;
      });
  ASSERT_TRUE(ranged.ok()) << ranged;
  uint64_t odd_removed = 0;
  for (uint64_t k : removed) odd_removed += k % 2;
  EXPECT_EQ(left, n / 2 - odd_removed);
  phase("removing every other key");
  absl::Status integrity = (*db)->CheckIntegrity();
  ASSERT_TRUE(integrity.ok()) << integrity;
  phase("the integrity check");
  if (kSanitized) std::printf("heap not checked: sanitizer build\n");
  ASSERT_TRUE((*db)->Close().ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace persy
