#include "engine/internal/allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "tools/test_seed.h"

namespace persy::internal {
namespace {

constexpr uint64_t G = kGroupPages;

// The committed pages of a file, as the page cache would serve them: a page past the end of the
// file is the zero page; a page inside the file that was never written (a hole) or that fails
// its check is kDataLoss, as from the real source. So an allocator that reads a hole, or lets
// the journal leave one where a bitmap page belongs, fails here as it would on disk.
class FakeFile : public PageSource {
 public:
  absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) override {
    auto it = pages_.find(id);
    if (it == pages_.end()) {
      if (id < size_) return absl::DataLossError(absl::StrCat("page ", id, ": a zero page"));
      return std::make_shared<const PageBuf>();
    }
    if (absl::Status s = VerifyPage(id, *it->second); !s.ok()) return s;
    return it->second;
  }

  // Commit steps 1-3 in one: seal the delta's pages and make them the committed images.
  void Commit(PageDelta& delta) {
    delta.SealAll(++lsn_);
    for (const auto& [id, page] : delta.pages()) {
      pages_[id] = std::make_shared<PageBuf>(page);
      size_ = std::max(size_, id + 1);
    }
  }
  // The journal writes a page in place, ahead of any commit.
  void WriteJournalPage(PageId id) {
    auto page = std::make_shared<PageBuf>();
    SealPage(id, PageType::kJournal, 0, *page);
    pages_[id] = page;
    size_ = std::max(size_, id + 1);
  }
  void Truncate(uint64_t pages) {
    pages_.erase(pages_.lower_bound(pages), pages_.end());
    size_ = pages;
  }
  // Flips a byte of a committed page without resealing it.
  void Damage(PageId id) {
    auto copy = std::make_shared<PageBuf>(*pages_.at(id));
    copy->body()[100] ^= 0x40;
    pages_[id] = copy;
  }
  void Replace(PageId id, PageType type) {
    auto page = std::make_shared<PageBuf>();
    SealPage(id, type, 0, *page);
    pages_[id] = page;
  }
  uint64_t size() const { return size_; }

 private:
  std::map<PageId, std::shared_ptr<const PageBuf>> pages_;
  uint64_t size_ = 0;
  uint64_t lsn_ = 0;
};

// A formatted file and an allocator over it.
class AllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PageDelta delta(&file_);
    ASSERT_TRUE(Allocator::Format(delta).ok());
    file_.Commit(delta);
  }

  PageId MustAllocate(PageDelta& delta) {
    absl::StatusOr<PageId> id = alloc_.Allocate(delta);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(kNoPage);
  }
  // Allocates pages 3 .. G-1 and commits: group 0 is full.
  void FillGroup0() {
    PageDelta delta(&file_);
    for (PageId want = 3; want < G; ++want) ASSERT_EQ(MustAllocate(delta), want);
    file_.Commit(delta);
  }
  uint64_t Used(uint64_t file_pages) {
    PageDelta delta(&file_);
    absl::StatusOr<uint64_t> used = alloc_.UsedPageCount(delta, file_pages);
    EXPECT_TRUE(used.ok()) << used.status();
    return used.value_or(0);
  }

  FakeFile file_;
  Allocator alloc_;
};

