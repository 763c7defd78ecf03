// Tests of overflow chains (overflow_chain.h) over an in-memory page source and a real
// Allocator.
//
// Method: every test keeps a plain std::map model, first page -> record bytes, of the chains it
// owns. A "commit" seals the delta and copies its pages into the fake source, as the engine's
// commit does; Verify() then reads every chain back through a fresh delta (ReadChain must give
// the bytes, ChainPages ceil(size / 4052) distinct overflow pages, every one but the last full)
// and checks the leak rule: the pages used in the bitmaps are exactly the file's own (0, 1, 2)
// plus the chains', so that a page WriteChain forgets to free, or frees while in use, is named.
// Sizes sit at the page edges (4052 * k - 1, 4052 * k, 4052 * k + 1) and at the inline limit.
// Damage tests build chains page by page in the source, re-sealed so that the chain's own
// checks are reached past the checksum, and require kDataLoss naming a page from both readers,
// never a crash or bytes from outside the record (the suite runs under ASan and UBSan).

#include "engine/internal/overflow_chain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
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

constexpr size_t kPayload = kPageBodySize - 12;  // 4052 bytes in every page but the last

size_t PagesFor(size_t n) { return (n + kPayload - 1) / kPayload; }

class OverflowChainTest : public PageStoreTest {
 protected:
  void OnCommit() override { committed_ = model_; }
  void OnAbort() override { model_ = committed_; }

  // A new chain of `bytes`.
  absl::StatusOr<PageId> Write(const std::string& bytes) {
    absl::StatusOr<PageId> first = WriteChain(Tx(), alloc_, bytes, {});
    TEST_RETURN_IF_ERROR(first);
    if (model_.count(*first) != 0) return absl::InternalError("first page handed out twice");
    model_[*first] = bytes;
    return first;
  }
  // Rewrites chain `first` as `bytes` over its own pages.
  absl::StatusOr<PageId> Replace(PageId first, const std::string& bytes) {
    absl::StatusOr<std::vector<PageId>> old = ChainPages(Tx(), first, 7);
    TEST_RETURN_IF_ERROR(old);
    absl::StatusOr<PageId> now = WriteChain(Tx(), alloc_, bytes, *old);
    TEST_RETURN_IF_ERROR(now);
    if (*now != first) return absl::InternalError("a rewritten chain moved its first page");
    model_[first] = bytes;
    return now;
  }
  absl::Status Free(PageId first) {
    absl::StatusOr<std::vector<PageId>> pages = ChainPages(Tx(), first, 7);
    TEST_RETURN_IF_ERROR(pages);
    TEST_RETURN_IF_ERROR(FreePages(Tx(), alloc_, *pages));
    model_.erase(first);
    return absl::OkStatus();
  }

  absl::StatusOr<std::set<PageId>> UsedPages(PageDelta& d) {
    return UsedPagesOf(source_, alloc_, d);
  }

  // Commits, then checks every chain against the model, and that no page leaked.
  absl::Status Verify() {
    Commit();
    PageDelta d(&source_);
    std::set<PageId> expected = {0, 1, 2};
    for (const auto& [first, bytes] : model_) {
      absl::StatusOr<std::string> read = ReadChain(d, first, 7);
      TEST_RETURN_IF_ERROR(read);
      if (*read != bytes) {
        return absl::InternalError(absl::StrCat("chain ", first, ": ", read->size(),
                                                " bytes read, ", bytes.size(), " expected"));
      }
      absl::StatusOr<std::vector<PageId>> pages = ChainPages(d, first, 7);
      TEST_RETURN_IF_ERROR(pages);
      if (pages->size() != PagesFor(bytes.size()) || (*pages)[0] != first) {
        return absl::InternalError(absl::StrCat("chain ", first, ": ", pages->size(), " pages"));
      }
      for (size_t i = 0; i < pages->size(); ++i) {
        const PageBuf& page = source_.At((*pages)[i]);
        const bool last = i + 1 == pages->size();
        if (TypeOf(page) != PageType::kOverflow ||
            GetU64(page.body()) != (last ? 0 : (*pages)[i + 1]) ||
            GetU32(page.body() + 8) != (last ? bytes.size() - i * kPayload : kPayload)) {
          return absl::InternalError(absl::StrCat("chain ", first, ": bad page ", (*pages)[i]));
        }
        if (!expected.insert((*pages)[i]).second) {
          return absl::InternalError(absl::StrCat("page ", (*pages)[i], " in two chains"));
        }
      }
    }
    absl::StatusOr<std::set<PageId>> used = UsedPages(d);
    TEST_RETURN_IF_ERROR(used);
    if (*used != expected) {
      return absl::InternalError(absl::StrCat("used pages: ", used->size(), ", expected ",
                                              expected.size(), " (a leak or a lost page)"));
    }
    return absl::OkStatus();
  }

