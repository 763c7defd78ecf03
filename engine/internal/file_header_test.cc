// Tests of the double-buffered file header: the layout, choosing the copy, every kind of damage,
// and a randomized crash test of the header-write protocol over the simulated disk.

#include "engine/internal/file_header.h"

#include <cstring>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "tools/status_test_util.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy::internal {
namespace {

using ::persy::testing::MessageHas;

constexpr char kPath[] = "/db/file";

std::unique_ptr<PageFile> MustCreate(vfs::SimVfs& sim) {
  auto file = sim.Create(kPath);
  EXPECT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(sim.SyncDir(kPath).ok());
  return std::make_unique<PageFile>(std::move(*file));
}

std::unique_ptr<PageFile> MustOpen(vfs::SimVfs& sim) {
  auto file = sim.Open(kPath);
  EXPECT_TRUE(file.ok()) << file.status();
  return std::make_unique<PageFile>(std::move(*file));
}

FileHeader Header(uint64_t counter) {
  FileHeader h;
  h.counter = counter;
  h.next_lsn = 100 + counter;
  h.journal_head_page = 7 + counter;
  h.journal_head_seq = 3 * counter;
  h.journal_head_offset = 512 * static_cast<uint32_t>(counter % 8);
  h.catalog_root = counter % 3 == 0 ? kNoPage : 40 + counter;
  return h;
}

// Expects ReadFileHeader to succeed with `want`.
void ExpectHeader(PageFile& file, const FileHeader& want) {
  absl::StatusOr<FileHeader> got = ReadFileHeader(file);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, want) << "got " << DescribeHeader(*got) << "; want " << DescribeHeader(want);
}

bool StartsWith(const absl::Status& s, absl::string_view prefix) {
  return s.message().substr(0, prefix.size()) == prefix;
}

// Sets the u32 at `offset` of header page `page` to `value` and recomputes the checksum: a copy
// that is intact but says something this build must refuse.
void PatchAndReseal(PageFile& file, PageId page, size_t offset, uint32_t value) {
  PageBuf buf;
  ASSERT_TRUE(file.ReadRaw(page, buf).ok());
  PutU32(buf.data() + offset, value);
  PutU64(buf.data() + 504, Checksum(buf.data(), 504));
  ASSERT_TRUE(file.Write(page, buf).ok());
}

TEST(FileHeaderTest, LayoutMatchesTheFormatDoc) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  FileHeader h;
  h.counter = 0x0102030405060708ull;  // even: page 0
  h.next_lsn = 9;
  h.journal_head_page = 10;
  h.journal_head_seq = 11;
  h.journal_head_offset = 1536;
  h.catalog_root = kNoPage;
  ASSERT_TRUE(WriteFileHeader(*file, h).ok());
  EXPECT_EQ(*file->file().Size(), kPageSize);  // the whole page

  PageBuf page;
  ASSERT_TRUE(file->ReadRaw(0, page).ok());
  const char* p = page.data();
  EXPECT_EQ(std::string(p, 8), "PERSYCPP");
  EXPECT_EQ(GetU32(p + 8), 1u);
  EXPECT_EQ(GetU32(p + 12), 4096u);
  EXPECT_EQ(p[16], 0x08);  // little-endian
  EXPECT_EQ(GetU64(p + 16), h.counter);
  EXPECT_EQ(GetU64(p + 24), 9u);
  EXPECT_EQ(GetU64(p + 32), 10u);
  EXPECT_EQ(GetU64(p + 40), 11u);
  EXPECT_EQ(GetU32(p + 48), 1536u);
  EXPECT_EQ(GetU32(p + 52), 0u);
  EXPECT_EQ(GetU64(p + 56), ~uint64_t{0});
  for (size_t i = 64; i < 504; ++i) ASSERT_EQ(p[i], 0) << "byte " << i;
  EXPECT_EQ(GetU64(p + 504), Checksum(p, 504));
  for (size_t i = 512; i < kPageSize; ++i) ASSERT_EQ(p[i], 0) << "byte " << i;
}

TEST(FileHeaderTest, RoundTripAndCopyChoice) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(0)).ok());
  ExpectHeader(*file, Header(0));

  FileHeader defaults;  // kNoPage links survive too
  defaults.counter = 1;
  ASSERT_TRUE(WriteFileHeader(*file, defaults).ok());
  ExpectHeader(*file, defaults);

  for (uint64_t c = 2; c < 10; ++c) {
    ASSERT_TRUE(WriteFileHeader(*file, Header(c)).ok());
    absl::StatusOr<FileHeader> got = ReadFileHeader(*file);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, Header(c)) << DescribeHeader(*got);
  }
  // The older copy is still in the other page.
  PageBuf page;
  ASSERT_TRUE(file->ReadRaw(0, page).ok());
  EXPECT_EQ(GetU64(page.data() + 16), 8u);
}