TEST_F(AllocatorTest, FormatMarksHeaderAndBitmapPagesUsed) {
  PageDelta delta(&file_);
  for (PageId id : {PageId{0}, PageId{1}, PageId{2}}) EXPECT_TRUE(*alloc_.IsUsed(delta, id)) << id;
  EXPECT_FALSE(*alloc_.IsUsed(delta, 3));
  EXPECT_EQ(alloc_.UsedPageCount(delta, file_.size()).value(), 3u);
  EXPECT_EQ(Allocator::Format(delta).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AllocatorTest, AllocatesInOrderFromPage3) {
  PageDelta delta(&file_);
  for (PageId want = 3; want < 10; ++want) EXPECT_EQ(MustAllocate(delta), want);
  // Only the bitmap changed: data pages are the caller's to fill.
  EXPECT_EQ(delta.pages().size(), 1u);
  EXPECT_TRUE(delta.Contains(2));
  file_.Commit(delta);
  PageDelta next(&file_);
  EXPECT_EQ(MustAllocate(next), 10u);
}

TEST(AllocatorUnformattedTest, NeedsGroup0) {
  FakeFile file;
  PageDelta delta(&file);
  Allocator alloc;
  EXPECT_EQ(alloc.Allocate(delta).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(alloc.ReserveForJournal(delta).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(alloc.UsedPageCount(delta, 0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(delta.pages().empty());
}

TEST(AllocatorCreateTest, JournalPagesWhileCreating) {
  // File creation: group 0 exists only in the delta, written in place with the journal's first
  // pages before the header makes it a persy file.
  FakeFile file;
  PageDelta delta(&file);
  Allocator alloc;
  ASSERT_TRUE(Allocator::Format(delta).ok());
  EXPECT_EQ(alloc.Allocate(delta).value(), 3u);
  EXPECT_EQ(alloc.ReserveForJournal(delta).value(), 4u);
  EXPECT_EQ(alloc.ReserveForJournal(delta).value(), 5u);
  EXPECT_EQ(alloc.Allocate(delta).value(), 6u);
}

TEST_F(AllocatorTest, FreeThenAllocateReusesTheLowest) {
  PageDelta delta(&file_);
  for (int i = 0; i < 10; ++i) MustAllocate(delta);  // 3 .. 12
  file_.Commit(delta);
  PageDelta frees(&file_);
  ASSERT_TRUE(alloc_.Free(frees, 9).ok());
  ASSERT_TRUE(alloc_.Free(frees, 5).ok());
  EXPECT_FALSE(*alloc_.IsUsed(frees, 5));
  file_.Commit(frees);
  PageDelta again(&file_);
  EXPECT_EQ(MustAllocate(again), 5u);
  EXPECT_EQ(MustAllocate(again), 9u);
  EXPECT_EQ(MustAllocate(again), 13u);
}

TEST_F(AllocatorTest, FreeAndAllocateInOneDelta) {
  PageDelta delta(&file_);
  EXPECT_EQ(MustAllocate(delta), 3u);
  EXPECT_EQ(MustAllocate(delta), 4u);
  ASSERT_TRUE(alloc_.Free(delta, 3).ok());
  EXPECT_EQ(MustAllocate(delta), 3u);
}

// A commit writes only the pages it changed that stay used: one it changed and then freed
// (committed before, or allocated in the same delta) is dropped, its bitmap page is kept.
TEST_F(AllocatorTest, DropFreedPagesKeepsOnlyUsedPages) {
  PageDelta delta(&file_);
  for (PageId want = 3; want <= 5; ++want) {
    ASSERT_EQ(MustAllocate(delta), want);
    delta.Fresh(want)->body()[0] = 1;
  }
  file_.Commit(delta);
  PageDelta change(&file_);
  for (PageId id : {3, 4}) {
    absl::StatusOr<PageBuf*> page = change.Write(id);
    ASSERT_TRUE(page.ok()) << page.status();
    (*page)->body()[0] = 2;
  }
  ASSERT_EQ(MustAllocate(change), 6u);  // allocated, written, then freed
  change.Fresh(6)->body()[0] = 3;
  ASSERT_TRUE(alloc_.Free(change, 6).ok());
  ASSERT_TRUE(alloc_.Free(change, 4).ok());  // committed, changed, then freed
  ASSERT_TRUE(change.Contains(4) && change.Contains(6));
  ASSERT_TRUE(alloc_.DropFreedPages(change).ok());
  std::vector<PageId> kept;
  for (const auto& [id, page] : change.pages()) kept.push_back(id);
  EXPECT_EQ(kept, (std::vector<PageId>{2, 3}));  // the bitmap and the page still used
  EXPECT_EQ(change.pages().at(3).body()[0], 2);
}

TEST_F(AllocatorTest, DoubleFreeIsDataLoss) {
  PageDelta delta(&file_);
  const PageId id = MustAllocate(delta);
  file_.Commit(delta);
  PageDelta frees(&file_);
  ASSERT_TRUE(alloc_.Free(frees, id).ok());
  absl::Status twice = alloc_.Free(frees, id);
  EXPECT_EQ(twice.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(twice.message().find(absl::StrCat("page ", id)), absl::string_view::npos) << twice;
  // Never allocated, in an existing group and in one that does not exist.
  EXPECT_EQ(alloc_.Free(frees, 100).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(alloc_.Free(frees, 3 * G + 7).code(), absl::StatusCode::kDataLoss);
  // A reserved journal page is not marked used either.
  alloc_.Reserve(50);
  EXPECT_EQ(alloc_.Free(frees, 50).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AllocatorTest, HeaderAndBitmapPagesCannotBeFreed) {
  PageDelta delta(&file_);
  for (PageId id : {PageId{0}, PageId{1}, PageId{2}, G + 2, 5 * G + 2, kNoPage}) {
    EXPECT_EQ(alloc_.Free(delta, id).code(), absl::StatusCode::kInvalidArgument) << id;
  }
  EXPECT_TRUE(delta.pages().empty());
}

TEST_F(AllocatorTest, ReservedPagesAreSkipped) {
  alloc_.Reserve(3);
  alloc_.Reserve(5);
  EXPECT_TRUE(alloc_.IsReserved(3));
  PageDelta delta(&file_);
  EXPECT_EQ(MustAllocate(delta), 4u);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).value(), 6u);
  EXPECT_TRUE(alloc_.IsReserved(6));
  EXPECT_EQ(MustAllocate(delta), 7u);
  alloc_.Unreserve(3);
  EXPECT_FALSE(alloc_.IsReserved(3));
  EXPECT_EQ(MustAllocate(delta), 3u);
  EXPECT_EQ(MustAllocate(delta), 8u);
  // Reservations are never marked in the bitmaps.
  EXPECT_FALSE(*alloc_.IsUsed(delta, 5));
  EXPECT_FALSE(*alloc_.IsUsed(delta, 6));
}

TEST_F(AllocatorTest, ReserveForJournalDoesNotChangeTheDelta) {
  PageDelta delta(&file_);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).value(), 3u);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).value(), 4u);
  EXPECT_TRUE(delta.pages().empty());
}

TEST_F(AllocatorTest, JournalNeverTakesAPageTheDeltaAllocatesOrFrees) {
  PageDelta delta(&file_);
  for (int i = 0; i < 3; ++i) MustAllocate(delta);  // 3, 4, 5
  file_.Commit(delta);
  PageDelta commit(&file_);
  ASSERT_TRUE(alloc_.Free(commit, 3).ok());  // still live until `commit` is durable
  EXPECT_EQ(MustAllocate(commit), 3u);
  ASSERT_TRUE(alloc_.Free(commit, 4).ok());
  EXPECT_EQ(MustAllocate(commit), 4u);
  ASSERT_TRUE(alloc_.Free(commit, 4).ok());
  EXPECT_EQ(MustAllocate(commit), 4u);
  EXPECT_EQ(MustAllocate(commit), 6u);  // this delta's page
  ASSERT_TRUE(alloc_.Free(commit, 5).ok());
  EXPECT_EQ(alloc_.ReserveForJournal(commit).value(), 7u);
}

TEST_F(AllocatorTest, CrossingIntoGroup1) {
  FillGroup0();
  PageDelta delta(&file_);
  EXPECT_EQ(MustAllocate(delta), G);
  ASSERT_TRUE(delta.Contains(G + 2));
  EXPECT_EQ(TypeOf(delta.pages().at(G + 2)), PageType::kBitmap);
  EXPECT_EQ(MustAllocate(delta), G + 1);
  EXPECT_EQ(MustAllocate(delta), G + 3);  // never the bitmap page
  EXPECT_TRUE(*alloc_.IsUsed(delta, G + 2));
  file_.Commit(delta);
  PageDelta next(&file_);
  EXPECT_EQ(MustAllocate(next), G + 4);
  EXPECT_EQ(Used(file_.size()), G + 4);
}

TEST_F(AllocatorTest, CrossingIntoGroup1InOneDelta) {
  PageDelta delta(&file_);
  for (PageId want = 3; want < G; ++want) ASSERT_EQ(MustAllocate(delta), want);
  EXPECT_EQ(MustAllocate(delta), G);
  EXPECT_EQ(MustAllocate(delta), G + 1);
  EXPECT_EQ(MustAllocate(delta), G + 3);
  file_.Commit(delta);
  // A free in the full group 0 is found again, group 1 notwithstanding.
  PageDelta frees(&file_);
  ASSERT_TRUE(alloc_.Free(frees, 1000).ok());
  file_.Commit(frees);
  PageDelta again(&file_);
  EXPECT_EQ(MustAllocate(again), 1000u);
  EXPECT_EQ(MustAllocate(again), G + 4);
}

TEST_F(AllocatorTest, JournalStaysBelowABitmapPageThatIsNotDurable) {
  FillGroup0();
  // Group 1 does not exist: the journal may use G and G+1 (the file then ends below G+2), but
  // a page past G+2 would leave a zero hole inside the file where group 1's bitmap belongs.
  PageDelta delta(&file_);
  EXPECT_EQ(alloc_.JournalRoom(delta, 100).value(), 2u);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).value(), G);
  file_.WriteJournalPage(G);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).value(), G + 1);
  file_.WriteJournalPage(G + 1);
  absl::StatusOr<PageId> none = alloc_.ReserveForJournal(delta);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted) << none.status();
  EXPECT_TRUE(delta.pages().empty());

  // A delta that starts group 1 does not help its own record...
  EXPECT_EQ(MustAllocate(delta), G + 3);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(alloc_.StartGroupsForJournal(delta, 10).ok());
  file_.Commit(delta);
  // ... but once it is durable, the journal has the group.
  PageDelta next(&file_);
  EXPECT_EQ(alloc_.JournalRoom(next, 10).value(), 10u);
  EXPECT_EQ(alloc_.ReserveForJournal(next).value(), G + 4);
  EXPECT_EQ(MustAllocate(next), G + 5);
}

