// Tests of the address table (address_table.h) over an in-memory page source and a real
// Allocator.
//
// Method: every test keeps a plain std::map model (record number -> entry) next to the tree.
// A "commit" seals the delta and copies its pages into the fake source, as the engine's commit
// does; Verify() then reads everything back through a fresh delta: LookupEntry of every number
// in the model, NextEntry from 0 to the end, and WalkAddressTable, whose entries must be the
// model's in number order and whose pages must be each listed once. The leak check: the pages
// used in the bitmaps are exactly the file's own (0, 1, 2) plus the walk's, and an empty model
// means an empty root. Damage tests rewrite committed pages (re-sealed, so that the table's own
// checks are reached past the checksum, or not, for the checksum) and require kDataLoss from
// every call, never a crash (run under ASan/UBSan).

#include "engine/internal/address_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/internal/allocator.h"
#include "engine/internal/map_page_source.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/page_store_test_fixture.h"
#include "engine/internal/segment_page.h"
#include "tools/test_seed.h"

namespace persy::internal {
namespace {

using ::persy::testing::StatusOf;
using Model = std::map<uint64_t, AddressEntry>;

// A well-formed entry that differs with `n` and `version`.
AddressEntry EntryFor(uint64_t n, uint32_t version = 1) {
  AddressEntry e;
  e.page = 3 + n % 1000003;
  e.flags = n % 3 == 0 ? kEntryUsed | kEntryOverflow : kEntryUsed;
  e.slot = e.overflow() ? 0 : static_cast<uint16_t>(n % 1014);
  e.version = version;
  return e;
}

bool Same(const AddressEntry& a, const AddressEntry& b) {
  return a.page == b.page && a.slot == b.slot && a.flags == b.flags && a.version == b.version;
}

// Records what a walk reports; fails on the Nth page or entry if asked to.
class Collect : public AddressTableVisitor {
 public:
  absl::Status OnAddressPage(PageId id) override {
    pages.push_back(id);
    if (fail_page_at != 0 && pages.size() == fail_page_at) return absl::CancelledError("page");
    return absl::OkStatus();
  }
  absl::Status OnEntry(PageId leaf, const AddressEntry& entry) override {
    leaves.insert(leaf);
    entries.push_back(entry);
    if (fail_entry_at != 0 && entries.size() == fail_entry_at) {
      return absl::CancelledError("entry");
    }
    return absl::OkStatus();
  }
  void OnLeafDone() override { ++leaves_done; }

  std::vector<PageId> pages;
  std::vector<AddressEntry> entries;
  std::set<PageId> leaves;
  size_t leaves_done = 0;
  size_t fail_page_at = 0;
  size_t fail_entry_at = 0;
};

class AddressTableTest : public PageStoreTest {
 protected:
  void OnBegin() override { saved_root_ = root_; }
  void OnCommit() override { committed_ = model_; }
  // An abort brings back the committed root and model.
  void OnAbort() override {
    root_ = saved_root_;
    model_ = committed_;
  }

  absl::Status Add(uint64_t n, const AddressEntry& e) {
    TEST_RETURN_IF_ERROR(AddEntry(Tx(), alloc_, root_, n, e));
    model_[n] = e;
    return absl::OkStatus();
  }
  absl::StatusOr<FoundEntry> Find(PageDelta& d, uint64_t n) {
    absl::StatusOr<std::optional<FoundEntry>> f = LookupEntry(d, root_, n);
    TEST_RETURN_IF_ERROR(f);
    if (!f->has_value()) return absl::NotFoundError(absl::StrCat("number ", n));
    return **f;
  }
  absl::Status Rewrite(uint64_t n, const AddressEntry& e) {
    absl::StatusOr<FoundEntry> f = Find(Tx(), n);
    TEST_RETURN_IF_ERROR(f);
    TEST_RETURN_IF_ERROR(WriteEntry(Tx(), f->path, e));
    model_[n] = e;
    return absl::OkStatus();
  }
  absl::Status Clear(uint64_t n) {
    absl::StatusOr<FoundEntry> f = Find(Tx(), n);
    TEST_RETURN_IF_ERROR(f);
    TEST_RETURN_IF_ERROR(ClearEntry(Tx(), alloc_, root_, f->path));
    model_.erase(n);
    return absl::OkStatus();
  }