  // Writes committed overflow page `id` by hand: [next][count][bytes of `fill`].
  void PutPage(PageId id, PageId next, uint32_t count, char fill = 'x',
               PageType type = PageType::kOverflow) {
    PageBuf page;
    PutU64(page.body(), next);
    PutU32(page.body() + 8, count);
    std::memset(page.body() + 12, fill, kPayload);
    SealPage(id, type, ++lsn_, page);
    source_.Put(id, page);
  }
  // A hand-built chain over pages base, base+1, ...: full pages, then one of `last` bytes.
  void PutChain(PageId base, size_t full, uint32_t last) {
    for (size_t i = 0; i < full; ++i) PutPage(base + i, base + i + 1, kPayload);
    PutPage(base + full, 0, last);
  }

  // Both readers of the chain from `first`: the first error, or OK with the bytes' size.
  absl::StatusOr<size_t> ReadBoth(PageId first) {
    PageDelta d(&source_);
    absl::StatusOr<std::string> bytes = ReadChain(d, first, 7);
    absl::StatusOr<std::vector<PageId>> pages = ChainPages(d, first, 7);
    if (bytes.ok() != pages.ok()) return absl::InternalError("the readers disagree");
    TEST_RETURN_IF_ERROR(bytes);
    return bytes->size();
  }

  std::map<PageId, std::string> model_;
  std::map<PageId, std::string> committed_;
};

std::vector<size_t> EdgeSizes() {
  std::vector<size_t> sizes = {kMaxInlineSize + 1, kMaxInlineSize + 2, 100000, 1 << 20};
  for (size_t k = 1; k <= 3; ++k) {
    for (size_t n : {k * kPayload - 1, k * kPayload, k * kPayload + 1}) {
      if (n > kMaxInlineSize) sizes.push_back(n);
    }
  }
  return sizes;
}

TEST_F(OverflowChainTest, SizesAtPageEdgesRoundTrip) {
  uint64_t seed = 0;
  for (size_t n : EdgeSizes()) {
    absl::StatusOr<PageId> first = Write(TestBytes(++seed, n));
    ASSERT_OK(first) << n;
  }
  ASSERT_OK(Verify());
  // The same within the delta that wrote them, before any commit.
  for (size_t n : EdgeSizes()) ASSERT_OK(Write(TestBytes(++seed, n))) << n;
  for (const auto& [first, bytes] : model_) {
    absl::StatusOr<std::string> read = ReadChain(Tx(), first, 7);
    ASSERT_OK(read);
    EXPECT_EQ(*read, bytes);
  }
  ASSERT_OK(Verify());
}

