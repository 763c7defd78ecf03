// Tests of the index B+-tree over an in-memory page source and a real Allocator.
//
// Method: every test keeps a std::set of (key, value) pairs next to the tree (std::string
// orders bytewise, as the tree does). Verify() commits the delta as the engine would, then
// reads everything back through a fresh delta: all entries forward and backward in batches,
// the values of every key, and CheckIndexTree (ordering, balance, fill, links); and it checks
// that the pages the bitmaps mark used are exactly the file's own plus the tree's: no page
// leaked, none freed while in use. Randomized tests print their seed (tools/test_seed.h).

#include "engine/internal/index_tree.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/internal/allocator.h"
#include "engine/internal/index_node.h"
#include "engine/internal/map_page_source.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/page_store_test_fixture.h"
#include "tools/status_test_util.h"
#include "tools/test_seed.h"

namespace persy::internal {
namespace {

using Entry = std::pair<std::string, std::string>;

class IndexTreeTest : public PageStoreTest {
 protected:
  // As the engine does: pages freed by the commit are not written.
  void OnCommitting(PageDelta& tx) override { ASSERT_OK(alloc_.DropFreedPages(tx)); }

  absl::StatusOr<bool> Insert(const std::string& key, const std::string& value) {
    absl::StatusOr<bool> inserted = InsertEntry(Tx(), alloc_, root_, key, value);
    if (inserted.ok()) {
      EXPECT_EQ(*inserted, model_.insert({key, value}).second) << key.size() << " " << value;
    }
    max_height_ = std::max(max_height_, root_.height);
    return inserted;
  }

  absl::StatusOr<bool> Remove(const std::string& key, const std::string& value) {
    absl::StatusOr<bool> removed = RemoveEntry(Tx(), alloc_, root_, key, value);
    if (removed.ok()) {
      EXPECT_EQ(*removed, model_.erase({key, value}) == 1);
    }
    return removed;
  }

  // Every entry in `direction`, read in batches of `batch`.
  std::vector<Entry> ReadAll(PageDelta& d, Direction direction, size_t batch) {
    std::vector<Entry> out;
    Probe probe{"", "", direction == Direction::kForward ? Probe::Kind::kBeforeKey
                                                          : Probe::Kind::kAfterKey};
    if (direction == Direction::kBackward) probe.key = std::string(kMaxIndexKeySize + 1, '\xff');
    while (true) {
      absl::StatusOr<std::vector<IndexEntry>> got =
          ReadEntries(d, root_, probe, false, direction, batch);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok() || got->empty()) return out;
      EXPECT_LE(got->size(), batch);
      for (IndexEntry& e : *got) out.emplace_back(e.key, e.value);
      probe = Probe{out.back().first, out.back().second, Probe::Kind::kAt};
    }
  }

  void Verify() {
    Commit();
    PageDelta d(&source_);
    const std::vector<Entry> want(model_.begin(), model_.end());
    EXPECT_EQ(ReadAll(d, Direction::kForward, 7), want);
    EXPECT_EQ(ReadAll(d, Direction::kBackward, 1000),
              std::vector<Entry>(want.rbegin(), want.rend()));
    std::map<std::string, std::vector<std::string>> by_key;
    for (const auto& [k, v] : model_) by_key[k].push_back(v);
    for (const auto& [k, values] : by_key) {
      absl::StatusOr<std::vector<std::string>> got = ValuesOf(d, root_, k);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, values);
    }
    std::vector<PageId> pages;
    absl::StatusOr<IndexTreeStats> stats = CheckIndexTree(d, root_, &pages);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->entries, model_.size());
    // The used pages are the file's (0, 1, the bitmap 2) and the tree's, nothing else.
    std::set<PageId> expected(pages.begin(), pages.end());
    expected.insert({0, 1, 2});
    absl::StatusOr<std::set<PageId>> used = UsedPagesOf(source_, alloc_, d);
    ASSERT_TRUE(used.ok()) << used.status();
    EXPECT_EQ(*used, expected);
  }

  IndexRoot root_;
  std::set<Entry> model_;
  uint32_t max_height_ = 0;
};

std::string Key(uint64_t n, size_t size) {
  std::string key = absl::StrCat(n);
  key = std::string(key.size() < 8 ? 8 - key.size() : 0, '0') + key;  // in numeric order
  if (key.size() < size) key.append(size - key.size(), static_cast<char>('a' + n % 26));
  return key;
}