  absl::StatusOr<std::set<PageId>> UsedPages(PageDelta& d) {
    return UsedPagesOf(source_, alloc_, d);
  }

  // Commits, then checks the committed tree against the model.
  absl::Status Verify() {
    Commit();
    PageDelta d(&source_);
    TEST_RETURN_IF_ERROR(CheckAddressRoot(root_));
    for (const auto& [n, want] : model_) {
      absl::StatusOr<FoundEntry> f = Find(d, n);
      TEST_RETURN_IF_ERROR(f);
      if (!Same(f->entry, want)) return absl::InternalError(absl::StrCat("number ", n, " wrong"));
      if (f->path.depth != root_.height || f->path.ids[0] != root_.address_root ||
          f->path.entry() != n % kLeafEntries) {
        return absl::InternalError(absl::StrCat("number ", n, ": bad path"));
      }
      for (uint64_t other : {n - 1, n + 1}) {
        if (model_.count(other) != 0 || other == 0 || n == UINT64_MAX) continue;
        absl::StatusOr<std::optional<FoundEntry>> absent = LookupEntry(d, root_, other);
        TEST_RETURN_IF_ERROR(absent);
        if (absent->has_value()) return absl::InternalError(absl::StrCat(other, " present"));
      }
    }
    std::vector<uint64_t> seen;
    for (uint64_t from = 0;;) {
      absl::StatusOr<std::optional<uint64_t>> next = NextEntry(d, root_, from);
      TEST_RETURN_IF_ERROR(next);
      if (!next->has_value()) break;
      seen.push_back(**next);
      if (**next == UINT64_MAX) break;
      from = **next + 1;
    }
    std::vector<uint64_t> want;
    for (const auto& [n, e] : model_) want.push_back(n);
    if (seen != want) return absl::InternalError("NextEntry disagrees with the model");
    Collect walk;
    TEST_RETURN_IF_ERROR(WalkAddressTable(d, root_, walk));
    if (walk.entries.size() != model_.size()) return absl::InternalError("walk: entry count");
    size_t i = 0;
    for (const auto& [n, e] : model_) {
      if (!Same(walk.entries[i++], e)) return absl::InternalError("walk: entries out of order");
    }
    std::set<PageId> expected(walk.pages.begin(), walk.pages.end());
    if (expected.size() != walk.pages.size()) return absl::InternalError("walk: page twice");
    if (walk.leaves_done != walk.leaves.size()) return absl::InternalError("walk: OnLeafDone");
    for (PageId id : walk.pages) {
      const PageType t = TypeOf(source_.At(id));
      if (t != PageType::kAddressLeaf && t != PageType::kAddressInner) {
        return absl::InternalError(absl::StrCat("page ", id, " is not an address page"));
      }
    }
    if (model_.empty() && !(root_ == SegmentRoot{})) {
      return absl::InternalError("an empty table keeps a root");
    }
    expected.insert({0, 1, 2});
    absl::StatusOr<std::set<PageId>> used = UsedPages(d);
    TEST_RETURN_IF_ERROR(used);
    if (*used != expected) {
      return absl::InternalError(absl::StrCat("used pages: ", used->size(), ", expected ",
                                              expected.size(), " (a leak or a lost page)"));
    }
    return absl::OkStatus();
  }

  // Replaces committed page `id` with `page`, re-sealed with its own type (or `type`).
  void PutSealed(PageId id, const PageBuf& image,
                 std::optional<PageType> type = std::nullopt) {
    PageBuf page = image;
    SealPage(id, type.value_or(TypeOf(page)), LsnOf(page), page);
    source_.Put(id, page);
  }

