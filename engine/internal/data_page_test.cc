// Tests of data pages (data_page.h) over an in-memory page source and a real Allocator.
//
// Method: each test keeps a std::map model of where every small record is (page and slot) and
// what its bytes are. A "commit" seals the delta and copies its pages into the fake source, as
// the engine's commit does. Verify() then reads everything back through a fresh delta: every
// record's bytes, CheckWholeDataPage / CheckLiveSlot / CheckSlotsClaimed over every live page,
// FormatProblem() (the rules of docs/format.md "Data pages", written here from the format and
// not from data_page.cc, so that it does not share that file's mistakes), and the leak check:
// the pages the bitmaps mark used are exactly the file's own (0, 1, 2) plus the pages the model
// holds records in. The live set comes from the model alone, never from the tail or the
// allocator, so an empty page left allocated (or left as the tail) is caught. Damage tests edit
// and re-seal a committed page, so that the data page checks are reached past the checksum, and
// require kDataLoss, never a crash (run under ASan/UBSan).

#include "engine/internal/data_page.h"

#include <gtest/gtest.h>

#include <functional>
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
#include "engine/internal/segment_page.h"
#include "tools/test_seed.h"

namespace persy::internal {
namespace {

using ::persy::testing::StatusOf;

template <typename... Args>
absl::Status Bad(const Args&... args) {
  return absl::InternalError(absl::StrCat(args...));
}

// The address leaf that would link to the records: only named in messages.
constexpr PageId kLeaf = 77;

// Raw fields of a data page body (docs/format.md).
uint16_t Count(const PageBuf& p) { return GetU16(p.body()); }
uint16_t Start(const PageBuf& p) { return GetU16(p.body() + 2); }
uint16_t Offset(const PageBuf& p, size_t slot) { return GetU16(p.body() + 8 + 4 * slot); }
uint16_t Length(const PageBuf& p, size_t slot) { return GetU16(p.body() + 10 + 4 * slot); }

// What is wrong with `page` by the rules of docs/format.md "Data pages", or "" if nothing.
std::string FormatProblem(const PageBuf& page) {
  if (TypeOf(page) != PageType::kData) return "not a data page";
  const char* b = page.body();
  const size_t count = Count(page);
  const size_t start = Start(page);
  if (GetU32(b + 4) != 0) return "reserved field not zero";
  if (count == 0) return "empty data page";
  if (count > 1014 || 8 + 4 * count > start || start > kPageBodySize) return "bad header";
  std::vector<bool> owned(kPageBodySize, false);
  for (size_t i = 0; i < 8 + 4 * count; ++i) owned[i] = true;
  for (size_t slot = 0; slot < count; ++slot) {
    const size_t off = Offset(page, slot);
    const size_t len = Length(page, slot);
    if (off == 0) {
      if (len != 0) return absl::StrCat("free slot ", slot, " has a length");
      if (slot + 1 == count) return "last slot is free";
      continue;
    }
    if (off < start || off + len > kPageBodySize || len > kMaxInlineSize) {
      return absl::StrCat("slot ", slot, " out of bounds");
    }
    for (size_t i = off; i < off + len; ++i) {
      if (owned[i]) return absl::StrCat("slot ", slot, " overlaps at ", i);
      owned[i] = true;
    }
  }
  for (size_t i = 0; i < kPageBodySize; ++i) {
    if (!owned[i] && b[i] != 0) return absl::StrCat("free byte ", i, " is not zero");
  }
  return "";
}

struct Rec {
  DataSlot at;
  std::string bytes;
};
using Model = std::map<uint64_t, Rec>;

class DataPageTest : public PageStoreTest {
 protected:
  void OnBegin() override {
    saved_tail_ = tail_;
    saved_model_ = model_;
  }
  void OnAbort() override {
    tail_ = saved_tail_;
    model_ = saved_model_;
  }