TEST_F(AllocatorTest, StartGroupsForJournal) {
  PageDelta delta(&file_);
  // Group 0 has room enough: nothing to start.
  ASSERT_TRUE(alloc_.StartGroupsForJournal(delta, 100).ok());
  EXPECT_TRUE(delta.pages().empty());
  // More than group 0 holds: group 1 and group 2 (G-1 pages each, and group 3's first two).
  ASSERT_TRUE(alloc_.StartGroupsForJournal(delta, 2 * G + 10).ok());
  EXPECT_TRUE(delta.Contains(G + 2));
  EXPECT_TRUE(delta.Contains(2 * G + 2));
  EXPECT_FALSE(delta.Contains(3 * G + 2));
  for (PageId id : {G, G + 1, G + 3, 2 * G}) EXPECT_FALSE(*alloc_.IsUsed(delta, id)) << id;
  file_.Commit(delta);
  PageDelta next(&file_);
  EXPECT_EQ(alloc_.JournalRoom(next, 3 * G).value(), (G - 3) + 2 * (G - 1) + 2);
  EXPECT_EQ(MustAllocate(next), 3u);
  EXPECT_EQ(Used(file_.size()), 2 * G + 3);
}

TEST_F(AllocatorTest, UsedPageCountShrinksWithFreesAtTheTail) {
  PageDelta delta(&file_);
  for (int i = 0; i < 10; ++i) MustAllocate(delta);  // 3 .. 12
  file_.Commit(delta);
  EXPECT_EQ(Used(file_.size()), 13u);
  PageDelta frees(&file_);
  ASSERT_TRUE(alloc_.Free(frees, 12).ok());
  ASSERT_TRUE(alloc_.Free(frees, 11).ok());
  ASSERT_TRUE(alloc_.Free(frees, 5).ok());
  // As the delta sees it, before it commits.
  EXPECT_EQ(alloc_.UsedPageCount(frees, 13).value(), 11u);
  file_.Commit(frees);
  EXPECT_EQ(Used(13), 11u);
  alloc_.Reserve(20);
  EXPECT_EQ(Used(13), 21u);
  alloc_.Unreserve(20);
  EXPECT_EQ(Used(13), 11u);
}