  SegmentRoot root_;
  SegmentRoot saved_root_;
  Model model_;
  Model committed_;
};

TEST_F(AddressTableTest, EmptyTable) {
  EXPECT_OK(CheckAddressRoot(root_));
  PageDelta d(&source_);
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) {
    absl::StatusOr<std::optional<FoundEntry>> f = LookupEntry(d, root_, n);
    ASSERT_OK(f);
    EXPECT_FALSE(f->has_value());
    absl::StatusOr<std::optional<uint64_t>> next = NextEntry(d, root_, n);
    ASSERT_OK(next);
    EXPECT_FALSE(next->has_value());
  }
  Collect walk;
  ASSERT_OK(WalkAddressTable(d, root_, walk));
  EXPECT_TRUE(walk.pages.empty());
  ASSERT_OK(Verify());
}

TEST_F(AddressTableTest, CheckAddressRoot) {
  EXPECT_OK(CheckAddressRoot(SegmentRoot{7, 1, 0}));
  EXPECT_OK(CheckAddressRoot(SegmentRoot{7, kMaxAddressHeight, 9}));
  for (const SegmentRoot& bad : {SegmentRoot{7, 0, 0}, SegmentRoot{0, 1, 0},
                                 SegmentRoot{7, kMaxAddressHeight + 1, 0}}) {
    EXPECT_EQ(CheckAddressRoot(bad).code(), absl::StatusCode::kDataLoss);
    PageDelta d(&source_);
    EXPECT_EQ(StatusOf(LookupEntry(d, bad, 1)).code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(StatusOf(NextEntry(d, bad, 1)).code(), absl::StatusCode::kDataLoss);
    Collect walk;
    EXPECT_EQ(WalkAddressTable(d, bad, walk).code(), absl::StatusCode::kDataLoss);
    SegmentRoot r = bad;
    EXPECT_EQ(AddEntry(d, alloc_, r, 1, EntryFor(1)).code(), absl::StatusCode::kDataLoss);
  }
}

TEST_F(AddressTableTest, LeafRootGrowsIntoInnerRoot) {
  ASSERT_OK(Add(1, EntryFor(1)));
  ASSERT_OK(Add(kLeafEntries - 1, EntryFor(kLeafEntries - 1)));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_.height, 1u);
  const PageId leaf = root_.address_root;
  ASSERT_EQ(TypeOf(source_.At(leaf)), PageType::kAddressLeaf);
  // The entry layout: [u64 page][u16 slot][u16 flags][u32 version] at 16 * n.
  const char* e = source_.At(leaf).body() + 16 * 1;
  EXPECT_EQ(GetU64(e), EntryFor(1).page);
  EXPECT_EQ(GetU16(e + 8), EntryFor(1).slot);
  EXPECT_EQ(GetU16(e + 10), EntryFor(1).flags);
  EXPECT_EQ(GetU32(e + 12), 1u);
  // 254 is entry 0 of leaf 1: a taller root over the old leaf.
  ASSERT_OK(Add(kLeafEntries, EntryFor(kLeafEntries)));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_.height, 2u);
  ASSERT_EQ(TypeOf(source_.At(root_.address_root)), PageType::kAddressInner);
  EXPECT_EQ(GetU64(source_.At(root_.address_root).body()), leaf);
  EXPECT_NE(GetU64(source_.At(root_.address_root).body() + 8), 0u);
  // Clearing the second leaf's only entry frees it but keeps the inner root.
  ASSERT_OK(Clear(kLeafEntries));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_.height, 2u);
  EXPECT_EQ(GetU64(source_.At(root_.address_root).body() + 8), 0u);
  ASSERT_OK(Clear(1));
  ASSERT_OK(Clear(kLeafEntries - 1));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_, SegmentRoot{});
}