  absl::StatusOr<DataSlot> Place(uint64_t key, const std::string& bytes) {
    absl::StatusOr<DataSlot> at = PlaceSmall(Tx(), alloc_, tail_, bytes);
    if (at.ok()) model_[key] = Rec{*at, bytes};
    return at;
  }
  // As the record store updates: in place if it fits, else into the tail, then the old page is
  // freed if that left it empty. Returns whether it stayed in place.
  absl::StatusOr<bool> Replace(uint64_t key, const std::string& bytes) {
    Rec& r = model_.at(key);
    absl::StatusOr<bool> in_place = ReplaceSmall(Tx(), r.at.page, r.at.slot, kLeaf, bytes);
    TEST_RETURN_IF_ERROR(in_place);
    if (!*in_place) {
      const PageId old = r.at.page;
      absl::StatusOr<DataSlot> at = PlaceSmall(Tx(), alloc_, tail_, bytes);
      TEST_RETURN_IF_ERROR(at);
      r.at = *at;
      TEST_RETURN_IF_ERROR(FreeDataPageIfEmpty(Tx(), alloc_, tail_, old));
    }
    r.bytes = bytes;
    return in_place;
  }
  absl::Status Remove(uint64_t key) {
    const DataSlot at = model_.at(key).at;
    TEST_RETURN_IF_ERROR(RemoveSmall(Tx(), alloc_, tail_, at.page, at.slot, kLeaf));
    model_.erase(key);
    return absl::OkStatus();
  }

  // The same, failing the test on an error: for the tests' own steps.
  DataSlot Placed(uint64_t key, const std::string& bytes) {
    absl::StatusOr<DataSlot> at = Place(key, bytes);
    EXPECT_OK(at) << "placing " << key;
    return at.ok() ? *at : DataSlot{0, 0xFFFF};
  }
  bool Replaced(uint64_t key, const std::string& bytes) {
    absl::StatusOr<bool> in_place = Replace(key, bytes);
    EXPECT_OK(in_place) << "replacing " << key;
    return in_place.ok() && *in_place;
  }
  bool Used(PageId id) {
    absl::StatusOr<bool> used = alloc_.IsUsed(Tx(), id);
    EXPECT_OK(used);
    return used.ok() && *used;
  }

  // The pages used in the bitmaps (up to past the highest page ever written).
  absl::StatusOr<std::set<PageId>> UsedPages(PageDelta& d) {
    return UsedPagesOf(source_, alloc_, d);
  }

  // Commits, then checks the committed pages against the model (see the top of the file).
  absl::Status Verify() {
    Commit();
    PageDelta d(&source_);
    std::map<PageId, std::vector<uint64_t>> by_page;
    for (const auto& [key, r] : model_) {
      absl::StatusOr<std::string> got = ReadSmall(d, r.at.page, r.at.slot, kLeaf);
      TEST_RETURN_IF_ERROR(got);
      if (*got != r.bytes) return Bad("record ", key, ": wrong bytes, ", got->size(), " read");
      TEST_RETURN_IF_ERROR(CheckLiveSlot(d, r.at.page, r.at.slot, kLeaf));
      by_page[r.at.page].push_back(key);
    }
    std::set<PageId> expected = {0, 1, 2};
    for (const auto& [page, keys] : by_page) {
      expected.insert(page);
      absl::StatusOr<size_t> count = CheckWholeDataPage(d, page, kLeaf);
      TEST_RETURN_IF_ERROR(count);
      const PageBuf& raw = source_.At(page);
      if (std::string p = FormatProblem(raw); !p.empty()) return Bad("page ", page, ": ", p);
      std::vector<uint32_t> claims(*count, 0);
      for (uint64_t key : keys) {
        const uint16_t slot = model_.at(key).at.slot;
        if (slot >= *count) return Bad("record ", key, " cut off");
        if (++claims[slot] > 1) return Bad("slot ", slot, " twice");
      }
      TEST_RETURN_IF_ERROR(CheckSlotsClaimed(d, page, claims));
      size_t live = 0;
      for (size_t s = 0; s < *count; ++s) live += Offset(raw, s) != 0;
      if (live != keys.size()) return Bad("page ", page, ": ", live, " live slots");
    }
    if (tail_ != 0 && by_page.count(tail_) == 0) return Bad("tail ", tail_, " holds no record");
    absl::StatusOr<std::set<PageId>> used = UsedPages(d);
    TEST_RETURN_IF_ERROR(used);
    if (*used != expected) {
      return Bad("used pages: ", used->size(), ", expected ", expected.size(),
                 " (a leak or a lost page)");
    }
    return absl::OkStatus();
  }

