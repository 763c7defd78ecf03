// Tests of PageFile over the simulated disk: page I/O, the end of the file, damage, and the
// sticky failure after a failed write or sync.

#include "engine/internal/page_file.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "vfs/sim_vfs.h"

namespace persy::internal {
namespace {

constexpr char kPath[] = "/db/file";

std::unique_ptr<vfs::File> MustCreate(vfs::SimVfs& sim) {
  auto file = sim.Create(kPath);
  EXPECT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(sim.SyncDir(kPath).ok());
  return std::move(*file);
}

std::unique_ptr<vfs::File> MustOpen(vfs::SimVfs& sim) {
  auto file = sim.Open(kPath);
  EXPECT_TRUE(file.ok()) << file.status();
  return std::move(*file);
}

// A sealed data page of `id` whose body is filled with `fill`.
PageBuf MakePage(PageId id, char fill, uint64_t lsn = 1) {
  PageBuf page;
  std::memset(page.body(), fill, kPageBodySize);
  SealPage(id, PageType::kData, lsn, page);
  return page;
}

bool IsZero(const PageBuf& page) {
  for (char c : page.bytes) {
    if (c != 0) return false;
  }
  return true;
}

bool Contains(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

TEST(PageFileTest, RoundTrip) {
  vfs::SimVfs sim(1);
  {
    PageFile file(MustCreate(sim));
    const PageBuf page = MakePage(3, 'x');
    ASSERT_TRUE(file.Write(3, page).ok());
    PageBuf got;
    ASSERT_TRUE(file.Read(3, got).ok());
    EXPECT_EQ(got.bytes, page.bytes);
    EXPECT_EQ(*file.PageCount(), 4u);
    ASSERT_TRUE(file.Sync().ok());
  }
  sim.Crash();
  PageFile file(MustOpen(sim));
  PageBuf got;
  ASSERT_TRUE(file.Read(3, got).ok());
  EXPECT_EQ(got.bytes, MakePage(3, 'x').bytes);
}

TEST(PageFileTest, PageWhollyPastTheEndReadsAsZeros) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  PageBuf page;
  page.bytes.fill('?');  // the read must zero-fill, not leave what was there
  ASSERT_TRUE(file.Read(0, page).ok());
  EXPECT_TRUE(IsZero(page));

  ASSERT_TRUE(file.Write(2, MakePage(2, 'a')).ok());
  page.bytes.fill('?');
  ASSERT_TRUE(file.Read(3, page).ok());
  EXPECT_TRUE(IsZero(page));
  page.bytes.fill('?');
  ASSERT_TRUE(file.ReadRaw(1000, page).ok());
  EXPECT_TRUE(IsZero(page));
}

TEST(PageFileTest, PartialLastPageIsZeroFilledAndMustVerify) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  ASSERT_TRUE(file.Write(0, MakePage(0, 'a')).ok());
  ASSERT_TRUE(file.WriteAt(kPageSize + 100, "abc").ok());
  EXPECT_EQ(*file.PageCount(), 2u);

  PageBuf page;
  page.bytes.fill('?');
  ASSERT_TRUE(file.ReadRaw(1, page).ok());
  for (size_t i = 0; i < kPageSize; ++i) {
    const char want = i >= 100 && i < 103 ? "abc"[i - 100] : '\0';
    ASSERT_EQ(page.bytes[i], want) << "byte " << i;
  }
  // Partly within the file, so it is no free page: it must verify, and does not.
  absl::Status s = file.Read(1, page);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s, "page 1")) << s;
}

TEST(PageFileTest, FlippedDurableBitIsDataLossNamingThePage) {
  vfs::SimVfs sim(1);
  {
    PageFile file(MustCreate(sim));
    ASSERT_TRUE(file.Write(1, MakePage(1, 'a')).ok());
    ASSERT_TRUE(file.Write(2, MakePage(2, 'b')).ok());
    ASSERT_TRUE(file.Sync().ok());
  }
  ASSERT_TRUE(sim.FlipDurableBit(kPath, (2 * kPageSize + 1234) * 8 + 5).ok());
  sim.Crash();
  PageFile file(MustOpen(sim));
  PageBuf page;
  EXPECT_TRUE(file.Read(1, page).ok());
  absl::Status s = file.Read(2, page);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s, "page 2")) << s;
  // The raw bytes are still there to look at.
  EXPECT_TRUE(file.ReadRaw(2, page).ok());
}

TEST(PageFileTest, GarbageAndMisplacedPagesAreDataLoss) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  ASSERT_TRUE(file.Write(1, MakePage(1, 'a')).ok());
  ASSERT_TRUE(file.WriteAt(kPageSize + 1000, "garbage").ok());
  PageBuf page;
  absl::Status s = file.Read(1, page);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s, "page 1")) << s;

  ASSERT_TRUE(file.Write(4, MakePage(3, 'c')).ok());  // page 3's image at page 4
  s = file.Read(4, page);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s, "page 4")) << s;
}