TEST_F(AllocatorTest, UsedPageCountKeepsEveryStartedGroup) {
  FillGroup0();
  PageDelta delta(&file_);
  std::vector<PageId> group1;
  for (int i = 0; i < 5; ++i) group1.push_back(MustAllocate(delta));
  file_.Commit(delta);
  EXPECT_EQ(Used(file_.size()), G + 6);
  PageDelta frees(&file_);
  for (PageId id : group1) ASSERT_TRUE(alloc_.Free(frees, id).ok());
  file_.Commit(frees);
  EXPECT_EQ(Used(file_.size()), G + 3);
  file_.Truncate(G + 3);
  PageDelta again(&file_);
  EXPECT_EQ(MustAllocate(again), G);
  // A group the file does not hold yet, but the delta does.
  PageDelta growing(&file_);
  ASSERT_TRUE(alloc_.StartGroupsForJournal(growing, 2 * G).ok());
  EXPECT_EQ(alloc_.UsedPageCount(growing, G + 3).value(), 2 * G + 3);
}

TEST_F(AllocatorTest, ADiscardedDeltaLeavesNoTrace) {
  {
    PageDelta discarded(&file_);
    EXPECT_EQ(MustAllocate(discarded), 3u);
    EXPECT_EQ(MustAllocate(discarded), 4u);
  }
  PageDelta delta(&file_);
  EXPECT_EQ(MustAllocate(delta), 3u);
  file_.Commit(delta);
  {
    PageDelta discarded(&file_);
    ASSERT_TRUE(alloc_.Free(discarded, 3).ok());
  }
  PageDelta after_free(&file_);
  EXPECT_TRUE(*alloc_.IsUsed(after_free, 3));
  EXPECT_EQ(MustAllocate(after_free), 4u);
  ASSERT_TRUE(alloc_.Free(after_free, 3).ok());  // not a double free
}