TEST(FileHeaderTest, FlippedBitInNewestCopyFallsBackToTheOlder) {
  vfs::SimVfs sim(1);
  {
    auto file = MustCreate(sim);
    ASSERT_TRUE(WriteFileHeader(*file, Header(4)).ok());
    ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
    ASSERT_TRUE(file->Sync().ok());
  }
  ASSERT_TRUE(sim.FlipDurableBit(kPath, (kPageSize + 30) * 8 + 2).ok());
  sim.Crash();
  auto file = MustOpen(sim);
  ExpectHeader(*file, Header(4));
}

TEST(FileHeaderTest, BytesPastTheHeaderSectorAreNotPartOfIt) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(4)).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
  ASSERT_TRUE(file->WriteAt(kPageSize + 1000, "not covered").ok());
  ExpectHeader(*file, Header(5));
}

TEST(FileHeaderTest, TornNewestCopyFallsBackToTheOlder) {
  vfs::SimDamage damage;
  damage.keep = 0;  // every pending write is torn ...
  damage.drop = 0;
  damage.torn_garbage = 1;  // ... into garbage, sector by sector
  vfs::SimVfs sim(7, damage);
  {
    auto file = MustCreate(sim);
    ASSERT_TRUE(WriteFileHeader(*file, Header(4)).ok());
    ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(WriteFileHeader(*file, Header(6)).ok());
  }
  sim.Crash();
  auto file = MustOpen(sim);
  PageBuf page;
  ASSERT_TRUE(file->ReadRaw(0, page).ok());
  ASSERT_NE(std::string(page.data(), 8), "PERSYCPP") << "the write was not torn";
  ExpectHeader(*file, Header(5));
}

TEST(FileHeaderTest, NewestCopyWithMagicButBadChecksumFallsBack) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(6)).ok());
  ASSERT_TRUE(file->WriteAt(100, "x").ok());  // page 0, inside the header
  ExpectHeader(*file, Header(5));
}

TEST(FileHeaderTest, BothCopiesDamagedIsDataLossNamingBoth) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(6)).ok());
  ASSERT_TRUE(file->WriteAt(20, "zz").ok());
  ASSERT_TRUE(file->WriteAt(kPageSize + 300, "zz").ok());
  absl::Status s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(MessageHas(s, "page 0: checksum mismatch")) << s;
  EXPECT_TRUE(MessageHas(s, "page 1: checksum mismatch")) << s;
}

TEST(FileHeaderTest, OneDamagedCopyAndNoOtherIsDataLoss) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(0)).ok());
  ASSERT_TRUE(file->WriteAt(200, "zz").ok());
  absl::Status s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(MessageHas(s, "page 0: checksum mismatch")) << s;
  EXPECT_TRUE(MessageHas(s, "page 1: no magic")) << s;
}

TEST(FileHeaderTest, MisplacedCopyIsDamage) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  PageBuf seven, four;
  ASSERT_TRUE(WriteFileHeader(*file, Header(7)).ok());
  ASSERT_TRUE(file->ReadRaw(1, seven).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(4)).ok());
  ASSERT_TRUE(file->ReadRaw(0, four).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
  // Page 0 now holds copy 7, intact but in the wrong place; page 1 holds copy 5. Trusting the
  // misplaced copy would pick it for its higher counter.
  ASSERT_TRUE(file->Write(0, seven).ok());
  ExpectHeader(*file, Header(5));

  ASSERT_TRUE(file->Write(1, four).ok());  // both copies misplaced
  absl::Status s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(MessageHas(s, "page 0: holds counter 7, which belongs in page 1")) << s;
  EXPECT_TRUE(MessageHas(s, "page 1: holds counter 4, which belongs in page 0")) << s;
}

TEST(FileHeaderTest, UnsupportedVersionIsRefused) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(4)).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
  PatchAndReseal(*file, 1, 8, 2);  // the newer copy is of version 2
  absl::Status s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(StartsWith(s, "unsupported format version 2")) << s;

  // A version-2 copy older than a version-1 copy does not matter.
  ASSERT_TRUE(WriteFileHeader(*file, Header(6)).ok());
  ExpectHeader(*file, Header(6));
}

TEST(FileHeaderTest, WrongPageSizeMakesACopyInvalid) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(WriteFileHeader(*file, Header(4)).ok());
  ASSERT_TRUE(WriteFileHeader(*file, Header(5)).ok());
  PatchAndReseal(*file, 1, 12, 8192);
  ExpectHeader(*file, Header(4));
  PatchAndReseal(*file, 0, 12, 512);
  absl::Status s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(MessageHas(s, "page 0: page size 512, expected 4096")) << s;
  EXPECT_TRUE(MessageHas(s, "page 1: page size 8192, expected 4096")) << s;
}

