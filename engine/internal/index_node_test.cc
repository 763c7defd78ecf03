// Tests of the index node layout: write and read back, in-place insert and erase (with the
// compaction of holes), the room accounting, and damage found by NodeView::Open (never a read
// outside the page, under ASan).

#include "engine/internal/index_node.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tools/test_seed.h"

namespace persy::internal {
namespace {

Node LeafOf(int n, size_t key_size) {
  Node node;
  for (int i = 0; i < n; ++i) {
    std::string key(key_size, 'k');
    key[0] = static_cast<char>('A' + i);
    node.entries.push_back(NodeEntry{key, std::to_string(i), 0});
  }
  return node;
}

void ExpectSame(const Node& a, const Node& b) {
  ASSERT_EQ(a.leaf, b.leaf);
  ASSERT_EQ(a.child0, b.child0);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].key, b.entries[i].key) << i;
    EXPECT_EQ(a.entries[i].value, b.entries[i].value) << i;
    EXPECT_EQ(a.entries[i].child, b.entries[i].child) << i;
  }
}

TEST(IndexNodeTest, WriteThenReadGivesTheNodeBack) {
  PageBuf page;
  Node leaf = LeafOf(10, 30);
  WriteNode(leaf, &page);
  absl::StatusOr<Node> back = ReadNode(5, &page);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(*back, leaf);
  absl::StatusOr<NodeView> view = NodeView::Open(5, &page);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->used(), leaf.Used());

  Node inner;
  inner.leaf = false;
  inner.child0 = 77;
  inner.entries.push_back(NodeEntry{"m", "", 78});
  inner.entries.push_back(NodeEntry{std::string(512, 'x'), std::string(512, 'y'), 79});
  WriteNode(inner, &page);
  back = ReadNode(5, &page);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(*back, inner);
  view = NodeView::Open(5, &page);
  EXPECT_EQ(view->child(0), 77u);
  EXPECT_EQ(view->child(2), 79u);
}

TEST(IndexNodeTest, InPlaceEditsMatchTheDecodedNodeAndCompactHoles) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  PageBuf page;
  Node model;
  WriteNode(model, &page);
  for (int step = 0; step < 3000; ++step) {
    const bool insert = model.entries.empty() || rng() % 3 != 0;
    if (insert) {
      std::string key(rng() % 200, static_cast<char>('a' + rng() % 26));
      const int pos = static_cast<int>(rng() % (model.entries.size() + 1));
      const size_t size = EntrySize(true, key.size(), 1);
      const bool fits = model.Used() + size <= kNodeCapacity;
      ASSERT_EQ(InsertInPlace(&page, pos, key, "v", 0), fits) << step;
      if (fits) model.entries.insert(model.entries.begin() + pos, NodeEntry{key, "v", 0});
    } else {
      const int pos = static_cast<int>(rng() % model.entries.size());
      EraseInPlace(&page, pos);
      model.entries.erase(model.entries.begin() + pos);
    }
    absl::StatusOr<Node> back = ReadNode(1, &page);
    ASSERT_TRUE(back.ok()) << back.status() << " at step " << step;
    ExpectSame(*back, model);
  }
}

TEST(IndexNodeTest, DamageIsDataLossNeverACrash) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  PageBuf good;
  WriteNode(LeafOf(20, 40), &good);
  int caught = 0;
  for (int round = 0; round < 2000; ++round) {
    PageBuf page = good;
    for (int flips = 1 + rng() % 4; flips > 0; --flips) {
      // Mostly the header and slots, where a flip changes the layout.
      const size_t at = rng() % 2 == 0 ? rng() % (kNodeHeaderSize + 40) : rng() % kPageBodySize;
      page.body()[at] ^= static_cast<char>(1 << (rng() % 8));
    }
    absl::StatusOr<Node> node = ReadNode(9, &page);
    if (!node.ok()) {
      EXPECT_EQ(node.status().code(), absl::StatusCode::kDataLoss);
      EXPECT_NE(node.status().message().find("page 9"), std::string::npos);
      ++caught;
    }
  }
  EXPECT_GT(caught, 500);
  // A page of another type is not a node.
  PageBuf other;
  EXPECT_EQ(NodeView::Open(3, &other).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace persy::internal