TEST_F(AllocatorTest, ADiscardedNewGroupLeavesNoTrace) {
  FillGroup0();
  {
    PageDelta discarded(&file_);
    EXPECT_EQ(MustAllocate(discarded), G);
    EXPECT_EQ(MustAllocate(discarded), G + 1);
    EXPECT_EQ(MustAllocate(discarded), G + 3);
  }
  PageDelta delta(&file_);
  EXPECT_FALSE(*alloc_.IsUsed(delta, G + 2));
  EXPECT_EQ(Used(file_.size()), G);
  EXPECT_EQ(MustAllocate(delta), G);
  EXPECT_TRUE(delta.Contains(G + 2));
}

TEST_F(AllocatorTest, ADiscardedDeltaThatFilledAGroupLeavesNoTrace) {
  // Group 0 is full only in the discarded delta: the search must not skip it afterwards.
  {
    PageDelta discarded(&file_);
    for (PageId want = 3; want < G; ++want) ASSERT_EQ(MustAllocate(discarded), want);
    EXPECT_EQ(MustAllocate(discarded), G);
  }
  PageDelta delta(&file_);
  EXPECT_EQ(MustAllocate(delta), 3u);
  EXPECT_EQ(alloc_.ReserveForJournal(delta).value(), 4u);
}