TEST_F(AddressTableTest, HeightsAtReachEdges) {
  uint64_t reach = kLeafEntries;  // numbers a tree of height h covers: 254 * 508^(h-1)
  for (uint32_t h = 1; h < kMaxAddressHeight; ++h) {
    for (uint64_t n : {reach - 1, reach}) {
      ASSERT_OK(Add(n, EntryFor(n)));
      ASSERT_OK(Verify());
      EXPECT_EQ(root_.height, n < reach ? h : h + 1) << n;
      ASSERT_OK(Clear(n));
      ASSERT_OK(Verify());
    }
    if (h + 1 < kMaxAddressHeight) reach *= kInnerChildren;
  }
  ASSERT_OK(Add(UINT64_MAX, EntryFor(7)));
  ASSERT_OK(Add(1, EntryFor(1)));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_.height, kMaxAddressHeight);
  ASSERT_OK(Clear(UINT64_MAX));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_.height, kMaxAddressHeight) << "the root does not shrink";
  ASSERT_OK(Clear(1));
  ASSERT_OK(Verify());
}

TEST_F(AddressTableTest, WriteEntryRewritesInPlace) {
  for (uint64_t n = 1; n <= 600; ++n) ASSERT_OK(Add(n, EntryFor(n)));
  ASSERT_OK(Verify());
  for (uint64_t n = 1; n <= 600; n += 7) ASSERT_OK(Rewrite(n, EntryFor(n * 31, 2)));
  // Within the same delta too, up to the largest version.
  ASSERT_OK(Rewrite(8, EntryFor(5, 3)));
  ASSERT_OK(Rewrite(8, EntryFor(6, UINT32_MAX)));
  ASSERT_OK(Verify());
}

TEST_F(AddressTableTest, NextEntrySkipsAbsentSubtrees) {
  const std::vector<uint64_t> numbers = {1,          253,        254,           508,
                                         129031,     129032,     1000000,       65548256,
                                         1ull << 40, 1ull << 62, UINT64_MAX - 1, UINT64_MAX};
  for (uint64_t n : numbers) ASSERT_OK(Add(n, EntryFor(n)));
  ASSERT_OK(Verify());
  for (uint64_t n : numbers) {
    for (uint64_t from : {n - 1, n, n + 1}) {
      PageDelta d(&source_);
      const uint64_t gets = source_.gets();
      absl::StatusOr<std::optional<uint64_t>> next = NextEntry(d, root_, from);
      ASSERT_OK(next);
      // Every address page holds something: down at most twice.
      EXPECT_LE(source_.gets() - gets, 2 * kMaxAddressHeight) << from;
      auto it = model_.lower_bound(std::max<uint64_t>(from, 1));
      std::optional<uint64_t> want;
      if (it != model_.end()) want = it->first;
      EXPECT_EQ(*next, want) << from;
    }
  }
}

TEST_F(AddressTableTest, WalkHoldsNoPageAndStopsOnVisitorError) {
  for (uint64_t n = 1; n <= 3000; n += 2) ASSERT_OK(Add(n, EntryFor(n)));
  ASSERT_OK(Verify());
  PageDelta d(&source_);
  Collect walk;
  ASSERT_OK(WalkAddressTable(d, root_, walk));
  ASSERT_GT(walk.pages.size(), 10u);
  const uint64_t gets = source_.gets();
  for (PageId id : walk.pages) ASSERT_OK(d.Read(id));
  EXPECT_EQ(source_.gets() - gets, walk.pages.size()) << "pages the walk kept";

  Collect stop_page;
  stop_page.fail_page_at = 3;
  EXPECT_EQ(WalkAddressTable(d, root_, stop_page).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stop_page.pages.size(), 3u);
  Collect stop_entry;
  stop_entry.fail_entry_at = 500;
  EXPECT_EQ(WalkAddressTable(d, root_, stop_entry).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stop_entry.entries.size(), 500u);
}