  PageId tail_ = 0;
  PageId saved_tail_ = 0;
  Model model_;
  Model saved_model_;
};

// The leak check has teeth: a page allocated and left unused is reported.
TEST_F(DataPageTest, VerifyCatchesALeakedPage) {
  ASSERT_OK(Place(1, "a"));
  ASSERT_OK(Verify());
  ASSERT_OK(AllocatePage(Tx(), alloc_, PageType::kData));
  EXPECT_FALSE(Verify().ok());
}

TEST_F(DataPageTest, RecordsFillAPageThenSpillToANewTail) {
  // The first record starts a tail page.
  EXPECT_EQ(Placed(0, TestBytes(0, 1000)).slot, 0u);
  const PageId first = tail_;
  ASSERT_NE(first, 0u);
  EXPECT_EQ(model_.at(0).at.page, first);
  ASSERT_OK(Verify());
  EXPECT_EQ(TypeOf(source_.At(first)), PageType::kData);
  // Four 1000-byte records take 8 + 4 * 1004 of 4064 bytes: 40 are left, exactly a 36-byte
  // record and its slot. Then not even a 0-byte record fits (its slot needs 4 bytes).
  for (uint64_t k = 1; k < 4; ++k) ASSERT_OK(Place(k, TestBytes(k, 1000)));
  DataSlot at = Placed(4, TestBytes(4, 36));
  EXPECT_EQ(at.page, first);
  EXPECT_EQ(at.slot, 4u);
  at = Placed(5, "");
  EXPECT_NE(at.page, first);
  EXPECT_EQ(at.slot, 0u);
  EXPECT_EQ(tail_, at.page);
  ASSERT_OK(Verify());
  EXPECT_EQ(Start(source_.At(first)), 8 + 4 * 5);
  // Two of the biggest records share a page; a third starts another.
  const PageId second = tail_;
  ASSERT_OK(Place(6, TestBytes(6, kMaxInlineSize)));
  ASSERT_OK(Place(7, TestBytes(7, kMaxInlineSize)));
  EXPECT_EQ(model_.at(7).at.page, second);
  ASSERT_OK(Place(8, TestBytes(8, kMaxInlineSize)));
  EXPECT_NE(model_.at(8).at.page, second);
  ASSERT_OK(Verify());
}

// A new slot when the only room is in holes: the directory must not grow into a record.
TEST_F(DataPageTest, NewSlotWithRoomOnlyInHolesCompactsFirst) {
  for (uint64_t k = 0; k < 4; ++k) ASSERT_OK(Place(k, TestBytes(k, 1000)));
  ASSERT_OK(Place(4, TestBytes(4, 36)));  // full: no contiguous byte left
  const PageId page = tail_;
  EXPECT_TRUE(Replaced(1, TestBytes(11, 500)));  // a 500-byte hole, no free slot
  DataSlot at = Placed(5, TestBytes(5, 100));
  EXPECT_EQ(at.page, page);
  EXPECT_EQ(at.slot, 5u);
  ASSERT_OK(Verify());
  EXPECT_EQ(Start(source_.At(page)), kPageBodySize - 4036 + 500 - 100);
}

TEST_F(DataPageTest, ReadSmallReturnsExactlyTheBytes) {
  const std::vector<size_t> sizes = {0, 1, 0, 1999, kMaxInlineSize, 7};
  for (size_t i = 0; i < sizes.size(); ++i) ASSERT_OK(Place(i, TestBytes(i, sizes[i])));
  for (const auto& [key, r] : model_) {  // in the delta, before the commit
    absl::StatusOr<std::string> got = ReadSmall(Tx(), r.at.page, r.at.slot, kLeaf);
    ASSERT_OK(got);
    EXPECT_EQ(*got, r.bytes) << key;
  }
  ASSERT_OK(Verify());  // and after it
  // A 0-byte record is a used slot, not a free one.
  const Rec& empty = model_.at(0);
  EXPECT_NE(Offset(source_.At(empty.at.page), empty.at.slot), 0u);
}

TEST_F(DataPageTest, ReplaceInPlaceShrinksAndGrows) {
  for (uint64_t k = 0; k < 4; ++k) ASSERT_OK(Place(k, TestBytes(k, 1000)));
  ASSERT_OK(Verify());
  const PageId page = tail_;
  const uint16_t offset = Offset(source_.At(page), 1);
  // Shrinking keeps the offset and zeroes the bytes let go (FormatProblem in Verify).
  EXPECT_TRUE(Replaced(1, TestBytes(11, 10)));
  ASSERT_OK(Verify());
  EXPECT_EQ(Offset(source_.At(page), 1), offset);
  EXPECT_EQ(Length(source_.At(page), 1), 10u);
  // Growing into room that is only in a hole (1030 free, 40 of them contiguous): compaction.
  EXPECT_TRUE(Replaced(2, TestBytes(12, 1900)));
  // Growing by exactly the 130 bytes left.
  EXPECT_TRUE(Replaced(3, TestBytes(13, 1130)));
  ASSERT_OK(Verify());
  for (uint64_t k = 0; k < 4; ++k) {
    EXPECT_EQ(model_.at(k).at.page, page);
    EXPECT_EQ(model_.at(k).at.slot, k);
  }
  EXPECT_EQ(Start(source_.At(page)), 8 + 4 * 4) << "the page is full to the byte";
  // One byte more does not fit: the record leaves, the page keeps the others.
  EXPECT_FALSE(Replaced(0, TestBytes(14, 1001)));
  EXPECT_NE(model_.at(0).at.page, page);
  EXPECT_EQ(tail_, model_.at(0).at.page);
  ASSERT_OK(Verify());
  EXPECT_EQ(Offset(source_.At(page), 0), 0u) << "its old slot is free";
  EXPECT_EQ(Count(source_.At(page)), 4u);
}

// A record alone in the tail behind a long directory cannot grow there: ReplaceSmall removes it
// and says so; the emptied tail is then freed by FreeDataPageIfEmpty, and the tail is reset.
TEST_F(DataPageTest, ReplaceThatDoesNotFitEmptiesTheTail) {
  for (uint64_t k = 0; k < 600; ++k) ASSERT_OK(Place(k, ""));
  for (uint64_t k = 0; k < 599; ++k) ASSERT_OK(Remove(k));
  ASSERT_OK(Verify());
  const PageId page = tail_;
  EXPECT_EQ(Count(source_.At(page)), 600u) << "free slots before the last one stay";
  // 4064 - 8 - 600 * 4 = 1656 bytes free: 2000 do not fit.
  absl::StatusOr<bool> r = ReplaceSmall(Tx(), page, 599, kLeaf, TestBytes(1, kMaxInlineSize));
  ASSERT_OK(r);
  EXPECT_FALSE(*r);
  model_.erase(599);
  EXPECT_EQ(ReadSmall(Tx(), page, 599, kLeaf).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Used(page)) << "ReplaceSmall leaves the freeing to the caller";
  ASSERT_OK(FreeDataPageIfEmpty(Tx(), alloc_, tail_, page));
  EXPECT_EQ(tail_, 0u);
  EXPECT_FALSE(Used(page));
  ASSERT_OK(Verify());
  // The next record starts a new tail.
  ASSERT_OK(Place(1000, TestBytes(2, kMaxInlineSize)));
  EXPECT_NE(tail_, 0u);
  ASSERT_OK(Verify());
}

// The same from a page that is not the tail: it is freed, the tail stays.
TEST_F(DataPageTest, ReplaceThatDoesNotFitFreesANonTailPage) {
  for (uint64_t k = 0; k < 1014; ++k) ASSERT_OK(Place(k, ""));  // a full directory
  const PageId first = tail_;
  ASSERT_OK(Place(2000, "x"));
  const PageId second = tail_;
  ASSERT_NE(first, second);
  for (uint64_t k = 0; k < 1013; ++k) ASSERT_OK(Remove(k));
  ASSERT_OK(Verify());
  ASSERT_OK(FreeDataPageIfEmpty(Tx(), alloc_, tail_, first));  // not empty: nothing happens
  ASSERT_OK(Verify());
  EXPECT_FALSE(Replaced(1013, TestBytes(3, 100)));
  EXPECT_EQ(model_.at(1013).at.page, second);
  EXPECT_EQ(tail_, second);
  EXPECT_FALSE(Used(first));
  ASSERT_OK(Verify());
}

TEST_F(DataPageTest, RemoveFreesEmptiedPagesAndResetsTheTail) {
  for (uint64_t k = 0; k < 3; ++k) ASSERT_OK(Place(k, TestBytes(k, kMaxInlineSize)));
  const PageId first = model_.at(0).at.page;
  const PageId second = tail_;
  ASSERT_NE(first, second);
  ASSERT_OK(Verify());
  ASSERT_OK(Remove(1));
  ASSERT_OK(Remove(0));  // empties the first page, which is not the tail
  EXPECT_EQ(tail_, second);
  EXPECT_FALSE(Used(first));
  ASSERT_OK(Verify());
  ASSERT_OK(Remove(2));  // empties the tail
  EXPECT_EQ(tail_, 0u);
  ASSERT_OK(Verify());
  ASSERT_OK(Place(3, "again"));
  EXPECT_NE(tail_, 0u);
  ASSERT_OK(Verify());
}

TEST_F(DataPageTest, FreedSlotsAreReusedLowestFirst) {
  for (uint64_t k = 0; k < 5; ++k) ASSERT_OK(Place(k, TestBytes(k, 50)));
  ASSERT_OK(Remove(3));
  ASSERT_OK(Remove(1));
  ASSERT_OK(Verify());
  EXPECT_EQ(Placed(10, TestBytes(10, 70)).slot, 1u);
  EXPECT_EQ(Placed(11, TestBytes(11, 0)).slot, 3u);
  EXPECT_EQ(Placed(12, TestBytes(12, 5)).slot, 5u);
  ASSERT_OK(Verify());
}

TEST_F(DataPageTest, TrailingFreeSlotsAreDropped) {
  for (uint64_t k = 0; k < 5; ++k) ASSERT_OK(Place(k, TestBytes(k, 20)));
  const PageId page = tail_;
  ASSERT_OK(Remove(1));
  ASSERT_OK(Remove(2));
  ASSERT_OK(Verify());
  EXPECT_EQ(Count(source_.At(page)), 5u) << "free slots before a used one stay";
  ASSERT_OK(Remove(4));
  ASSERT_OK(Verify());
  EXPECT_EQ(Count(source_.At(page)), 4u);
  ASSERT_OK(Remove(3));  // slots 1..3 are now free at the end
  ASSERT_OK(Verify());
  EXPECT_EQ(Count(source_.At(page)), 1u);
  EXPECT_EQ(Placed(5, "y").slot, 1u);
  ASSERT_OK(Verify());
}

TEST_F(DataPageTest, CompactionRepacksAndKeepsSlots) {
  // Ten 380-byte records: 216 bytes of contiguous room left.
  for (uint64_t k = 0; k < 10; ++k) ASSERT_OK(Place(k, TestBytes(k, 380)));
  const PageId page = tail_;
  for (uint64_t k = 0; k < 10; k += 2) ASSERT_OK(Remove(k));
  ASSERT_OK(Verify());
  EXPECT_EQ(Start(source_.At(page)), kPageBodySize - 3800) << "removal does not repack";
  // 2116 bytes are free, but only in holes: 1000 fit after repacking.
  DataSlot at = Placed(20, TestBytes(20, 1000));
  EXPECT_EQ(at.page, page);
  EXPECT_EQ(at.slot, 0u);
  EXPECT_EQ(tail_, page);
  ASSERT_OK(Verify());  // every survivor reads back from its own slot
  EXPECT_EQ(Start(source_.At(page)), kPageBodySize - 1900 - 1000);
  for (uint64_t k = 1; k < 10; k += 2) EXPECT_EQ(model_.at(k).at.slot, k);
  // The rest fills it to the byte: 1116 free, 1100 in slot 2, 12 in slot 4, then 0-byte
  // records in the free slots 6 and 8 and in a new slot 10 (its 4 bytes are the last).
  for (uint64_t k = 21; k <= 25; ++k) {
    at = Placed(k, TestBytes(k, k == 21 ? 1100 : k == 22 ? 12 : 0));
    EXPECT_EQ(at.page, page) << k;
    EXPECT_EQ(at.slot, k == 25 ? 10u : 2 * (k - 20)) << k;
  }
  ASSERT_OK(Verify());
  EXPECT_EQ(Start(source_.At(page)), 8 + 4 * 11);
  EXPECT_NE(Placed(26, "").page, page);
  ASSERT_OK(Verify());
}

TEST_F(DataPageTest, RandomOpsMatchModel) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  auto size = [&]() -> size_t {
    const uint64_t r = rng() % 100;
    if (r < 10) return r < 5 ? 0 : kMaxInlineSize;
    if (r < 40) return rng() % 16;
    if (r < 80) return rng() % 400;
    return rng() % (kMaxInlineSize + 1);
  };
  auto pick = [&]() -> uint64_t {
    auto it = model_.begin();
    std::advance(it, rng() % model_.size());
    return it->first;
  };
  uint64_t next_key = 0;
  for (int op = 0; op < 4000; ++op) {
    const uint64_t r = rng() % 100;
    if (r < 40 || model_.empty()) {
      ASSERT_OK(Place(next_key++, TestBytes(rng(), size()))) << "op " << op;
    } else if (r < 68) {
      ASSERT_OK(Replace(pick(), TestBytes(rng(), size()))) << "op " << op;
    } else if (r < 94) {
      ASSERT_OK(Remove(pick())) << "op " << op;
    } else if (r < 96) {
      Abort();
    } else {
      ASSERT_OK(Verify()) << "op " << op;
    }
  }
  ASSERT_OK(Verify());
  while (!model_.empty()) ASSERT_OK(Remove(pick()));
  ASSERT_OK(Verify());
  EXPECT_EQ(tail_, 0u) << "a segment emptied by removals holds no data page";
}

// ---- Damage ----

// A committed data page with records of 10, 0, (free), 2000, 5 and 40 bytes in slots 0-5:
// offsets 4054, 4054, -, 1754, 1749, 1709; data start 1709.
class DataPageDamageTest : public DataPageTest {
 protected:
  void SetUp() override {
    DataPageTest::SetUp();
    const std::vector<size_t> sizes = {10, 0, 300, 2000, 5, 40};
    for (size_t i = 0; i < sizes.size(); ++i) ASSERT_OK(Place(i, TestBytes(i, sizes[i])));
    ASSERT_OK(Remove(2));
    ASSERT_OK(Verify());
    page_ = tail_;
    good_ = source_.At(page_);
    ASSERT_EQ(Start(good_), 1709u);
  }