TEST_F(AllocatorTest, DamagedBitmapIsDataLoss) {
  PageDelta delta(&file_);
  MustAllocate(delta);
  file_.Commit(delta);
  file_.Damage(2);
  PageDelta damaged(&file_);
  auto is_data_loss = [](const absl::Status& s) {
    return s.code() == absl::StatusCode::kDataLoss &&
           s.message().find("page 2") != absl::string_view::npos;
  };
  EXPECT_TRUE(is_data_loss(alloc_.Allocate(damaged).status()));
  EXPECT_TRUE(is_data_loss(alloc_.Free(damaged, 3)));
  EXPECT_TRUE(is_data_loss(alloc_.IsUsed(damaged, 3).status()));
  EXPECT_TRUE(is_data_loss(alloc_.ReserveForJournal(damaged).status()));
  EXPECT_TRUE(is_data_loss(alloc_.JournalRoom(damaged, 5).status()));
  EXPECT_TRUE(is_data_loss(alloc_.UsedPageCount(damaged, file_.size()).status()));
  EXPECT_TRUE(damaged.pages().empty());
}

TEST_F(AllocatorTest, WrongPageWhereTheBitmapBelongsIsDataLoss) {
  file_.Replace(2, PageType::kData);  // a misplaced page that verifies
  PageDelta delta(&file_);
  absl::Status s = alloc_.Allocate(delta).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("page 2"), absl::string_view::npos) << s;
  // A bitmap page that does not mark itself used is not a bitmap this allocator wrote.
  file_.Replace(2, PageType::kBitmap);
  PageDelta again(&file_);
  EXPECT_EQ(alloc_.Allocate(again).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AllocatorTest, ZeroBitmapPageInsideTheFileIsDataLoss) {
  FillGroup0();
  PageDelta delta(&file_);
  MustAllocate(delta);
  file_.Commit(delta);
  // Group 1's bitmap page lost: the source reports the zero page inside the file.
  file_.Truncate(G + 2);
  file_.WriteJournalPage(G + 5);
  PageDelta damaged(&file_);
  EXPECT_EQ(alloc_.UsedPageCount(damaged, file_.size()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(alloc_.Allocate(damaged).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AllocatorTest, UnreserveInAFullGroupIsFoundAgain) {
  // The search hint skips full groups; a page that becomes free below it must pull it back.
  FillGroup0();
  PageDelta delta(&file_);
  EXPECT_EQ(MustAllocate(delta), G);
  file_.Commit(delta);
  PageDelta frees(&file_);
  ASSERT_TRUE(alloc_.Free(frees, 77).ok());
  file_.Commit(frees);
  PageDelta journal(&file_);
  EXPECT_EQ(alloc_.ReserveForJournal(journal).value(), 77u);
  EXPECT_EQ(MustAllocate(journal), G + 1);
  alloc_.Unreserve(77);
  EXPECT_EQ(MustAllocate(journal), 77u);
}

// The model: plain sets of used pages (as committed, as the open delta sees them) and reserved
// pages, and the number of existing groups. Every answer of the allocator must be the lowest
// page the rules of allocator.h allow.
class AllocatorModelTest : public ::testing::Test {
 protected:
  // Calls `f` with every page >= 2 and below `limit` that is not a bitmap page and in none of
  // `taken`, in increasing order, until `f` returns true.
  template <typename F>
  static void ForEachFree(std::vector<const std::set<PageId>*> taken, PageId limit, F f) {
    std::vector<std::set<PageId>::const_iterator> its;
    for (const auto* set : taken) its.push_back(set->begin());
    for (PageId p = 2; p < limit; ++p) {
      if (IsBitmapPage(p)) continue;
      bool is_taken = false;
      for (size_t i = 0; i < taken.size(); ++i) {
        while (its[i] != taken[i]->end() && *its[i] < p) ++its[i];
        is_taken = is_taken || (its[i] != taken[i]->end() && *its[i] == p);
      }
      if (!is_taken && f(p)) return;
    }
  }
  static PageId Lowest(std::vector<const std::set<PageId>*> taken, PageId limit) {
    PageId lowest = kNoPage;
    ForEachFree(taken, limit, [&](PageId p) {
      lowest = p;
      return true;
    });
    return lowest;
  }
  // The journal's room once the delta commits with `groups` groups: their free pages and the
  // two below the next group's bitmap page.
  uint64_t RoomAfterCommit(uint64_t groups) const {
    uint64_t room = 0;
    ForEachFree({&delta_used_, &reserved_}, groups * G + 2, [&](PageId) {
      ++room;
      return false;
    });
    return room;
  }
  uint64_t ExpectedUsedPageCount() const {
    uint64_t used = BitmapPageOf(delta_groups_ - 1) + 1;
    if (!delta_used_.empty()) used = std::max(used, *delta_used_.rbegin() + 1);
    if (!reserved_.empty()) used = std::max(used, *reserved_.rbegin() + 1);
    return used;
  }
  void Commit() {
    file_.Commit(*delta_);
    committed_used_ = delta_used_;
    committed_groups_ = delta_groups_;
    delta_ = std::make_unique<PageDelta>(&file_);
  }
  template <typename Set>
  static PageId Pick(const Set& set, std::mt19937_64& rng) {
    return *std::next(set.begin(), static_cast<long>(rng() % set.size()));
  }

  FakeFile file_;
  Allocator alloc_;
  std::unique_ptr<PageDelta> delta_;
  std::set<PageId> committed_used_;  // pages in use, not counting 0, 1 and bitmap pages
  std::set<PageId> delta_used_;
  std::set<PageId> reserved_;
  uint64_t committed_groups_ = 1;
  uint64_t delta_groups_ = 1;
};

TEST_F(AllocatorModelTest, RandomOperations) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  // Group 0 starts nearly full, with a few holes, so that the run crosses into group 1 and
  // back. Written directly, not through the allocator.
  {
    PageDelta format(&file_);
    ASSERT_TRUE(Allocator::Format(format).ok());
    PageBuf* bitmap = format.Write(2).value();
    const uint64_t tail = 20 + rng() % 40;
    for (PageId p = 3; p < G - tail; ++p) {
      if (rng() % 400 == 0) continue;
      bitmap->body()[p / 8] = static_cast<char>(bitmap->body()[p / 8] | (1 << (p % 8)));
      committed_used_.insert(p);
    }
    file_.Commit(format);
  }
  delta_used_ = committed_used_;
  delta_ = std::make_unique<PageDelta>(&file_);
  // What the run went through, to show that it covers the interesting cases.
  int groups_by_allocate = 0, journal_exhausted = 0, truncates = 0, discards = 0;

  for (int step = 0; step < 1500; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const int op = static_cast<int>(rng() % 100);
    if (op < 34) {
      // Allocate: the lowest page free as the delta sees it and not reserved.
      const PageId want = Lowest({&delta_used_, &reserved_}, kNoPage);
      absl::StatusOr<PageId> got = alloc_.Allocate(*delta_);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_FALSE(delta_used_.count(*got) || reserved_.count(*got) || IsBitmapPage(*got)) << *got;
      ASSERT_EQ(*got, want);
      delta_used_.insert(want);
      if (want / G + 1 > delta_groups_) ++groups_by_allocate;
      delta_groups_ = std::max(delta_groups_, want / G + 1);
      if (rng() % 4 == 0) {
        PageBuf* page = delta_->Fresh(want);
        PutU16(page->data() + 16, static_cast<uint16_t>(PageType::kData));
      }
    } else if (op < 50) {
      if (delta_used_.empty()) continue;
      const PageId id = Pick(delta_used_, rng);
      ASSERT_TRUE(alloc_.Free(*delta_, id).ok()) << id;
      delta_used_.erase(id);
    } else if (op < 53) {
      // Any page: wrong frees fail and change nothing.
      const PageId id = rng() % ((delta_groups_ + 1) * G);
      absl::Status s = alloc_.Free(*delta_, id);
      if (id < 2 || IsBitmapPage(id)) {
        ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << id;
      } else if (delta_used_.count(id) == 0) {
        ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << id;
      } else {
        ASSERT_TRUE(s.ok()) << s;
        delta_used_.erase(id);
      }
    } else if (op < 65) {
      // The journal: free as committed and in the delta, not reserved, and no further than the
      // two pages below the first bitmap page that is not committed.
      const PageId want =
          Lowest({&delta_used_, &committed_used_, &reserved_}, committed_groups_ * G + 2);
      absl::StatusOr<PageId> got = alloc_.ReserveForJournal(*delta_);
      if (want == kNoPage) {
        ASSERT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted) << got.status();
        ++journal_exhausted;
        continue;
      }
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, want);
      reserved_.insert(want);
      file_.WriteJournalPage(want);  // a hole where a bitmap belongs would fail a later read
    } else if (op < 73) {
      if (reserved_.empty()) continue;
      const PageId id = Pick(reserved_, rng);
      alloc_.Unreserve(id);
      reserved_.erase(id);
    } else if (op < 76) {
      // Mostly a journal's worth; rarely more than a group holds.
      const uint64_t pages = 1 + (rng() % 50 == 0 ? rng() % (G + G / 2) : rng() % 16);
      uint64_t groups = delta_groups_;
      while (RoomAfterCommit(groups) < pages) ++groups;
      ASSERT_TRUE(alloc_.StartGroupsForJournal(*delta_, pages).ok());
      for (uint64_t g = delta_groups_; g < groups; ++g) {
        ASSERT_TRUE(delta_->Contains(BitmapPageOf(g))) << g;
      }
      ASSERT_FALSE(delta_->Contains(BitmapPageOf(groups)));
      delta_groups_ = groups;
    } else if (op < 86) {
      Commit();
    } else if (op < 92) {
      ++discards;
      delta_ = std::make_unique<PageDelta>(&file_);
      delta_used_ = committed_used_;
      delta_groups_ = committed_groups_;
    } else if (op < 95) {
      // A checkpoint after a commit: the journal before the head is free space again (keep the
      // two newest pages), and the free tail of the file is given back.
      Commit();
      while (reserved_.size() > 2) {
        const PageId id = Pick(reserved_, rng);
        alloc_.Unreserve(id);
        reserved_.erase(id);
      }
      PageDelta checkpoint(&file_);
      absl::StatusOr<uint64_t> used = alloc_.UsedPageCount(checkpoint, file_.size());
      ASSERT_TRUE(used.ok()) << used.status();
      ASSERT_EQ(*used, ExpectedUsedPageCount());
      if (*used < file_.size()) {
        file_.Truncate(*used);
        ++truncates;
      }
    } else {
      const PageId id = rng() % ((delta_groups_ + 1) * G);
      absl::StatusOr<bool> used = alloc_.IsUsed(*delta_, id);
      ASSERT_TRUE(used.ok()) << used.status();
      const bool want =
          id < 2 || delta_used_.count(id) != 0 || (IsBitmapPage(id) && id / G < delta_groups_);
      ASSERT_EQ(*used, want) << id;
    }
    absl::StatusOr<uint64_t> used = alloc_.UsedPageCount(*delta_, file_.size());
    ASSERT_TRUE(used.ok()) << used.status();
    ASSERT_EQ(*used, ExpectedUsedPageCount());
  }
  std::printf(
      "groups: %llu committed (%d started by Allocate); %zu pages used, %zu reserved; journal "
      "exhausted %d times; %d truncates, %d discards\n",
      static_cast<unsigned long long>(committed_groups_), groups_by_allocate,
      committed_used_.size(), reserved_.size(), journal_exhausted, truncates, discards);
}

}  // namespace
}  // namespace persy::internal