TEST_F(AddressTableTest, AllocatorErrorsPassThrough) {
  MapPageSource unformatted;
  PageDelta d(&unformatted);
  Allocator alloc;
  SegmentRoot root;
  EXPECT_EQ(AddEntry(d, alloc, root, 1, EntryFor(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  // Freeing an address page that is already free is a double free: kDataLoss.
  ASSERT_OK(Add(1, EntryFor(1)));
  ASSERT_OK(Verify());
  PageDelta d2(&source_);
  ASSERT_OK(alloc_.Free(d2, root_.address_root));
  absl::StatusOr<FoundEntry> f = Find(d2, 1);
  ASSERT_OK(f);
  SegmentRoot r = root_;
  EXPECT_EQ(ClearEntry(d2, alloc_, r, f->path).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AddressTableTest, AbortedDeltaLeavesNoTrace) {
  ASSERT_OK(Add(5, EntryFor(5)));
  ASSERT_OK(Verify());
  ASSERT_OK(Add(1ull << 30, EntryFor(9)));
  ASSERT_OK(Rewrite(5, EntryFor(6, 2)));
  ASSERT_OK(Clear(5));
  Abort();
  ASSERT_OK(Verify());
  EXPECT_EQ(model_.size(), 1u);
}

TEST_F(AddressTableTest, RandomOpsMatchModel) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  auto number = [&]() -> uint64_t {
    const uint64_t r = rng() % 100;
    if (r < 70) return 1 + rng() % 2000;
    if (r < 95) return 1 + rng() % 300000;
    return 1 + rng() % (UINT64_MAX - 1);
  };
  auto pick = [&]() -> uint64_t {
    auto it = model_.begin();
    std::advance(it, rng() % model_.size());
    return it->first;
  };
  for (int op = 0; op < 5000; ++op) {
    const uint64_t r = rng() % 100;
    if (r < 45 || model_.empty()) {
      const uint64_t n = number();
      if (model_.count(n) == 0) {
        ASSERT_OK(Add(n, EntryFor(rng(), 1))) << "op " << op;
      }
    } else if (r < 65) {
      ASSERT_OK(Rewrite(pick(), EntryFor(rng(), 1 + rng() % 9))) << "op " << op;
    } else if (r < 95) {
      ASSERT_OK(Clear(pick())) << "op " << op;
    } else if (r < 97) {
      Abort();
    } else {
      ASSERT_OK(Verify()) << "op " << op;
    }
  }
  ASSERT_OK(Verify());
  while (!model_.empty()) ASSERT_OK(Clear(pick()));
  ASSERT_OK(Verify());
}

TEST_F(AddressTableTest, ChildPastTheLargestNumberIsDataLoss) {
  ASSERT_OK(Add(1, EntryFor(1)));
  ASSERT_OK(Add(UINT64_MAX, EntryFor(2)));
  ASSERT_OK(Verify());
  ASSERT_EQ(root_.height, kMaxAddressHeight);
  uint64_t span = kLeafEntries;  // numbers under one child of the root
  for (uint32_t l = 1; l < kMaxAddressHeight - 1; ++l) span *= kInnerChildren;
  const uint64_t last = UINT64_MAX / span;
  ASSERT_LT(last + 1, kInnerChildren);
  const PageBuf good = source_.At(root_.address_root);
  ASSERT_NE(GetU64(good.body() + last * 8), 0u) << "UINT64_MAX lives under the last child";
  PageBuf bad = good;
  PutU64(bad.body() + (last + 1) * 8, GetU64(good.body()));
  PutSealed(root_.address_root, bad);
  PageDelta d(&source_);
  Collect walk;
  EXPECT_EQ(WalkAddressTable(d, root_, walk).code(), absl::StatusCode::kDataLoss);
  absl::StatusOr<std::optional<uint64_t>> next = NextEntry(d, root_, 2);
  ASSERT_OK(next);
  EXPECT_EQ(*next, std::optional<uint64_t>(UINT64_MAX));
}

// ---- Damage ----

class AddressTableDamageTest : public AddressTableTest {
 protected:
  void SetUp() override {
    AddressTableTest::SetUp();
    for (uint64_t n = 1; n <= 600; ++n) ASSERT_OK(Add(n, EntryFor(n)));
    ASSERT_OK(Add(100000, EntryFor(100000)));  // height 2
    ASSERT_OK(Verify());
    PageDelta d(&source_);
    Collect walk;
    ASSERT_OK(WalkAddressTable(d, root_, walk));
    pages_ = walk.pages;
    ASSERT_EQ(root_.height, 2u);
    leaf0_ = GetU64(source_.At(root_.address_root).body());
  }

  // Every call over the whole table, each in a scratch delta; returns the first status that is
  // not OK, and fails the test on any code but kDataLoss.
  absl::Status Exercise() {
    absl::Status first;
    auto note = [&](const absl::Status& s) {
      EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kDataLoss) << s;
      if (first.ok() && !s.ok()) first = s;
    };
    for (const auto& [n, e] : model_) {
      PageDelta d(&source_);
      absl::StatusOr<std::optional<FoundEntry>> f = LookupEntry(d, root_, n);
      note(StatusOf(f));
      if (!f.ok() || !f->has_value()) continue;
      note(WriteEntry(d, (*f)->path, EntryFor(n + 1)));
      SegmentRoot root = root_;
      PageDelta d2(&source_);
      note(ClearEntry(d2, alloc_, root, (*f)->path));
    }
    PageDelta d(&source_);
    for (uint64_t from = 0;;) {
      absl::StatusOr<std::optional<uint64_t>> next = NextEntry(d, root_, from);
      note(StatusOf(next));
      if (!next.ok() || !next->has_value() || **next == UINT64_MAX) break;
      from = **next + 1;
    }
    Collect walk;
    note(WalkAddressTable(d, root_, walk));
    for (uint64_t n : {uint64_t{601}, uint64_t{100001}, uint64_t{1} << 40}) {
      PageDelta d2(&source_);
      SegmentRoot root = root_;
      note(AddEntry(d2, alloc_, root, n, EntryFor(n)));
    }
    return first;
  }

  std::vector<PageId> pages_;
  PageId leaf0_ = 0;
};

TEST_F(AddressTableDamageTest, ChecksumAndWrongType) {
  for (PageId id : pages_) {
    const PageBuf good = source_.At(id);
    PageBuf flipped = good;
    flipped.body()[100] ^= 0x10;
    source_.Put(id, flipped);
    absl::Status s = Exercise();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "page " << id;
    for (PageType t : {PageType::kOverflow, PageType::kData, PageType::kFree,
                       TypeOf(good) == PageType::kAddressLeaf ? PageType::kAddressInner
                                                              : PageType::kAddressLeaf}) {
      PutSealed(id, good, t);
      s = Exercise();
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "page " << id;
      EXPECT_NE(s.message().find(absl::StrCat("page ", id)), absl::string_view::npos) << s;
    }
    source_.Put(id, good);
  }
  ASSERT_OK(Verify());
}

TEST_F(AddressTableDamageTest, MalformedEntries) {
  const PageBuf good = source_.At(leaf0_);
  auto with = [&](auto edit) {
    PageBuf bad = good;
    edit(bad.body() + 16 * 1);  // record 1
    PutSealed(leaf0_, bad);
  };
  auto check = [&](const char* what) {
    PageDelta d(&source_);
    EXPECT_EQ(StatusOf(LookupEntry(d, root_, 1)).code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_EQ(StatusOf(NextEntry(d, root_, 0)).code(), absl::StatusCode::kDataLoss) << what;
    Collect walk;
    EXPECT_EQ(WalkAddressTable(d, root_, walk).code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_EQ(Exercise().code(), absl::StatusCode::kDataLoss) << what;
  };
  with([](char* e) { PutU16(e + 10, 4 | kEntryUsed); });
  check("unknown flags");
  with([](char* e) { PutU16(e + 10, 0); });
  check("unused but not zero");
  with([](char* e) {
    PutU64(e, 0);
    PutU16(e + 8, 0);
    PutU16(e + 10, 0);
    PutU32(e + 12, 1);
  });
  check("unused with a version");
  with([](char* e) { PutU64(e, 0); });
  check("page 0");
  with([](char* e) { PutU64(e, kMaxSegmentPage + 1); });
  check("page past the largest");
  with([](char* e) { PutU64(e, kNoPage); });
  check("page ~0");
  with([](char* e) { PutU32(e + 12, 0); });
  check("version 0");
  with([](char* e) {
    PutU16(e + 10, kEntryUsed | kEntryOverflow);
    PutU16(e + 8, 3);
  });
  check("overflow with a slot");
  // The largest well-formed values are fine.
  with([](char* e) {
    PutU64(e, kMaxSegmentPage);
    PutU32(e + 12, UINT32_MAX);
  });
  {
    PageDelta d(&source_);
    EXPECT_OK(LookupEntry(d, root_, 1));
  }
  // Number 0 in use: the walk refuses it; LookupEntry and NextEntry never report it.
  {
    PageBuf bad = good;
    const AddressEntry e = EntryFor(1);
    PutU64(bad.body(), e.page);
    PutU16(bad.body() + 8, e.slot);
    PutU16(bad.body() + 10, e.flags);
    PutU32(bad.body() + 12, 1);
    PutSealed(leaf0_, bad);
    PageDelta d(&source_);
    Collect walk;
    EXPECT_EQ(WalkAddressTable(d, root_, walk).code(), absl::StatusCode::kDataLoss);
    absl::StatusOr<std::optional<FoundEntry>> f = LookupEntry(d, root_, 0);
    ASSERT_OK(f);
    EXPECT_FALSE(f->has_value());
    absl::StatusOr<std::optional<uint64_t>> next = NextEntry(d, root_, 0);
    ASSERT_OK(next);
    EXPECT_EQ(*next, std::optional<uint64_t>(1));
  }
  source_.Put(leaf0_, good);
  ASSERT_OK(Verify());
}

TEST_F(AddressTableDamageTest, BadLinksEmptyPagesAndWrongHeight) {
  const PageId root_page = root_.address_root;
  const PageBuf good = source_.At(root_page);
  for (PageId target : {kNoPage, kMaxSegmentPage + 1, PageId{1}, PageId{2}, root_page,
                        source_.MaxPage() + 100}) {
    PageBuf bad = good;
    PutU64(bad.body(), target);  // the link to leaf 0 (records 1..253)
    PutSealed(root_page, bad);
    PageDelta d(&source_);
    EXPECT_EQ(StatusOf(LookupEntry(d, root_, 1)).code(), absl::StatusCode::kDataLoss) << target;
    EXPECT_EQ(Exercise().code(), absl::StatusCode::kDataLoss) << target;
  }
  // A zero body: the inner root, then a leaf.
  PutSealed(root_page, PageBuf{}, PageType::kAddressInner);
  {
    PageDelta d(&source_);
    Collect walk;
    EXPECT_EQ(WalkAddressTable(d, root_, walk).code(), absl::StatusCode::kDataLoss);
  }
  source_.Put(root_page, good);
  const PageBuf leaf = source_.At(leaf0_);
  PutSealed(leaf0_, PageBuf{}, PageType::kAddressLeaf);
  {
    PageDelta d(&source_);
    Collect walk;
    EXPECT_EQ(WalkAddressTable(d, root_, walk).code(), absl::StatusCode::kDataLoss);
  }
  source_.Put(leaf0_, leaf);
  // A root of the wrong height: one level short, one too many.
  for (uint32_t h : {1u, 3u}) {
    SegmentRoot bad = root_;
    bad.height = h;
    PageDelta d(&source_);
    EXPECT_EQ(StatusOf(LookupEntry(d, bad, 1)).code(), absl::StatusCode::kDataLoss) << h;
    Collect walk;
    EXPECT_EQ(WalkAddressTable(d, bad, walk).code(), absl::StatusCode::kDataLoss) << h;
  }
  ASSERT_OK(Verify());
}

TEST_F(AddressTableDamageTest, RandomResealedFlipsNeverCrash) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  for (int i = 0; i < 200; ++i) {
    const PageId id = pages_[rng() % pages_.size()];
    const PageBuf good = source_.At(id);
    PageBuf bad = good;
    const size_t at = rng() % 2 == 0 ? rng() % 64 : rng() % kPageBodySize;
    bad.body()[at] = static_cast<char>(bad.body()[at] ^ (1 + rng() % 255));
    PutSealed(id, bad);
    (void)Exercise();  // OK (a flip that leaves a well-formed table) or kDataLoss
    source_.Put(id, good);
  }
  ASSERT_OK(Verify());
}

}  // namespace
}  // namespace persy::internal