  // Commits a copy of the page with `edit` applied to its body, re-sealed as `type`.
  void Damage(const std::function<void(char*)>& edit, PageType type = PageType::kData) {
    PageBuf bad = good_;
    edit(bad.body());
    SealPage(page_, type, LsnOf(good_), bad);
    source_.Put(page_, bad);
  }
  void Restore() { source_.Put(page_, good_); }

  absl::Status WholeCheck() {
    PageDelta d(&source_);
    return CheckWholeDataPage(d, page_, kLeaf).status();
  }
  absl::Status Read(uint16_t slot) {
    PageDelta d(&source_);
    return ReadSmall(d, page_, slot, kLeaf).status();
  }
  // Every change is refused: a page is checked whole before it is changed.
  void ExpectChangesRefused(const std::string& what) {
    PageDelta d1(&source_);
    PageId tail = page_;
    EXPECT_EQ(PlaceSmall(d1, alloc_, tail, "z").status().code(), absl::StatusCode::kDataLoss)
        << what;
    PageDelta d2(&source_);
    EXPECT_EQ(ReplaceSmall(d2, page_, 5, kLeaf, "zz").status().code(),
              absl::StatusCode::kDataLoss)
        << what;
    PageDelta d3(&source_);
    EXPECT_EQ(RemoveSmall(d3, alloc_, tail, page_, 5, kLeaf).code(), absl::StatusCode::kDataLoss)
        << what;
  }

