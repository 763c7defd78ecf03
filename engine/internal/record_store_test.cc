// Tests of the record store over an in-memory page source and a real Allocator.
//
// Method: every test keeps a plain std::map model of the segment next to the store. A
// "commit" seals the delta and copies its pages into the fake source, exactly what the engine's
// commit does to the page cache; Verify() then reads everything back through a fresh delta and
// checks, besides the bytes and versions, that the segment's pages are each listed once, each
// marked used in the bitmaps, and that the used pages of the file are exactly the file's own
// (0, 1, 2) plus the segment's: no leak, no page freed while still in use. Corruption tests flip
// bytes of committed pages (with and without re-sealing, so that the record store's own checks
// are reached past the checksum) and require kDataLoss, never a crash (run under ASan/UBSan).

#include "engine/internal/record_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/internal/allocator.h"
#include "engine/internal/map_page_source.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/page_store_test_fixture.h"
#include "tools/test_seed.h"

namespace persy::internal {
namespace {

using ::persy::testing::StatusOf;

struct Rec {
  std::string bytes;
  uint32_t version = 1;
};
using Model = std::map<uint64_t, Rec>;

class RecordStoreTest : public PageStoreTest {
 protected:
  void OnBegin() override { saved_root_ = root_; }
  void OnAbort() override { root_ = saved_root_; }

  absl::Status Insert(uint64_t number, const std::string& bytes) {
    TEST_RETURN_IF_ERROR(InsertRecord(Tx(), alloc_, root_, number, bytes));
    model_[number] = Rec{bytes, 1};
    return absl::OkStatus();
  }
  absl::Status Update(uint64_t number, const std::string& bytes) {
    TEST_RETURN_IF_ERROR(UpdateRecord(Tx(), alloc_, root_, number, bytes));
    model_[number].bytes = bytes;
    ++model_[number].version;
    return absl::OkStatus();
  }
  absl::Status Delete(uint64_t number) {
    TEST_RETURN_IF_ERROR(DeleteRecord(Tx(), alloc_, root_, number));
    model_.erase(number);
    return absl::OkStatus();
  }

  // The segment's pages, checked: each once, each used.
  absl::StatusOr<std::vector<PageId>> SegmentPages(PageDelta& d) {
    std::vector<PageId> pages;
    TEST_RETURN_IF_ERROR(CollectSegmentPages(d, root_, &pages));
    std::set<PageId> unique(pages.begin(), pages.end());
    if (unique.size() != pages.size()) return absl::InternalError("a page is listed twice");
    for (PageId id : pages) {
      absl::StatusOr<bool> used = alloc_.IsUsed(d, id);
      TEST_RETURN_IF_ERROR(used);
      if (!*used) return absl::InternalError(absl::StrCat("segment page ", id, " is free"));
    }
    return pages;
  }

  // The pages used in the bitmaps (up to the highest page ever written).
  absl::StatusOr<std::set<PageId>> UsedPages(PageDelta& d) {
    return UsedPagesOf(source_, alloc_, d);
  }

  // Commits, then checks the committed segment against the model.
  absl::Status Verify() {
    Commit();
    PageDelta d(&source_);
    for (const auto& [number, rec] : model_) {
      absl::StatusOr<std::optional<RecordInfo>> info = ReadRecord(d, root_, number);
      TEST_RETURN_IF_ERROR(info);
      if (!info->has_value()) return absl::InternalError(absl::StrCat("record ", number, " lost"));
      if ((*info)->bytes != rec.bytes) {
        return absl::InternalError(absl::StrCat("record ", number, ": wrong bytes (",
                                                (*info)->bytes.size(), " read, ",
                                                rec.bytes.size(), " expected)"));
      }
      if ((*info)->version != rec.version) {
        return absl::InternalError(absl::StrCat("record ", number, ": version ",
                                                (*info)->version, ", expected ", rec.version));
      }
      absl::StatusOr<std::optional<uint32_t>> version = RecordVersion(d, root_, number);
      TEST_RETURN_IF_ERROR(version);
      if (*version != rec.version) return absl::InternalError("RecordVersion disagrees");
    }
    // Iteration.
    std::vector<uint64_t> seen;
    uint64_t from = 0;
    for (;;) {
      absl::StatusOr<std::optional<uint64_t>> next = NextRecord(d, root_, from);
      TEST_RETURN_IF_ERROR(next);
      if (!next->has_value()) break;
      seen.push_back(**next);
      if (**next == UINT64_MAX) break;
      from = **next + 1;
    }
    std::vector<uint64_t> want;
    for (const auto& [number, rec] : model_) want.push_back(number);
    if (seen != want) {
      return absl::InternalError(
          absl::StrCat("NextRecord visits ", seen.size(), " records, model has ", want.size()));
    }
    // Pages: exactly the file's own and the segment's are used.
    absl::StatusOr<std::vector<PageId>> pages = SegmentPages(d);
    TEST_RETURN_IF_ERROR(pages);
    std::set<PageId> expected(pages->begin(), pages->end());
    expected.insert({0, 1, 2});
    absl::StatusOr<std::set<PageId>> used = UsedPages(d);
    TEST_RETURN_IF_ERROR(used);
    if (*used != expected) {
      return absl::InternalError(absl::StrCat("used pages: ", used->size(), ", expected ",
                                              expected.size(), " (a leak or a lost page)"));
    }
    return absl::OkStatus();
  }

