// Tests of the segment page helpers (segment_page.h) over an in-memory page source and a real
// Allocator.
//
// Method: pages are written through a PageDelta and "committed" as the engine does (sealed,
// then copied into the fake source). Each helper is checked against what the header promises:
// the link check's bounds at both ends, ReadTyped's type check (with the page and its linker
// named in the message) and that an impossible link never reaches the page source (its read
// counter does not move), AllocatePage's all-zero typed page even where a freed page left old
// bytes, and FreePages' order and its stop at the first error. Damaged pages (wrong type, bad
// checksum, past the end of the file) must give kDataLoss, never a crash (run under ASan/UBSan).

#include "engine/internal/segment_page.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/internal/allocator.h"
#include "engine/internal/map_page_source.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/page_store_test_fixture.h"

namespace persy::internal {
namespace {

using ::persy::testing::MessageHas;
using U128 = unsigned __int128;

TEST(SegmentPageLimitsTest, ConstantsHoldTheirPromises) {
  EXPECT_EQ(kMaxInlineSize, 2000u);
  EXPECT_EQ(kMaxRecordBytes, size_t{256} << 20);
  // The last segment page ends within the largest file offset; the next would not.
  const U128 max_offset = INT64_MAX;
  EXPECT_TRUE(static_cast<U128>(kMaxSegmentPage + 1) * kPageSize <= max_offset);
  EXPECT_TRUE(static_cast<U128>(kMaxSegmentPage + 2) * kPageSize > max_offset);
  // An address tree of height 8 covers every record number; height 7 would not.
  const U128 numbers = static_cast<U128>(1) << 64;
  U128 covered = 254;
  for (uint32_t h = 1; h < kMaxAddressHeight - 1; ++h) covered *= 508;
  EXPECT_TRUE(covered < numbers);
  EXPECT_TRUE(covered * 508 > numbers);
}

TEST(SegmentPageLimitsTest, DefaultRootIsAnEmptySegment) {
  const SegmentRoot root;
  EXPECT_EQ(root.address_root, 0u);
  EXPECT_EQ(root.height, 0u);
  EXPECT_EQ(root.tail_page, 0u);
  EXPECT_EQ(root, (SegmentRoot{0, 0, 0}));
  EXPECT_FALSE(root == (SegmentRoot{0, 0, 5}));
  EXPECT_FALSE(root == (SegmentRoot{3, 1, 0}));
}

TEST(SegmentPageLinkTest, LinkedFromNamesTheHolder) {
  EXPECT_EQ(LinkedFrom(0), "the segment root");
  EXPECT_EQ(LinkedFrom(7), "page 7");
  EXPECT_EQ(LinkedFrom(kNoPage), absl::StrCat("page ", kNoPage));
}

TEST(SegmentPageLinkTest, CheckLinkBounds) {
  for (PageId id : {PageId{1}, PageId{3}, PageId{123456}, kMaxSegmentPage}) {
    EXPECT_OK(CheckLink(id, 9)) << id;
  }
  for (PageId id : {PageId{0}, kMaxSegmentPage + 1, kNoPage}) {
    absl::Status s = CheckLink(id, 9);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << id;
    EXPECT_TRUE(MessageHas(s, "page 9")) << s;
    EXPECT_TRUE(MessageHas(s, absl::StrCat(id))) << s;
  }
  absl::Status s = CheckLink(0, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(MessageHas(s, "the segment root")) << s;
}

class SegmentPageTest : public PageStoreTest {
 protected:
  // Commits a new page of `type` whose body is all `fill`, and returns its id.
  PageId CommitPage(PageType type, char fill) {
    PageDelta d(&source_);
    absl::StatusOr<NewPage> p = AllocatePage(d, alloc_, type);
    EXPECT_OK(p);
    if (!p.ok()) return 0;
    for (size_t i = 0; i < kPageBodySize; ++i) p->page->body()[i] = fill;
    source_.Commit(d, ++lsn_);
    return p->id;
  }

  absl::StatusOr<bool> Used(PageId id) {
    PageDelta d(&source_);
    return alloc_.IsUsed(d, id);
  }
};

TEST_F(SegmentPageTest, ReadTypedReturnsAPageOfTheWantedType) {
  const PageId id = CommitPage(PageType::kData, 'd');
  PageDelta d(&source_);
  absl::StatusOr<const PageBuf*> page = ReadTyped(d, id, PageType::kData, 9);
  ASSERT_OK(page);
  EXPECT_EQ(TypeOf(**page), PageType::kData);
  EXPECT_EQ((*page)->body()[100], 'd');
  EXPECT_EQ(*page, *d.Read(id)) << "the delta's pointer";
}

TEST_F(SegmentPageTest, ReadTypedOfTheWrongTypeIsDataLoss) {
  const PageId id = CommitPage(PageType::kData, 'd');
  PageDelta d(&source_);
  absl::Status s = ReadTyped(d, id, PageType::kOverflow, 9).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(MessageHas(s, absl::StrCat("page ", id, ":"))) << s;
  EXPECT_TRUE(MessageHas(s, "linked from page 9")) << s;
  EXPECT_TRUE(MessageHas(s, "(data)")) << s;
  EXPECT_TRUE(MessageHas(s, "(overflow)")) << s;
  s = ReadTyped(d, id, PageType::kAddressLeaf, 0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(MessageHas(s, "linked from the segment root")) << s;
  // Every other type of page, read as a data page.
  for (PageType type : {PageType::kOverflow, PageType::kAddressLeaf, PageType::kAddressInner,
                        PageType::kIndexLeaf, PageType::kIndexInner, PageType::kCatalog}) {
    const PageId other = CommitPage(type, 'x');
    PageDelta d2(&source_);
    EXPECT_EQ(ReadTyped(d2, other, PageType::kData, 9).status().code(),
              absl::StatusCode::kDataLoss);
    EXPECT_OK(ReadTyped(d2, other, type, 9));
  }
}

TEST_F(SegmentPageTest, ReadTypedOfAnImpossibleLinkReadsNothing) {
  PageDelta d(&source_);
  const uint64_t gets = source_.gets();
  for (PageId id : {PageId{0}, kMaxSegmentPage + 1, kNoPage}) {
    absl::Status s = ReadTyped(d, id, PageType::kData, 9).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << id;
    EXPECT_TRUE(MessageHas(s, "cannot be a segment page")) << s;
  }
  EXPECT_EQ(source_.gets(), gets);
}

TEST_F(SegmentPageTest, ReadTypedOfDamagedOrMissingPagesIsDataLoss) {
  const PageId id = CommitPage(PageType::kData, 'd');
  // The file header's bitmap page, a page past the end of the file (all zero, type free).
  for (PageId other : {PageId{2}, source_.MaxPage() + 1, kMaxSegmentPage}) {
    PageDelta d(&source_);
    absl::Status s = ReadTyped(d, other, PageType::kData, 9).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << other;
    EXPECT_TRUE(MessageHas(s, absl::StrCat("page ", other))) << s;
  }
  // A flipped byte without a new seal: the checksum.
  const PageBuf good = source_.At(id);
  PageBuf bad = good;
  bad.body()[10] ^= 1;
  source_.Put(id, bad);
  PageDelta d(&source_);
  EXPECT_EQ(ReadTyped(d, id, PageType::kData, 9).status().code(), absl::StatusCode::kDataLoss);
  // Re-sealed with an unknown type.
  bad = good;
  SealPage(id, static_cast<PageType>(99), LsnOf(good), bad);
  source_.Put(id, bad);
  PageDelta d2(&source_);
  absl::Status s = ReadTyped(d2, id, PageType::kData, 9).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(MessageHas(s, "99 (unknown)")) << s;
  source_.Put(id, good);
}

TEST_F(SegmentPageTest, ReadTypedSeesTheDeltasOwnCopy) {
  PageDelta d(&source_);
  absl::StatusOr<NewPage> p = AllocatePage(d, alloc_, PageType::kOverflow);
  ASSERT_OK(p);
  absl::StatusOr<const PageBuf*> page = ReadTyped(d, p->id, PageType::kOverflow, 0);
  ASSERT_OK(page);
  EXPECT_EQ(*page, p->page);
  // Not yet committed: another delta sees the zero page past the end.
  PageDelta other(&source_);
  EXPECT_EQ(ReadTyped(other, p->id, PageType::kOverflow, 0).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SegmentPageTest, AllocatePageStartsAnAllZeroTypedPage) {
  PageDelta d(&source_);
  absl::StatusOr<NewPage> p = AllocatePage(d, alloc_, PageType::kAddressInner);
  ASSERT_OK(p);
  EXPECT_EQ(p->id, 3u) << "the lowest free page of a new file";
  EXPECT_TRUE(d.Contains(p->id));
  EXPECT_EQ(TypeOf(*p->page), PageType::kAddressInner);
  for (size_t i = 0; i < kPageSize; ++i) {
    if (i == 16 || i == 17) continue;
    ASSERT_EQ(p->page->bytes[i], 0) << "byte " << i;
  }
  absl::StatusOr<bool> used = alloc_.IsUsed(d, p->id);
  ASSERT_OK(used);
  EXPECT_TRUE(*used);
  source_.Commit(d, ++lsn_);
  EXPECT_OK(VerifyPageOfType(p->id, PageType::kAddressInner, source_.At(p->id)));
}

TEST_F(SegmentPageTest, AllocatePageZeroesAReusedPage) {
  const PageId id = CommitPage(PageType::kData, '\x5A');
  {
    PageDelta d(&source_);
    ASSERT_OK(FreePages(d, alloc_, {id}));
    source_.Commit(d, ++lsn_);
  }
  PageDelta d(&source_);
  absl::StatusOr<NewPage> p = AllocatePage(d, alloc_, PageType::kOverflow);
  ASSERT_OK(p);
  ASSERT_EQ(p->id, id) << "the freed page is the lowest free one";
  EXPECT_EQ(TypeOf(*p->page), PageType::kOverflow);
  for (size_t i = 0; i < kPageBodySize; ++i) {
    ASSERT_EQ(p->page->body()[i], 0) << "old byte left at " << i;
  }
  // Freed and allocated again within one delta, after being written there.
  absl::StatusOr<PageBuf*> w = d.Write(id);
  ASSERT_OK(w);
  (*w)->body()[0] = 'q';
  ASSERT_OK(FreePages(d, alloc_, {id}));
  p = AllocatePage(d, alloc_, PageType::kData);
  ASSERT_OK(p);
  ASSERT_EQ(p->id, id);
  EXPECT_EQ(p->page->body()[0], 0);
  EXPECT_EQ(TypeOf(*p->page), PageType::kData);
}

TEST_F(SegmentPageTest, FreePagesFreesInOrderAndStopsAtTheFirstError) {
  const PageId a = CommitPage(PageType::kData, 'a');
  const PageId b = CommitPage(PageType::kData, 'b');
  const PageId c = CommitPage(PageType::kData, 'c');
  {
    PageDelta d(&source_);
    ASSERT_OK(FreePages(d, alloc_, {}));
    EXPECT_TRUE(d.pages().empty());
  }
  {
    // Page 1 (a file header copy) cannot be freed: a is freed before it, b is not reached.
    PageDelta d(&source_);
    EXPECT_EQ(FreePages(d, alloc_, {a, 1, b}).code(), absl::StatusCode::kInvalidArgument);
    absl::StatusOr<bool> used_a = alloc_.IsUsed(d, a);
    absl::StatusOr<bool> used_b = alloc_.IsUsed(d, b);
    ASSERT_OK(used_a);
    ASSERT_OK(used_b);
    EXPECT_FALSE(*used_a);
    EXPECT_TRUE(*used_b);
  }
  {
    // A page listed twice is a double free: kDataLoss from the allocator, passed through.
    PageDelta d(&source_);
    EXPECT_EQ(FreePages(d, alloc_, {c, c}).code(), absl::StatusCode::kDataLoss);
  }
  PageDelta d(&source_);
  ASSERT_OK(FreePages(d, alloc_, {c, a, b}));
  source_.Commit(d, ++lsn_);
  for (PageId id : {a, b, c}) {
    absl::StatusOr<bool> used = Used(id);
    ASSERT_OK(used);
    EXPECT_FALSE(*used) << id;
  }
}

}  // namespace
}  // namespace persy::internal