  PageId page_ = 0;
  PageBuf good_;
};

TEST_F(DataPageDamageTest, GoodPagePassesTheChecks) {
  PageDelta d(&source_);
  absl::StatusOr<size_t> count = CheckWholeDataPage(d, page_, kLeaf);
  ASSERT_OK(count);
  EXPECT_EQ(*count, 6u);
  for (uint16_t s : {0, 1, 3, 4, 5}) EXPECT_OK(CheckLiveSlot(d, page_, s, kLeaf)) << s;
  EXPECT_OK(CheckSlotsClaimed(d, page_, {1, 1, 0, 1, 1, 1}));
}

TEST_F(DataPageDamageTest, DamagedPagesAreDataLoss) {
  struct Case {
    std::string name;
    std::function<void(char*)> edit;
    int bad_read;  // a slot whose ReadSmall must fail too, or -1
    PageType type = PageType::kData;
  };
  auto put16 = [](size_t at, uint16_t v) { return [=](char* b) { PutU16(b + at, v); }; };
  const std::vector<Case> cases = {
      {"wrong type", [](char*) {}, 0, PageType::kOverflow},
      {"slot count 1015", put16(0, 1015), 0},
      {"slot count 0xFFFF", put16(0, 0xFFFF), 5},
      {"data start past the body", put16(2, 4065), 0},
      {"data start inside the directory", put16(2, 20), 0},
      {"reserved field set", [](char* b) { PutU32(b + 4, 1); }, 0},
      {"offset inside the directory", put16(8 + 4 * 0, 2), 0},
      {"length past the body", put16(10 + 4 * 0, 11), 0},
      {"length over 2000", put16(10 + 4 * 3, 2001), 3},
      {"records overlap", put16(8 + 4 * 4, 1750), -1},
      {"free slot with a length", put16(10 + 4 * 2, 5), 2},
      {"last slot free", [](char* b) { PutU32(b + 8 + 4 * 5, 0); }, 5},
      {"one free slot past the last", put16(0, 7), 6},
  };
  for (const Case& c : cases) {
    Damage(c.edit, c.type);
    absl::Status s = WholeCheck();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << c.name;
    EXPECT_NE(s.message().find(absl::StrCat("page ", page_)), absl::string_view::npos) << s;
    if (c.bad_read >= 0) {
      EXPECT_EQ(Read(static_cast<uint16_t>(c.bad_read)).code(), absl::StatusCode::kDataLoss)
          << c.name;
    }
    ExpectChangesRefused(c.name);
    Restore();
  }
  // An empty data page is well-formed for a change, but never kept: the whole check refuses it.
  Damage(put16(0, 0));
  EXPECT_EQ(WholeCheck().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Read(0).code(), absl::StatusCode::kDataLoss);
  // Empty, with its data start past the body: no slot check can catch that, the header must.
  Damage([](char* b) {
    PutU16(b, 0);
    PutU16(b + 2, 4065);
  });
  EXPECT_EQ(WholeCheck().code(), absl::StatusCode::kDataLoss);
  ExpectChangesRefused("empty, data start past the body");
  Restore();
  // Not re-sealed: the checksum catches it.
  PageBuf flipped = good_;
  flipped.body()[3000] ^= 0x40;
  source_.Put(page_, flipped);
  EXPECT_EQ(WholeCheck().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Read(3).code(), absl::StatusCode::kDataLoss);
  Restore();
  ASSERT_OK(Verify());
}

TEST_F(DataPageDamageTest, BadSlotNumbersAndLinksAreDataLoss) {
  for (uint16_t slot : {2, 6, 1014, 60000}) {
    absl::Status s = Read(slot);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << slot;
    EXPECT_NE(s.message().find("linked from page 77"), absl::string_view::npos) << s;
    PageDelta d(&source_);
    EXPECT_EQ(CheckLiveSlot(d, page_, slot, kLeaf).code(), absl::StatusCode::kDataLoss) << slot;
    EXPECT_EQ(StatusOf(ReplaceSmall(d, page_, slot, kLeaf, "q")).code(),
              absl::StatusCode::kDataLoss);
    PageId tail = tail_;
    EXPECT_EQ(RemoveSmall(d, alloc_, tail, page_, slot, kLeaf).code(),
              absl::StatusCode::kDataLoss);
  }
  // Slots cut off by a smaller slot count still have their directory entries: not read.
  Damage([](char* b) { PutU16(b, 4); });
  for (uint16_t slot : {4, 5}) {
    EXPECT_EQ(Read(slot).code(), absl::StatusCode::kDataLoss) << slot;
    PageDelta d(&source_);
    EXPECT_EQ(CheckLiveSlot(d, page_, slot, kLeaf).code(), absl::StatusCode::kDataLoss) << slot;
  }
  Restore();
  // Links to pages that are not data pages: the bitmap, past the end, impossible.
  PageDelta d(&source_);
  for (PageId id : {PageId{2}, source_.MaxPage() + 10, PageId{0}, kNoPage}) {
    EXPECT_EQ(ReadSmall(d, id, 0, kLeaf).status().code(), absl::StatusCode::kDataLoss) << id;
    EXPECT_EQ(CheckWholeDataPage(d, id, kLeaf).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST_F(DataPageDamageTest, UnclaimedRecordsAreDataLoss) {
  PageDelta d(&source_);
  // Slot 1 holds a 0-byte record: still a record that must be claimed.
  for (const std::vector<uint32_t>& claims :
       std::vector<std::vector<uint32_t>>{{0, 1, 0, 1, 1, 1}, {1, 0, 0, 1, 1, 1},
                                          {1, 1, 0, 1, 1, 0}}) {
    absl::Status s = CheckSlotsClaimed(d, page_, claims);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(s.message().find(absl::StrCat("page ", page_)), absl::string_view::npos) << s;
  }
  // A claim on the free slot is caught by the claimer's CheckLiveSlot.
  EXPECT_EQ(CheckLiveSlot(d, page_, 2, kLeaf).code(), absl::StatusCode::kDataLoss);
}

TEST_F(DataPageDamageTest, RandomResealedFlipsNeverCrash) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  for (int i = 0; i < 2000; ++i) {
    // Mostly the header and the directory, where the counts and offsets are.
    const size_t at = rng() % 4 != 0 ? rng() % 40 : rng() % kPageBodySize;
    const char mask = static_cast<char>(1 + rng() % 255);
    Damage([&](char* b) { b[at] = static_cast<char>(b[at] ^ mask); });
    auto ok_or_loss = [&](const absl::Status& s) {
      EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kDataLoss) << s;
    };
    ok_or_loss(WholeCheck());
    for (uint16_t slot = 0; slot < 8; ++slot) {
      ok_or_loss(Read(slot));
      PageDelta d(&source_);
      ok_or_loss(CheckLiveSlot(d, page_, slot, kLeaf));
      PageDelta d2(&source_);
      ok_or_loss(StatusOf(ReplaceSmall(d2, page_, slot, kLeaf, TestBytes(slot, 300 * slot))));
    }
    PageDelta d(&source_);
    PageId tail = page_;
    ok_or_loss(StatusOf(PlaceSmall(d, alloc_, tail, TestBytes(1, 1500))));
    Restore();
  }
  ASSERT_OK(Verify());
}

}  // namespace
}  // namespace persy::internal