  // Drops the segment and checks that only the file's own pages stay used.
  absl::Status DropAndCheckEmpty() {
    TEST_RETURN_IF_ERROR(DropSegmentPages(Tx(), alloc_, root_));
    root_ = SegmentRoot{};
    model_.clear();
    Commit();
    PageDelta d(&source_);
    absl::StatusOr<std::set<PageId>> used = UsedPages(d);
    TEST_RETURN_IF_ERROR(used);
    if (*used != std::set<PageId>{0, 1, 2}) {
      return absl::InternalError(absl::StrCat(used->size() - 3, " pages leaked"));
    }
    return absl::OkStatus();
  }

  PageType TypeOfCommitted(PageId id) { return TypeOf(source_.At(id)); }

  // Replaces committed page `id` with a copy whose byte `offset` is XORed with `mask`;
  // re-sealed (same type byte as now in the copy, same lsn) if `reseal`.
  void Corrupt(PageId id, size_t offset, uint8_t mask, bool reseal) {
    PageBuf page = source_.At(id);
    page.bytes[offset] = static_cast<char>(page.bytes[offset] ^ mask);
    if (reseal) SealPage(id, TypeOf(page), LsnOf(page), page);
    source_.Put(id, page);
  }

  SegmentRoot root_;
  SegmentRoot saved_root_;
  Model model_;
};

// The whole-segment walk holds its path, not the segment: after it, the delta fetches every
// page again (a walk over a big file must not keep it all in memory).
TEST_F(RecordStoreTest, CollectSegmentPagesHoldsNoPage) {
  for (uint64_t n = 1; n <= 600; ++n) ASSERT_OK(Insert(n, TestBytes(n, n % 3 == 0 ? 3000 : 300)));
  Commit();
  PageDelta d(&source_);
  std::vector<PageId> pages;
  ASSERT_OK(CollectSegmentPages(d, root_, &pages));
  ASSERT_GT(pages.size(), 100u);
  const uint64_t gets = source_.gets();
  for (PageId id : pages) ASSERT_OK(d.Read(id));
  EXPECT_EQ(source_.gets() - gets, pages.size()) << "pages the walk kept";
}

TEST_F(RecordStoreTest, EmptySegment) {
  PageDelta d(&source_);
  absl::StatusOr<std::optional<RecordInfo>> info = ReadRecord(d, root_, 1);
  ASSERT_OK(info);
  EXPECT_FALSE(info->has_value());
  absl::StatusOr<std::optional<uint64_t>> next = NextRecord(d, root_, 0);
  ASSERT_OK(next);
  EXPECT_FALSE(next->has_value());
  std::vector<PageId> pages;
  ASSERT_OK(CollectSegmentPages(d, root_, &pages));
  EXPECT_TRUE(pages.empty());
  EXPECT_EQ(UpdateRecord(d, alloc_, root_, 1, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DeleteRecord(d, alloc_, root_, 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(InsertRecord(d, alloc_, root_, 0, "x").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RecordStoreTest, SizesRoundTrip) {
  const std::vector<size_t> sizes = {0,    1,    17,     1000,        1999,           2000,
                                     2001, 4052, 4053,   8104,        100 * 1024,     5 << 20};
  for (size_t i = 0; i < sizes.size(); ++i) ASSERT_OK(Insert(i + 1, TestBytes(i, sizes[i])));
  ASSERT_OK(Verify());
  // Every record takes every other size: in place, moved, into and out of overflow chains.
  for (size_t round = 1; round < sizes.size(); ++round) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      ASSERT_OK(Update(i + 1, TestBytes(round * 100 + i, sizes[(i + round) % sizes.size()])));
    }
    ASSERT_OK(Verify()) << "round " << round;
  }
  EXPECT_EQ(InsertRecord(Tx(), alloc_, root_, 3, "dup").code(),
            absl::StatusCode::kFailedPrecondition);
  Abort();
  for (size_t i = 0; i < sizes.size(); i += 2) ASSERT_OK(Delete(i + 1));
  ASSERT_OK(Verify());
  {
    PageDelta d(&source_);
    absl::StatusOr<std::optional<RecordInfo>> gone = ReadRecord(d, root_, 1);
    ASSERT_OK(gone);
    EXPECT_FALSE(gone->has_value());
  }
  for (size_t i = 1; i < sizes.size(); i += 2) ASSERT_OK(Delete(i + 1));
  ASSERT_OK(Verify());
  EXPECT_EQ(root_, SegmentRoot{}) << "a segment emptied by deletes holds no page";
  ASSERT_OK(DropAndCheckEmpty());
}

TEST_F(RecordStoreTest, InlineLimitIs2000Bytes) {
  ASSERT_OK(Insert(1, TestBytes(1, kMaxInlineSize)));
  ASSERT_OK(Verify());
  PageDelta d(&source_);
  absl::StatusOr<std::vector<PageId>> pages = SegmentPages(d);
  ASSERT_OK(pages);
  ASSERT_EQ(pages->size(), 2u);  // one leaf, one data page
  EXPECT_NE(root_.tail_page, 0u);
  EXPECT_EQ(TypeOfCommitted(root_.tail_page), PageType::kData);
  EXPECT_EQ(TypeOfCommitted(root_.address_root), PageType::kAddressLeaf);

  ASSERT_OK(Update(1, TestBytes(2, kMaxInlineSize + 1)));
  ASSERT_OK(Verify());
  PageDelta d2(&source_);
  pages = SegmentPages(d2);
  ASSERT_OK(pages);
  ASSERT_EQ(pages->size(), 2u);  // leaf, one overflow page; the emptied tail was freed
  EXPECT_EQ(root_.tail_page, 0u);
  int overflow = 0;
  for (PageId id : *pages) overflow += TypeOfCommitted(id) == PageType::kOverflow;
  EXPECT_EQ(overflow, 1);

  EXPECT_EQ(UpdateRecord(Tx(), alloc_, root_, 1, std::string(kMaxRecordBytes + 1, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  Abort();
}

TEST_F(RecordStoreTest, UpdateMovesBetweenPagesAndFreesEmptyPages) {
  // Four 1000-byte records fill a data page (8 + 4 * 1004 of 4064 bytes); the fifth starts a
  // new tail.
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_OK(Insert(i, TestBytes(i, 1000)));
  ASSERT_OK(Verify());
  const PageId first = root_.tail_page;
  ASSERT_OK(Insert(5, TestBytes(5, 100)));
  ASSERT_OK(Verify());
  const PageId second = root_.tail_page;
  ASSERT_NE(first, second);
  auto slot_offset = [&](PageId page, size_t slot) {
    return GetU16(source_.At(page).body() + 8 + slot * 4);
  };
  auto slot_length = [&](PageId page, size_t slot) {
    return GetU16(source_.At(page).body() + 8 + slot * 4 + 2);
  };

  // Record 1 cannot grow within the full page: it moves to the tail, its slot is freed.
  ASSERT_OK(Update(1, TestBytes(11, 1100)));
  ASSERT_OK(Verify());
  EXPECT_EQ(slot_offset(first, 0), 0u);
  EXPECT_EQ(GetU16(source_.At(second).body()), 2u) << "the tail holds records 5 and 1";

  // Record 3 grows in place once the page is compacted (the free room is in holes).
  ASSERT_OK(Update(2, TestBytes(12, 10)));
  ASSERT_OK(Update(3, TestBytes(13, 2000)));
  ASSERT_OK(Verify());
  EXPECT_EQ(slot_length(first, 2), 2000u);
  EXPECT_EQ(GetU16(source_.At(first).body() + 2), 4064u - 2000 - 1000 - 10);

  // Into an overflow chain and out again.
  ASSERT_OK(Update(4, TestBytes(14, 50000)));
  ASSERT_OK(Verify());
  EXPECT_EQ(GetU16(source_.At(first).body()), 3u) << "trailing free slot dropped";

  // The first page empties; it is not the tail, so it is freed.
  ASSERT_OK(Delete(2));
  ASSERT_OK(Delete(3));
  ASSERT_OK(Verify());
  {
    PageDelta d(&source_);
    absl::StatusOr<bool> used = alloc_.IsUsed(d, first);
    ASSERT_OK(used);
    EXPECT_FALSE(*used) << "an empty data page that is not the tail is freed";
  }
  // The tail is freed too when it empties (it would pin the end of the file).
  ASSERT_OK(Delete(1));
  ASSERT_OK(Delete(5));
  ASSERT_OK(Verify());
  {
    PageDelta d(&source_);
    absl::StatusOr<bool> used = alloc_.IsUsed(d, second);
    ASSERT_OK(used);
    EXPECT_FALSE(*used);
    EXPECT_EQ(root_.tail_page, 0u);
  }
  ASSERT_OK(Update(4, TestBytes(15, 3)));  // back from the chain into a new tail
  ASSERT_OK(Verify());
  ASSERT_NE(root_.tail_page, 0u);
  EXPECT_EQ(GetU16(source_.At(root_.tail_page).body()), 1u);
  ASSERT_OK(DropAndCheckEmpty());
}

TEST_F(RecordStoreTest, LoneRecordBehindALongDirectoryMovesOut) {
  // 1014 zero-length records fill a data page's directory; the next record starts a new tail.
  for (uint64_t i = 1; i <= 1014; ++i) ASSERT_OK(Insert(i, ""));
  const PageId first = root_.tail_page;
  ASSERT_OK(Insert(1015, "x"));
  ASSERT_NE(root_.tail_page, first);
  ASSERT_OK(Verify());
  // The last slot's record alone in the page: the 1013 free slots before it stay in the
  // directory, so it cannot grow in place. It moves to the tail and its page, now empty, is
  // freed although it is not the tail.
  for (uint64_t i = 1; i <= 1013; ++i) ASSERT_OK(Delete(i));
  ASSERT_OK(Verify());
  EXPECT_EQ(GetU16(source_.At(first).body()), 1014u);
  ASSERT_OK(Update(1014, TestBytes(1, 2000)));
  ASSERT_OK(Verify());
  PageDelta d(&source_);
  absl::StatusOr<bool> used = alloc_.IsUsed(d, first);
  ASSERT_OK(used);
  EXPECT_FALSE(*used);
  ASSERT_OK(DropAndCheckEmpty());
}

TEST_F(RecordStoreTest, ManyRecordsGrowTheTreeToHeight3) {
  // 254 * 508 = 129,032 numbers fit a tree of height 2.
  const uint64_t n = 140000;
  for (uint64_t batch = 0; batch < 7; ++batch) {
    for (uint64_t i = batch * n / 7 + 1; i <= (batch + 1) * n / 7; ++i) {
      ASSERT_OK(Insert(i, TestBytes(i, i % 41)));
    }
    Commit();
  }
  EXPECT_EQ(root_.height, 3u);
  ASSERT_OK(Verify());
  // Delete all but every 1000th (leaves emptied and freed), in batches.
  for (uint64_t batch = 0; batch < 4; ++batch) {
    for (uint64_t i = batch * n / 4 + 1; i <= (batch + 1) * n / 4; ++i) {
      if (i % 1000 == 0) continue;
      ASSERT_OK(Delete(i));
    }
    Commit();
  }
  ASSERT_OK(Verify());
  ASSERT_OK(DropAndCheckEmpty());
}

TEST_F(RecordStoreTest, NextRecordSkipsEmptySubtrees) {
  const std::vector<uint64_t> numbers = {
      1,          2,          253,        254,        255,        507,
      508,        5000,       129031,     129032,     129033,     1000000,
      65548255,   65548256,   1ull << 40, 1ull << 62, UINT64_MAX - 300, UINT64_MAX - 1,
      UINT64_MAX};
  for (uint64_t x : numbers) ASSERT_OK(Insert(x, TestBytes(x, 8)));
  EXPECT_EQ(root_.height, kMaxAddressHeight);
  ASSERT_OK(Verify());
  auto check_from = [&](uint64_t from) -> absl::Status {
    PageDelta d(&source_);
    const uint64_t gets = source_.gets();
    absl::StatusOr<std::optional<uint64_t>> next = NextRecord(d, root_, from);
    TEST_RETURN_IF_ERROR(next);
    // Every address page holds something, so the search goes down at most twice: to where
    // `from` would be, and, if nothing there is >= from, down the next present subtree.
    if (source_.gets() - gets > 2 * kMaxAddressHeight) {
      return absl::InternalError(absl::StrCat("NextRecord(", from, ") read ",
                                              source_.gets() - gets, " pages"));
    }
    auto it = model_.lower_bound(std::max<uint64_t>(from, 1));
    std::optional<uint64_t> want;
    if (it != model_.end()) want = it->first;
    if (*next != want) return absl::InternalError(absl::StrCat("NextRecord(", from, ") wrong"));
    return absl::OkStatus();
  };
  for (uint64_t x : numbers) {
    for (uint64_t from : {x - 1, x, x + 1}) ASSERT_OK(check_from(from)) << from;
  }
  // Deletes empty whole leaves and inner pages.
  ASSERT_OK(Delete(254));
  ASSERT_OK(Delete(255));
  ASSERT_OK(Delete(507));
  ASSERT_OK(Delete(1ull << 40));
  ASSERT_OK(Delete(UINT64_MAX - 1));
  ASSERT_OK(Verify());
  for (uint64_t x : numbers) {
    for (uint64_t from : {x - 1, x, x + 1}) ASSERT_OK(check_from(from)) << from;
  }
  ASSERT_OK(DropAndCheckEmpty());
}

TEST_F(RecordStoreTest, AbortedDeltaLeavesNoTrace) {
  ASSERT_OK(Insert(1, TestBytes(1, 100)));
  ASSERT_OK(Verify());
  const Model before = model_;
  ASSERT_OK(InsertRecord(Tx(), alloc_, root_, 2, TestBytes(2, 30000)));
  ASSERT_OK(UpdateRecord(Tx(), alloc_, root_, 1, TestBytes(3, 3000)));
  Abort();
  ASSERT_OK(Verify());
  EXPECT_EQ(model_.size(), before.size());
}

TEST_F(RecordStoreTest, RandomOpsMatchModel) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  auto size = [&]() -> size_t {
    const uint64_t r = rng() % 100;
    if (r < 60) return rng() % 200;
    if (r < 85) return rng() % 2100;
    if (r < 98) return 2001 + rng() % 20000;
    return 100000 + rng() % 100000;
  };
  auto pick = [&]() -> uint64_t {
    auto it = model_.begin();
    std::advance(it, rng() % model_.size());
    return it->first;
  };
  uint64_t next_number = 1;
  Model committed;
  for (int op = 0; op < 4000; ++op) {
    const uint64_t r = rng() % 100;
    if (r < 40 || model_.empty()) {
      next_number += rng() % 8 == 0 ? rng() % 600 : 1;  // gaps leave whole leaves unused
      ASSERT_OK(Insert(next_number, TestBytes(rng(), size()))) << "op " << op;
      ++next_number;
    } else if (r < 70) {
      ASSERT_OK(Update(pick(), TestBytes(rng(), size()))) << "op " << op;
    } else if (r < 95) {
      ASSERT_OK(Delete(pick())) << "op " << op;
    } else if (r < 97) {
      Abort();
      model_ = committed;
    } else {
      ASSERT_OK(Verify()) << "op " << op;
      committed = model_;
    }
  }
  ASSERT_OK(Verify());
  while (!model_.empty()) ASSERT_OK(Delete(pick()));
  ASSERT_OK(Verify());
  ASSERT_OK(DropAndCheckEmpty());
}

// ---- Damage ----

class RecordStoreDamageTest : public RecordStoreTest {
 protected:
  void SetUp() override {
    RecordStoreTest::SetUp();
    for (uint64_t i = 1; i <= 200; ++i) {
      size_t n = i % 37 == 0 ? 3000 + i * 10 : i % 7 == 0 ? 1500 : i % 50;
      ASSERT_OK(Insert(i, TestBytes(i, n)));
    }
    ASSERT_OK(Insert(100000, TestBytes(7, 9000)));  // height 2
    ASSERT_OK(Verify());
    PageDelta d(&source_);
    absl::StatusOr<std::vector<PageId>> pages = SegmentPages(d);
    ASSERT_OK(pages);
    pages_ = *pages;
  }

  // Every operation over the whole segment, in a scratch delta; returns the first status that
  // is not OK, and fails the test on any code but kDataLoss.
  absl::Status Exercise() {
    absl::Status first;
    auto note = [&](const absl::Status& s) {
      // kNotFound: a re-sealed flip can zero a link, which is indistinguishable from a
      // subtree that was never there.
      EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kDataLoss ||
                  s.code() == absl::StatusCode::kNotFound)
          << s;
      if (first.ok() && !s.ok()) first = s;
    };
    {
      PageDelta d(&source_);
      for (const auto& [number, rec] : model_) {
        note(StatusOf(ReadRecord(d, root_, number)));
        note(StatusOf(RecordVersion(d, root_, number)));
      }
      for (uint64_t from = 0;;) {
        absl::StatusOr<std::optional<uint64_t>> next = NextRecord(d, root_, from);
        note(StatusOf(next));
        if (!next.ok() || !next->has_value()) break;
        from = **next + 1;
      }
      std::vector<PageId> pages;
      note(CollectSegmentPages(d, root_, &pages));
    }
    for (const auto& [number, rec] : model_) {
      PageDelta d(&source_);
      SegmentRoot root = root_;
      note(UpdateRecord(d, alloc_, root, number, TestBytes(number + 1, rec.bytes.size() + 700)));
      PageDelta d2(&source_);
      root = root_;
      note(DeleteRecord(d2, alloc_, root, number));
    }
    PageDelta d(&source_);
    SegmentRoot root = root_;
    note(InsertRecord(d, alloc_, root, 100001, TestBytes(1, 1000)));
    note(DropSegmentPages(d, alloc_, root));
    return first;
  }

  std::vector<PageId> pages_;
};

TEST_F(RecordStoreDamageTest, FlipWithoutResealIsCaughtByTheChecksum) {
  for (PageId id : pages_) {
    const PageBuf good = source_.At(id);
    Corrupt(id, kPageHeaderSize + 100, 0x10, /*reseal=*/false);
    absl::Status s = Exercise();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "page " << id;
    EXPECT_NE(s.message().find(absl::StrCat("page ", id)), absl::string_view::npos) << s;
    source_.Put(id, good);
  }
  ASSERT_OK(Verify());
}

TEST_F(RecordStoreDamageTest, WrongTypeIsDataLoss) {
  for (PageId id : pages_) {
    const PageBuf good = source_.At(id);
    PageBuf bad = good;
    SealPage(id, TypeOf(good) == PageType::kData ? PageType::kOverflow : PageType::kData,
             LsnOf(good), bad);
    source_.Put(id, bad);
    absl::Status s = Exercise();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "page " << id;
    source_.Put(id, good);
  }
}

TEST_F(RecordStoreDamageTest, EntryPointingAtWrongPageOrSlot) {
  // Find a small record's entry: record 1 lives at entry 1 of the first leaf.
  PageDelta d(&source_);
  absl::StatusOr<std::optional<RecordInfo>> info = ReadRecord(d, root_, 1);
  ASSERT_OK(info);
  const PageId root_page = root_.address_root;
  ASSERT_EQ(TypeOfCommitted(root_page), PageType::kAddressInner);
  const PageId leaf = GetU64(source_.At(root_page).body());
  ASSERT_EQ(TypeOfCommitted(leaf), PageType::kAddressLeaf);
  const PageBuf good = source_.At(leaf);
  char* entry = nullptr;
  auto edit = [&](auto fn) {
    PageBuf bad = good;
    entry = bad.body() + 1 * 16;
    fn();
    SealPage(leaf, PageType::kAddressLeaf, LsnOf(good), bad);
    source_.Put(leaf, bad);
    PageDelta d2(&source_);
    absl::StatusOr<std::optional<RecordInfo>> r = ReadRecord(d2, root_, 1);
    source_.Put(leaf, good);
    return StatusOf(r);
  };
  // At the bitmap page, the file header, a page past the end, an impossible page.
  for (PageId target : {PageId{2}, PageId{1}, PageId{0}, PageId{1} << 40, kNoPage}) {
    absl::Status s = edit([&] { PutU64(entry, target); });
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << target << ": " << s;
  }
  // At the leaf itself (an address page).
  EXPECT_EQ(edit([&] { PutU64(entry, leaf); }).code(), absl::StatusCode::kDataLoss);
  // A slot out of range, a free slot.
  EXPECT_EQ(edit([&] { PutU16(entry + 8, 1013); }).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(edit([&] { PutU16(entry + 8, 60000); }).code(), absl::StatusCode::kDataLoss);
  // Unknown flags, version 0, an unused entry that is not zero, overflow with a slot.
  EXPECT_EQ(edit([&] { PutU16(entry + 10, 5); }).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(edit([&] { PutU32(entry + 12, 0); }).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(edit([&] { PutU16(entry + 10, 0); }).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(edit([&] { PutU16(entry + 10, 3); }).code(), absl::StatusCode::kDataLoss);
  // Pointing a small entry at an overflow chain's page: wrong type.
  const PageId overflow_first = [&] {
    for (PageId id : pages_) {
      if (TypeOfCommitted(id) == PageType::kOverflow) return id;
    }
    return PageId{0};
  }();
  ASSERT_NE(overflow_first, 0u);
  EXPECT_EQ(edit([&] { PutU64(entry, overflow_first); }).code(), absl::StatusCode::kDataLoss);
  // The largest version cannot go up: the update is refused, nothing changes.
  {
    PageBuf last = good;
    PutU32(last.body() + 16 + 12, UINT32_MAX);
    SealPage(leaf, PageType::kAddressLeaf, LsnOf(good), last);
    source_.Put(leaf, last);
    PageDelta d2(&source_);
    SegmentRoot root = root_;
    EXPECT_EQ(UpdateRecord(d2, alloc_, root, 1, "x").code(),
              absl::StatusCode::kResourceExhausted);
    EXPECT_TRUE(d2.pages().empty());
    source_.Put(leaf, good);
  }
  // A bad segment root.
  PageDelta d3(&source_);
  SegmentRoot bad_root = root_;
  bad_root.height = 9;
  EXPECT_EQ(StatusOf(ReadRecord(d3, bad_root, 1)).code(), absl::StatusCode::kDataLoss);
  bad_root = root_;
  bad_root.height = 1;  // the root is an inner page
  EXPECT_EQ(StatusOf(ReadRecord(d3, bad_root, 1)).code(), absl::StatusCode::kDataLoss);
  ASSERT_OK(Verify());
}

TEST_F(RecordStoreDamageTest, DataPageFieldsAreBoundsChecked) {
  for (PageId id : pages_) {
    if (TypeOfCommitted(id) != PageType::kData) continue;
    const PageBuf good = source_.At(id);
    const size_t count = GetU16(good.body());
    struct Edit {
      size_t at;
      uint16_t value;
    };
    std::vector<Edit> edits = {{0, 1015}, {0, 0xFFFF}, {2, 4065}, {2, 0xFFFF}, {2, 0}, {4, 1}};
    for (size_t slot : std::set<size_t>{0, count / 2, count - 1}) {
      if (slot >= count) continue;
      // Offset at the end (a zero-length record there would be well-formed).
      if (GetU16(good.body() + 8 + slot * 4 + 2) != 0) edits.push_back({8 + slot * 4, 4064});
      edits.push_back({8 + slot * 4, 2});         // offset inside the directory
      edits.push_back({8 + slot * 4 + 2, 4064});  // length past the page
    }
    for (const Edit& e : edits) {
      PageBuf bad = good;
      PutU16(bad.body() + e.at, e.value);
      SealPage(id, PageType::kData, LsnOf(good), bad);
      source_.Put(id, bad);
      absl::Status s = Exercise();
      source_.Put(id, good);
      if (GetU16(good.body() + e.at) != e.value) {
        EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "page " << id << " at " << e.at;
      }
    }
  }
  ASSERT_OK(Verify());
}

TEST_F(RecordStoreDamageTest, RandomResealedFlipsNeverCrash) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  for (int i = 0; i < 300; ++i) {
    const PageId id = pages_[rng() % pages_.size()];
    const PageBuf good = source_.At(id);
    // Mostly the structural prefix of the body, where the links and counts are.
    const size_t offset =
        rng() % 2 == 0 ? kPageHeaderSize + rng() % 64 : 16 + rng() % (kPageSize - 16);
    const uint8_t mask = static_cast<uint8_t>(1 + rng() % 255);
    Corrupt(id, offset, mask, /*reseal=*/true);
    (void)Exercise();  // OK (a flip in record bytes) or kDataLoss; checked inside
    source_.Put(id, good);
  }
  ASSERT_OK(Verify());
}

}  // namespace
}  // namespace persy::internal