TEST_F(OverflowChainTest, ReplaceReusesPagesInOrderAndFreesTheRest) {
  absl::StatusOr<PageId> first = Write(TestBytes(1, 10 * kPayload));
  ASSERT_OK(first);
  ASSERT_OK(Verify());
  PageDelta d(&source_);
  absl::StatusOr<std::vector<PageId>> before = ChainPages(d, *first, 7);
  ASSERT_OK(before);
  ASSERT_EQ(before->size(), 10u);
  // Every size from ten pages down to one and up to fifteen, each over the previous chain.
  for (size_t n : {10 * kPayload - 1, 9 * kPayload + 1, 3 * kPayload, 2 * kPayload + 1,
                   kMaxInlineSize + 1, kPayload + 1, 15 * kPayload, 15 * kPayload - 1}) {
    std::vector<PageId> old;
    {
      PageDelta d2(&source_);
      absl::StatusOr<std::vector<PageId>> p = ChainPages(d2, *first, 7);
      ASSERT_OK(p);
      old = *p;
    }
    ASSERT_OK(Replace(*first, TestBytes(n, n))) << n;
    ASSERT_OK(Verify()) << n;
    PageDelta d3(&source_);
    absl::StatusOr<std::vector<PageId>> now = ChainPages(d3, *first, 7);
    ASSERT_OK(now);
    const size_t shared = std::min(old.size(), now->size());
    EXPECT_TRUE(std::equal(old.begin(), old.begin() + shared, now->begin()))
        << "the old pages are reused in order";
  }
  // Several rewrites in one delta.
  ASSERT_OK(Replace(*first, TestBytes(2, 4 * kPayload)));
  ASSERT_OK(Replace(*first, TestBytes(3, 20 * kPayload + 5)));
  ASSERT_OK(Replace(*first, TestBytes(4, kMaxInlineSize + 1)));
  ASSERT_OK(Verify());
}

TEST_F(OverflowChainTest, FreeingGivesEveryPageBack) {
  std::vector<PageId> firsts;
  for (size_t n : EdgeSizes()) {
    absl::StatusOr<PageId> first = Write(TestBytes(n, n));
    ASSERT_OK(first);
    firsts.push_back(*first);
  }
  ASSERT_OK(Verify());
  for (size_t i = 0; i < firsts.size(); i += 2) ASSERT_OK(Free(firsts[i]));
  ASSERT_OK(Verify());
  for (size_t i = 1; i < firsts.size(); i += 2) ASSERT_OK(Free(firsts[i]));
  ASSERT_OK(Verify());
  PageDelta d(&source_);
  absl::StatusOr<std::set<PageId>> used = UsedPages(d);
  ASSERT_OK(used);
  EXPECT_EQ(*used, (std::set<PageId>{0, 1, 2}));
}

TEST_F(OverflowChainTest, AbortedDeltaLeavesNoTrace) {
  absl::StatusOr<PageId> first = Write(TestBytes(1, 3 * kPayload));
  ASSERT_OK(first);
  ASSERT_OK(Verify());
  ASSERT_OK(Replace(*first, TestBytes(2, 9 * kPayload)));
  ASSERT_OK(Write(TestBytes(3, 50000)));
  Abort();
  ASSERT_OK(Verify());
  EXPECT_EQ(model_.size(), 1u);
}