TEST_F(IndexTreeTest, EmptyTreeHasNoPages) {
  PageDelta d(&source_);
  EXPECT_TRUE(ReadAll(d, Direction::kForward, 5).empty());
  absl::StatusOr<std::vector<std::string>> values = ValuesOf(d, root_, "k");
  ASSERT_TRUE(values.ok());
  EXPECT_TRUE(values->empty());
  absl::StatusOr<bool> removed = Remove("k", "v");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  Verify();
  EXPECT_EQ(root_, IndexRoot{});
}

TEST_F(IndexTreeTest, OneKeyThenNone) {
  ASSERT_TRUE(*Insert("k", "v"));
  EXPECT_FALSE(*Insert("k", "v")) << "an entry is there once";
  Verify();
  EXPECT_EQ(root_.height, 1u);
  ASSERT_TRUE(*Remove("k", "v"));
  Verify();
  EXPECT_EQ(root_, IndexRoot{}) << "an emptied index holds no page";
}

TEST_F(IndexTreeTest, BoundaryKeysAndValues) {
  const std::string big(kMaxIndexKeySize, '\xff');
  for (const std::string& k : {std::string(), std::string(1, '\0'), std::string("\x80"), big,
                               std::string(kMaxIndexKeySize, '\0')}) {
    for (const std::string& v : {std::string(), std::string(kMaxIndexValueSize, '\xff')}) {
      ASSERT_TRUE(*Insert(k, v));
    }
  }
  Verify();
  // The largest key with the largest value: the end of a backward read.
  PageDelta d(&source_);
  absl::StatusOr<std::vector<IndexEntry>> last =
      ReadEntries(d, root_, Probe{big, "", Probe::Kind::kAfterKey}, false, Direction::kBackward, 1);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].key, big);
  EXPECT_EQ((*last)[0].value, std::string(kMaxIndexValueSize, '\xff'));
}

TEST_F(IndexTreeTest, LongKeysSplitAndMergeAtEveryLevel) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> order(3000);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_TRUE(Insert(Key(order[i], kMaxIndexKeySize), "v").ok());
    if (i % 500 == 0) Verify();
  }
  Verify();
  EXPECT_GE(root_.height, 5u) << "splits reached five levels";
  std::shuffle(order.begin(), order.end(), rng);
  uint32_t lowest = root_.height;
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_TRUE(*Remove(Key(order[i], kMaxIndexKeySize), "v"));
    lowest = std::min(lowest, root_.height);
    if (i % 250 == 0) Verify();
  }
  Verify();
  EXPECT_EQ(root_, IndexRoot{}) << "merges went back through every level";
}

TEST_F(IndexTreeTest, RandomOperationsMatchASet) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 6; ++round) {
    // Rounds alternate growing and shrinking, with key sizes from tiny to the limit.
    const size_t key_size = std::vector<size_t>{1, 8, 40, 200, 512, 9}[round];
    const int grow = round % 2 == 0 ? 4 : 1;
    for (int step = 0; step < 4000; ++step) {
      const std::string key = Key(rng() % 3000, 1 + rng() % key_size);
      const std::string value = std::string(rng() % 3 == 0 ? 1 + rng() % 100 : 1,
                                            static_cast<char>('0' + rng() % 4));
      if (static_cast<int>(rng() % 5) < grow) {
        ASSERT_TRUE(Insert(key, value).ok());
      } else if (!model_.empty() && rng() % 2 == 0) {
        // Remove an entry that is there.
        auto it = model_.lower_bound({key, ""});
        if (it == model_.end()) it = model_.begin();
        const Entry e = *it;
        ASSERT_TRUE(*Remove(e.first, e.second));
      } else {
        ASSERT_TRUE(Remove(key, value).ok());
      }
      if (step % 400 == 0) Verify();
    }
    Verify();
  }
}