TEST(FileHeaderTest, EmptyShortAndForeignFilesAreNotPersyFiles) {
  vfs::SimVfs sim(1);
  auto file = MustCreate(sim);
  absl::Status s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(StartsWith(s, "not a persy file")) << s;

  ASSERT_TRUE(file->WriteAt(0, "PERSY").ok());  // short, and only part of the magic
  s = ReadFileHeader(*file).status();
  EXPECT_TRUE(StartsWith(s, "not a persy file")) << s;

  std::mt19937_64 rng(42);
  std::string noise(3 * kPageSize, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  ASSERT_TRUE(file->WriteAt(0, noise).ok());
  s = ReadFileHeader(*file).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(StartsWith(s, "not a persy file")) << s;
}

TEST(FileHeaderTest, DescribeHeader) {
  FileHeader h = Header(3);
  EXPECT_EQ(DescribeHeader(h),
            "counter 3, next lsn 103, journal head page 10 seq 9 offset 1536, catalog root none");
  h.catalog_root = 12;
  h.journal_head_page = kNoPage;
  EXPECT_EQ(DescribeHeader(h),
            "counter 3, next lsn 103, journal head page none seq 9 offset 1536, catalog root 12");
}

FileHeader RandomHeader(std::mt19937_64& rng, uint64_t counter) {
  FileHeader h;
  h.counter = counter;
  h.next_lsn = rng();
  h.journal_head_page = rng() % 4 == 0 ? kNoPage : rng();
  h.journal_head_seq = rng();
  h.journal_head_offset = 512 * static_cast<uint32_t>(rng() % 8);
  h.catalog_root = rng() % 4 == 0 ? kNoPage : rng();
  return h;
}

// The protocol under harsh crashes: header writes (counter + 1 each, then a sync), mixed with
// data-page writes that the crash may reorder and tear around it, and a crash at a random point:
// between the write and the sync, inside them (the disk powers off after k more events), or
// after the sync. The header read back must always be the last one synced or the one being
// written: never an error, never an older one. Whatever is read becomes the last synced header,
// since after a crash the disk holds only durable data; the next write goes over the other copy,
// as after recovery.
TEST(FileHeaderTest, RandomCrashesNeverLoseTheLastSyncedHeader) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  vfs::SimVfs sim(seed);  // default damage: keep, drop or tear, reordered, sizes lost
  sim.set_record_events(false);
  auto file = MustCreate(sim);
  FileHeader synced = RandomHeader(rng, 0);
  ASSERT_TRUE(WriteFileHeader(*file, synced).ok());
  ASSERT_TRUE(file->Sync().ok());

  int crashes = 0, new_after_crash = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    SCOPED_TRACE(::testing::Message() << "iteration " << iter << ", last synced "
                                    << DescribeHeader(synced));
    const FileHeader next = RandomHeader(rng, synced.counter + 1);
    enum Mode { kNoCrash, kCrashBeforeSync, kPowerOff, kCrashAfterSync };
    const Mode mode = static_cast<Mode>(rng() % 4);
    if (mode == kPowerOff) sim.PowerOffAfter(1 + rng() % 5);

    // Errors below are expected once the power is off; the outcome is checked after the crash.
    for (uint64_t n = rng() % 3; n > 0; --n) {
      PageBuf data;
      const PageId id = 2 + rng() % 4;
      std::memset(data.body(), static_cast<int>(rng()), kPageBodySize);
      SealPage(id, PageType::kData, iter, data);
      (void)file->Write(id, data);
    }
    const absl::Status wrote = WriteFileHeader(*file, next);
    if (mode != kPowerOff) {
      ASSERT_TRUE(wrote.ok()) << wrote;
    }
    absl::Status synced_status = absl::UnknownError("no sync");
    if (mode != kCrashBeforeSync) synced_status = file->Sync();
    if (mode == kNoCrash || mode == kCrashAfterSync) {
      ASSERT_TRUE(synced_status.ok()) << synced_status;
    }
    if (mode == kNoCrash) {
      synced = next;
      continue;
    }

    sim.Crash();
    ++crashes;
    file = MustOpen(sim);
    absl::StatusOr<FileHeader> got = ReadFileHeader(*file);
    ASSERT_TRUE(got.ok()) << got.status();
    if (synced_status.ok()) {
      ASSERT_EQ(*got, next) << DescribeHeader(*got);
    } else if (*got != synced) {
      ASSERT_EQ(*got, next) << DescribeHeader(*got);
    }
    if (*got == next && !synced_status.ok()) ++new_after_crash;
    synced = *got;
  }
  // The crashes must have hit both outcomes, or the test tests little.
  EXPECT_GT(crashes, 1000);
  EXPECT_GT(new_after_crash, 50);
  EXPECT_LT(new_after_crash, crashes);
}

}  // namespace
}  // namespace persy::internal