TEST(PageFileTest, FailedSyncIsSticky) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  ASSERT_TRUE(file.Write(2, MakePage(2, 'a')).ok());
  sim.InjectFault(vfs::IoKind::kSync, 1, EIO, /*persistent=*/false);
  const absl::Status first = file.Sync();
  ASSERT_EQ(first.code(), absl::StatusCode::kDataLoss) << first;
  EXPECT_EQ(file.failed(), first);

  const uint64_t writes = sim.count(vfs::IoKind::kWrite);
  EXPECT_EQ(file.Write(3, MakePage(3, 'b')), first);
  EXPECT_EQ(file.WriteAt(0, "x"), first);
  EXPECT_EQ(file.Truncate(1), first);
  EXPECT_EQ(file.Sync(), first);  // the fault was transient: PageFile itself refuses
  EXPECT_EQ(sim.count(vfs::IoKind::kWrite), writes);

  // Reads still work, and see what the failed sync may or may not have made durable.
  PageBuf page;
  ASSERT_TRUE(file.Read(2, page).ok());
  EXPECT_EQ(page.bytes, MakePage(2, 'a').bytes);
  EXPECT_EQ(*file.PageCount(), 3u);
}

TEST(PageFileTest, FailedWriteIsSticky) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  ASSERT_TRUE(file.Write(1, MakePage(1, 'a')).ok());
  sim.InjectFault(vfs::IoKind::kWrite, 1, EIO, /*persistent=*/false);
  const absl::Status first = file.Write(2, MakePage(2, 'b'));
  ASSERT_EQ(first.code(), absl::StatusCode::kDataLoss) << first;

  // The disk would take these (the fault was transient, and a failed write does not poison a
  // vfs::File), but a sync now could make a half-written page durable as if it were whole.
  EXPECT_EQ(file.Sync(), first);
  EXPECT_EQ(file.Write(3, MakePage(3, 'c')), first);
  EXPECT_EQ(file.WriteAt(0, "x"), first);
  EXPECT_EQ(file.Truncate(0), first);
  EXPECT_EQ(sim.count(vfs::IoKind::kSync), 0u);
  EXPECT_EQ(file.failed(), first);

  PageBuf page;
  ASSERT_TRUE(file.Read(1, page).ok());
  EXPECT_EQ(page.bytes, MakePage(1, 'a').bytes);
}

TEST(PageFileTest, DiskFullIsSticky) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  sim.SetCapacity(2 * kPageSize);
  ASSERT_TRUE(file.Write(0, MakePage(0, 'a')).ok());
  ASSERT_TRUE(file.Write(1, MakePage(1, 'a')).ok());
  const absl::Status first = file.Write(2, MakePage(2, 'a'));
  EXPECT_EQ(first.code(), absl::StatusCode::kResourceExhausted) << first;
  EXPECT_EQ(file.Write(0, MakePage(0, 'b')), first);
}

TEST(PageFileTest, BadArgumentsAreRejectedWithoutStickiness) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  PageBuf page;
  EXPECT_EQ(file.ReadRaw(kNoPage, page).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(file.Read(kMaxPageId + 1, page).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(file.Write(kNoPage, page).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(file.WriteAt(~uint64_t{0} - 1, "xy").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(file.Truncate(kMaxPageId + 2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(file.failed().ok());
  EXPECT_TRUE(file.Write(0, MakePage(0, 'a')).ok());
  EXPECT_TRUE(file.Sync().ok());
}

TEST(PageFileTest, TruncateAndPageCount) {
  vfs::SimVfs sim(1);
  PageFile file(MustCreate(sim));
  EXPECT_EQ(*file.PageCount(), 0u);
  for (PageId id = 0; id < 5; ++id) ASSERT_TRUE(file.Write(id, MakePage(id, 'a')).ok());
  EXPECT_EQ(*file.PageCount(), 5u);

  ASSERT_TRUE(file.Truncate(2).ok());
  EXPECT_EQ(*file.PageCount(), 2u);
  EXPECT_EQ(*file.file().Size(), 2 * kPageSize);
  PageBuf page;
  ASSERT_TRUE(file.Read(1, page).ok());
  EXPECT_EQ(page.bytes, MakePage(1, 'a').bytes);
  ASSERT_TRUE(file.Read(3, page).ok());  // now past the end: a free page
  EXPECT_TRUE(IsZero(page));

  ASSERT_TRUE(file.WriteAt(2 * kPageSize, "x").ok());  // a partial page counts
  EXPECT_EQ(*file.PageCount(), 3u);
  ASSERT_TRUE(file.Truncate(0).ok());
  EXPECT_EQ(*file.PageCount(), 0u);
}

}  // namespace
}  // namespace persy::internal