TEST_F(IndexTreeTest, ReadEntriesFromAnyProbe) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(Insert(Key(rng() % 500, 1 + rng() % 120), std::string(1, 'a' + rng() % 3)).ok());
  }
  Verify();
  PageDelta d(&source_);
  for (int i = 0; i < 2000; ++i) {
    Probe p{Key(rng() % 520, 1 + rng() % 120), std::string(1, 'a' + rng() % 4),
            static_cast<Probe::Kind>(rng() % 3)};
    const bool inclusive = rng() % 2 == 0;
    const Direction dir = rng() % 2 == 0 ? Direction::kForward : Direction::kBackward;
    const size_t max = 1 + rng() % 20;
    // The model's answer.
    auto cmp = [&](const Entry& e) {  // entry vs probe
      int c = e.first.compare(p.key);
      if (c != 0) return c < 0 ? -1 : 1;
      if (p.kind == Probe::Kind::kBeforeKey) return 1;
      if (p.kind == Probe::Kind::kAfterKey) return -1;
      c = e.second.compare(p.value);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    };
    std::vector<IndexEntry> want;
    if (dir == Direction::kForward) {
      for (auto it = model_.begin(); it != model_.end() && want.size() < max; ++it) {
        const int c = cmp(*it);
        if (c > 0 || (c == 0 && inclusive)) want.push_back(IndexEntry{it->first, it->second});
      }
    } else {
      for (auto it = model_.rbegin(); it != model_.rend() && want.size() < max; ++it) {
        const int c = cmp(*it);
        if (c < 0 || (c == 0 && inclusive)) want.push_back(IndexEntry{it->first, it->second});
      }
    }
    absl::StatusOr<std::vector<IndexEntry>> got = ReadEntries(d, root_, p, inclusive, dir, max);
    ASSERT_TRUE(got.ok()) << got.status();
    // One leaf's worth at most: a non-empty prefix of the answer, empty only at the end.
    ASSERT_EQ(got->empty(), want.empty());
    ASSERT_LE(got->size(), want.size());
    want.resize(got->size());
    ASSERT_EQ(*got, want) << "probe " << p.key << "/" << p.value << " kind "
                          << static_cast<int>(p.kind) << " incl " << inclusive << " dir "
                          << static_cast<int>(dir) << " (seed " << seed << ")";
  }
}

// Keys arriving in ascending order (ids, timestamps) leave the leaves well filled: a split at a
// node's end gives the new right node only the minimum fill.
TEST_F(IndexTreeTest, AscendingLoadsFillNodes) {
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(*Insert(Key(i, 8), "value"));
  Verify();
  PageDelta d(&source_);
  absl::StatusOr<IndexTreeStats> stats = CheckIndexTree(d, root_, nullptr);
  ASSERT_TRUE(stats.ok());
  const double fill = static_cast<double>(stats->used_bytes) /
                      ((stats->leaves + stats->inner_nodes) * kNodeCapacity);
  EXPECT_GT(fill, 0.75) << stats->leaves << " leaves";
}

TEST_F(IndexTreeTest, ManyValuesOfOneKeySpanLeaves) {
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(*Insert("the key", Key(i, 20)));
  ASSERT_TRUE(*Insert("after", "x"));
  ASSERT_TRUE(*Insert("zzz", "x"));
  Verify();
  EXPECT_GE(root_.height, 2u);
  for (int i = 0; i < 3000; i += 2) ASSERT_TRUE(*Remove("the key", Key(i, 20)));
  Verify();
}

TEST_F(IndexTreeTest, DamagedNodesAreDataLossNeverACrash) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 1500; ++i) ASSERT_TRUE(Insert(Key(i, 30), "v").ok());
  Verify();
  std::vector<PageId> pages;
  {
    PageDelta d(&source_);
    ASSERT_TRUE(CheckIndexTree(d, root_, &pages).ok());
  }
  int caught = 0;
  for (int round = 0; round < 300; ++round) {
    const PageId victim = pages[rng() % pages.size()];
    const PageBuf saved = source_.At(victim);
    PageBuf page = saved;
    page.body()[rng() % 64] ^= static_cast<char>(1 << (rng() % 8));
    SealPage(victim, TypeOf(page), LsnOf(page), page);  // past the checksum
    source_.Put(victim, page);
    PageDelta d(&source_);
    absl::StatusOr<IndexTreeStats> stats = CheckIndexTree(d, root_, nullptr);
    if (!stats.ok()) {
      EXPECT_EQ(stats.status().code(), absl::StatusCode::kDataLoss) << stats.status();
      ++caught;
    }
    // Reads and writes over the damage: an error or a result, never a crash.
    IndexRoot root = root_;
    PageDelta w(&source_);
    (void)ReadEntries(d, root_, Probe{Key(rng() % 1500, 30), "", Probe::Kind::kBeforeKey}, false,
                      Direction::kForward, 50);
    (void)InsertEntry(w, alloc_, root, Key(rng() % 1500, 31), "w");
    (void)RemoveEntry(w, alloc_, root, Key(rng() % 1500, 30), "v");
    source_.Put(victim, saved);
  }
  EXPECT_GT(caught, 100) << "seed " << seed;
}

}  // namespace
}  // namespace persy::internal