TEST_F(OverflowChainTest, AllocatorErrorsPassThrough) {
  MapPageSource unformatted;
  PageDelta d(&unformatted);
  Allocator alloc;
  EXPECT_EQ(StatusOf(WriteChain(d, alloc, TestBytes(1, 5000), {})).code(),
            absl::StatusCode::kFailedPrecondition);
  // Shrinking over pages that are already free: the allocator's double free comes through.
  absl::StatusOr<PageId> first = Write(TestBytes(1, 3 * kPayload));
  ASSERT_OK(first);
  ASSERT_OK(Verify());
  PageDelta d2(&source_);
  absl::StatusOr<std::vector<PageId>> pages = ChainPages(d2, *first, 7);
  ASSERT_OK(pages);
  ASSERT_OK(FreePages(d2, alloc_, *pages));
  EXPECT_EQ(StatusOf(WriteChain(d2, alloc_, TestBytes(2, kPayload), *pages)).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(OverflowChainTest, RandomOpsMatchModel) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  auto size = [&]() -> size_t {
    const uint64_t r = rng() % 100;
    if (r < 50) {  // near a page edge
      const size_t k = 1 + rng() % 6;
      const size_t n = k * kPayload - 2 + rng() % 5;
      return std::max(n, kMaxInlineSize + 1);
    }
    if (r < 95) return kMaxInlineSize + 1 + rng() % 40000;
    return 200000 + rng() % 300000;
  };
  auto pick = [&]() -> PageId {
    auto it = model_.begin();
    std::advance(it, rng() % model_.size());
    return it->first;
  };
  for (int op = 0; op < 1500; ++op) {
    const uint64_t r = rng() % 100;
    if (r < 35 || model_.empty()) {
      ASSERT_OK(Write(TestBytes(rng(), size()))) << "op " << op;
    } else if (r < 70) {
      ASSERT_OK(Replace(pick(), TestBytes(rng(), size()))) << "op " << op;
    } else if (r < 93) {
      ASSERT_OK(Free(pick())) << "op " << op;
    } else if (r < 96) {
      Abort();
    } else {
      ASSERT_OK(Verify()) << "op " << op;
    }
  }
  ASSERT_OK(Verify());
  while (!model_.empty()) ASSERT_OK(Free(pick()));
  ASSERT_OK(Verify());
}

// ---- Damage ----

constexpr PageId kBase = 100;  // hand-built chains start here

TEST_F(OverflowChainTest, HandBuiltChainsAtTheLimits) {
  PutChain(kBase, 0, kMaxInlineSize + 1);
  EXPECT_EQ(ReadBoth(kBase).value_or(0), kMaxInlineSize + 1);
  PutChain(kBase, 0, kPayload);
  EXPECT_EQ(ReadBoth(kBase).value_or(0), kPayload);
  PutChain(kBase, 2, kPayload);
  EXPECT_EQ(ReadBoth(kBase).value_or(0), 3 * kPayload);
  // Too short: a record this small is stored inline, even split over pages.
  for (uint32_t last : {uint32_t{1}, uint32_t{kMaxInlineSize}}) {
    PutChain(kBase, 0, last);
    absl::StatusOr<size_t> r = ReadBoth(kBase);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << last;
    EXPECT_NE(r.status().message().find("page "), absl::string_view::npos) << r.status();
  }
}

TEST_F(OverflowChainTest, BadCountsAreDataLoss) {
  struct Case {
    uint32_t middle;  // count of the first of two pages
    uint32_t last;    // count of the second
  };
  for (const Case& c : {Case{kPayload - 1, kPayload}, Case{kPayload + 1, kPayload},
                        Case{0, kPayload}, Case{kPayload, 0}, Case{kPayload, kPayload + 1},
                        Case{kPayload, UINT32_MAX}, Case{UINT32_MAX, 10}}) {
    PutPage(kBase, kBase + 1, c.middle);
    PutPage(kBase + 1, 0, c.last);
    absl::StatusOr<size_t> r = ReadBoth(kBase);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << c.middle << " " << c.last;
  }
  // A single page holding more than its body.
  PutPage(kBase, 0, kPayload + 1);
  EXPECT_EQ(ReadBoth(kBase).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(OverflowChainTest, BadLinksAndTypesAreDataLoss) {
  PutChain(kBase, 2, 100);
  ASSERT_EQ(ReadBoth(kBase).value_or(0), 2 * kPayload + 100);
  // The first link itself.
  for (PageId first : {PageId{0}, kNoPage, kMaxSegmentPage + 1, PageId{1}, PageId{2},
                       PageId{5000}}) {
    EXPECT_EQ(ReadBoth(first).status().code(), absl::StatusCode::kDataLoss) << first;
  }
  // A middle page's link: past the largest page, at the file header or bitmap, past the end.
  for (PageId next : {kNoPage, kMaxSegmentPage + 1, PageId{1}, PageId{2}, PageId{5000}}) {
    PutPage(kBase + 1, next, kPayload);
    absl::StatusOr<size_t> r = ReadBoth(kBase);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << next;
    EXPECT_NE(r.status().message().find("page "), absl::string_view::npos) << r.status();
  }
  PutChain(kBase, 2, 100);
  // Each page of another type in turn, and a page with a bad checksum.
  for (PageId id = kBase; id <= kBase + 2; ++id) {
    const PageBuf good = source_.At(id);
    for (PageType t : {PageType::kData, PageType::kAddressLeaf, PageType::kFree}) {
      PageBuf bad = good;
      SealPage(id, t, LsnOf(good), bad);
      source_.Put(id, bad);
      absl::StatusOr<size_t> r = ReadBoth(kBase);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << id;
      EXPECT_NE(r.status().message().find(absl::StrCat("page ", id)), absl::string_view::npos)
          << r.status();
    }
    PageBuf flipped = good;
    flipped.body()[20] ^= 1;
    source_.Put(id, flipped);
    EXPECT_EQ(ReadBoth(kBase).status().code(), absl::StatusCode::kDataLoss) << id;
    source_.Put(id, good);
  }
  ASSERT_EQ(ReadBoth(kBase).value_or(0), 2 * kPayload + 100);
}

TEST_F(OverflowChainTest, LoopsAreDataLoss) {
  // A self-loop, a loop back to the first page, a loop into the middle: each full page of a
  // chain that never ends.
  PutPage(kBase, kBase, kPayload);
  EXPECT_EQ(ReadBoth(kBase).status().code(), absl::StatusCode::kDataLoss);
  for (PageId back : {kBase, kBase + 2}) {
    PutChain(kBase, 4, 10);
    PutPage(kBase + 4, back, kPayload);
    absl::StatusOr<size_t> r = ReadBoth(kBase);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << back;
    EXPECT_NE(r.status().message().find("loops"), absl::string_view::npos) << r.status();
  }
}

TEST_F(OverflowChainTest, ChainLongerThanTheLargestRecordIsDataLoss) {
  // kMaxRecordBytes is 66248 pages, the last holding 2612 bytes.
  const size_t full = kMaxRecordBytes / kPayload;
  const uint32_t rest = static_cast<uint32_t>(kMaxRecordBytes - full * kPayload);
  ASSERT_GT(rest, 0u);
  PutChain(kBase, full, rest);
  {
    PageDelta d(&source_);
    absl::StatusOr<std::vector<PageId>> pages = ChainPages(d, kBase, 7);
    ASSERT_OK(pages);
    EXPECT_EQ(pages->size(), full + 1);
  }
  // One byte more, then one page more.
  PutPage(kBase + full, 0, rest + 1);
  {
    PageDelta d(&source_);
    absl::StatusOr<std::vector<PageId>> pages = ChainPages(d, kBase, 7);
    EXPECT_EQ(pages.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(StatusOf(ReadChain(d, kBase, 7)).code(), absl::StatusCode::kDataLoss);
  }
  PutPage(kBase + full, kBase + full + 1, kPayload);
  PutPage(kBase + full + 1, 0, 1);
  {
    PageDelta d(&source_);
    EXPECT_EQ(StatusOf(ChainPages(d, kBase, 7)).code(), absl::StatusCode::kDataLoss);
  }
}

TEST_F(OverflowChainTest, RandomResealedFlipsNeverCrash) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  for (size_t n : {kMaxInlineSize + 1, 3 * kPayload, 5 * kPayload + 7}) {
    ASSERT_OK(Write(TestBytes(n, n)));
  }
  ASSERT_OK(Verify());
  std::vector<PageId> pages;
  {
    PageDelta d(&source_);
    for (const auto& [first, bytes] : model_) {
      absl::StatusOr<std::vector<PageId>> p = ChainPages(d, first, 7);
      ASSERT_OK(p);
      pages.insert(pages.end(), p->begin(), p->end());
    }
  }
  for (int i = 0; i < 500; ++i) {
    const PageId id = pages[rng() % pages.size()];
    const PageBuf good = source_.At(id);
    PageBuf bad = good;
    const size_t at = rng() % 2 == 0 ? rng() % 12 : rng() % kPageBodySize;
    bad.body()[at] = static_cast<char>(bad.body()[at] ^ (1 + rng() % 255));
    SealPage(id, TypeOf(good), LsnOf(good), bad);
    source_.Put(id, bad);
    for (const auto& [first, bytes] : model_) {
      PageDelta d(&source_);
      absl::StatusOr<std::string> read = ReadChain(d, first, 7);
      if (read.ok()) {
        EXPECT_LE(read->size(), kMaxRecordBytes);
      } else {
        EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
      }
      absl::StatusOr<std::vector<PageId>> p = ChainPages(d, first, 7);
      EXPECT_EQ(p.ok(), read.ok());
      if (p.ok()) {
        // Rewriting over the damaged chain's pages never crashes either.
        PageDelta d2(&source_);
        EXPECT_OK(WriteChain(d2, alloc_, bytes, *p));
      }
    }
    source_.Put(id, good);
  }
  ASSERT_OK(Verify());
}

}  // namespace
}  // namespace persy::internal
