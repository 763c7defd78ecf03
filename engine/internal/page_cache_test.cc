// Tests of PageCache over the simulated disk: hits and misses, the LRU bound, write-back of dirty
// pages on eviction and at FlushDirty, Drop, damage, immutable images, and concurrent use.

#include "engine/internal/page_cache.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy::internal {
namespace {

constexpr char kPath[] = "/db/file";
constexpr size_t kSmall = 16 * kPageSize;  // the smallest capacity

// A simulated disk with one file under a PageFile.
struct Disk {
  vfs::SimVfs sim{1};
  std::unique_ptr<PageFile> file;

  Disk() {
    auto f = sim.Create(kPath);
    EXPECT_TRUE(f.ok()) << f.status();
    file = std::make_unique<PageFile>(std::move(*f));
  }
};

// A sealed data page of `id` at `version`: the body starts with the id and the version, and the
// lsn is the version too, so that a reader can check that an image is whole and is page `id`.
std::shared_ptr<const PageBuf> MakePage(PageId id, uint64_t version) {
  auto page = std::make_shared<PageBuf>();
  std::memset(page->body(), static_cast<int>(id * 31 + version), kPageBodySize);
  PutU64(page->body(), id);
  PutU64(page->body() + 8, version);
  SealPage(id, PageType::kData, version, *page);
  return page;
}

// Whether `page` is a whole image of page `id` made by MakePage.
bool WellFormed(PageId id, const PageBuf& page) {
  return VerifyPage(id, page).ok() && GetU64(page.body()) == id &&
         GetU64(page.body() + 8) == LsnOf(page);
}

bool IsZero(const PageBuf& page) {
  for (char c : page.bytes) {
    if (c != 0) return false;
  }
  return true;
}

// Reads page `id` from the file itself, past the cache.
PageBuf ReadFile(PageFile& file, PageId id) {
  PageBuf page;
  absl::Status s = file.Read(id, page);
  EXPECT_TRUE(s.ok()) << s;
  return page;
}

TEST(PageCacheTest, HitsAndMisses) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  auto a = cache.Get(5);  // past the end of the (empty) file: the zero page
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(IsZero(**a));
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 0u);

  auto b = cache.Get(5);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());  // the very same image
  cache.Put(6, MakePage(6, 1));
  ASSERT_TRUE(cache.Get(6).ok());
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.page_count(), 2u);
  EXPECT_EQ(cache.dirty_count(), 1u);
}

TEST(PageCacheTest, CapacityIsClampedAndHonoured) {
  Disk disk;
  EXPECT_EQ(PageCache(disk.file.get(), 0).capacity_pages(), 16u);
  EXPECT_EQ(PageCache(disk.file.get(), 40 * kPageSize + 100).capacity_pages(), 40u);

  PageCache cache(disk.file.get(), kSmall);
  for (PageId id = 2; id < 2 + 10 * 16; ++id) {
    cache.Put(id, MakePage(id, 1));
    ASSERT_LE(cache.page_count(), 16u);
    if (id % 3 == 0) {
      ASSERT_TRUE(cache.Get(id - 1).ok());
      ASSERT_LE(cache.page_count(), 16u);
    }
  }
  EXPECT_EQ(cache.page_count(), 16u);
  // Every evicted page was dirty, so written in place; none synced.
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kWrite), 10u * 16 - 16);
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kSync), 0u);
}

TEST(PageCacheTest, EvictsTheLeastRecentlyUsed) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  for (PageId id = 0; id < 16; ++id) ASSERT_TRUE(cache.Get(id).ok());
  EXPECT_EQ(cache.misses(), 16u);
  ASSERT_TRUE(cache.Get(0).ok());  // now 1 is the least recently used
  EXPECT_EQ(cache.hits(), 1u);
  ASSERT_TRUE(cache.Get(16).ok());  // evicts 1
  ASSERT_TRUE(cache.Get(0).ok());
  EXPECT_EQ(cache.hits(), 2u);
  ASSERT_TRUE(cache.Get(2).ok());
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 17u);
  ASSERT_TRUE(cache.Get(1).ok());  // gone: a miss, which evicts 3
  EXPECT_EQ(cache.misses(), 18u);
  ASSERT_TRUE(cache.Get(3).ok());
  EXPECT_EQ(cache.misses(), 19u);
  EXPECT_EQ(cache.page_count(), 16u);
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kWrite), 0u);  // clean pages leave without a write
}

TEST(PageCacheTest, DirtyVictimIsWrittenInPlaceAndReadBack) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  for (PageId id = 2; id < 18; ++id) cache.Put(id, MakePage(id, 7));
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kWrite), 0u);
  EXPECT_EQ(cache.dirty_count(), 16u);

  cache.Put(18, MakePage(18, 7));  // evicts page 2, dirty
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kWrite), 1u);
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kSync), 0u);
  EXPECT_EQ(cache.dirty_count(), 16u);
  EXPECT_EQ(ReadFile(*disk.file, 2).bytes, MakePage(2, 7)->bytes);

  const uint64_t misses = cache.misses();
  auto got = cache.Get(2);  // from the file now
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(cache.misses(), misses + 1);
  EXPECT_EQ((*got)->bytes, MakePage(2, 7)->bytes);
}

TEST(PageCacheTest, FlushDirtyWritesEveryDirtyPageInPlace) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  for (PageId id : {9, 3, 5, 4, 2}) cache.Put(id, MakePage(id, 1));
  ASSERT_TRUE(cache.Get(20).ok());  // clean: not written
  cache.Put(5, MakePage(5, 2));     // the newest image is what gets written
  EXPECT_EQ(cache.dirty_count(), 5u);

  ASSERT_TRUE(cache.FlushDirty().ok());
  EXPECT_EQ(cache.dirty_count(), 0u);
  EXPECT_EQ(cache.page_count(), 6u);  // still cached, now clean
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kSync), 0u);
  std::vector<uint64_t> offsets;
  for (const vfs::IoEvent& e : disk.sim.events()) {
    if (e.kind == vfs::IoKind::kWrite) offsets.push_back(e.offset);
  }
  EXPECT_EQ(offsets, (std::vector<uint64_t>{2 * kPageSize, 3 * kPageSize, 4 * kPageSize,
                                            5 * kPageSize, 9 * kPageSize}));
  for (PageId id : {2, 3, 4, 9}) EXPECT_EQ(ReadFile(*disk.file, id).bytes, MakePage(id, 1)->bytes);
  EXPECT_EQ(ReadFile(*disk.file, 5).bytes, MakePage(5, 2)->bytes);

  ASSERT_TRUE(cache.FlushDirty().ok());  // nothing left to write
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kWrite), 5u);
}

TEST(PageCacheTest, DroppedPageIsForgottenAndNotWritten) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  cache.Put(3, MakePage(3, 1));
  cache.Put(4, MakePage(4, 1));
  cache.Drop(3);
  cache.Drop(77);  // not cached: nothing to do
  EXPECT_EQ(cache.page_count(), 1u);
  EXPECT_EQ(cache.dirty_count(), 1u);
  ASSERT_TRUE(cache.FlushDirty().ok());
  EXPECT_EQ(disk.sim.count(vfs::IoKind::kWrite), 1u);  // page 4 only

  auto got = cache.Get(3);  // never written: a miss that finds a zero-filled gap
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  cache.Drop(4);
  got = cache.Get(4);
  ASSERT_TRUE(got.ok());  // from the file again
  EXPECT_EQ((*got)->bytes, MakePage(4, 1)->bytes);
}

TEST(PageCacheTest, DamagedPageIsDataLossAndNotCached) {
  Disk disk;
  ASSERT_TRUE(disk.file->Write(2, *MakePage(2, 1)).ok());
  ASSERT_TRUE(disk.file->WriteAt(2 * kPageSize + 2000, "garbage").ok());
  PageCache cache(disk.file.get(), kSmall);
  auto got = cache.Get(2);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_NE(got.status().message().find("page 2"), absl::string_view::npos) << got.status();
  EXPECT_EQ(cache.page_count(), 0u);
  got = cache.Get(2);  // asks the file again
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(PageCacheTest, ReaderKeepsTheImageItHolds) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  cache.Put(2, MakePage(2, 1));
  auto old_image = cache.Get(2);
  ASSERT_TRUE(old_image.ok());
  cache.Put(2, MakePage(2, 2));
  auto new_image = cache.Get(2);
  ASSERT_TRUE(new_image.ok());
  EXPECT_EQ((*old_image)->bytes, MakePage(2, 1)->bytes);
  EXPECT_EQ((*new_image)->bytes, MakePage(2, 2)->bytes);

  // Eviction and Drop do not disturb a held image either.
  for (PageId id = 3; id < 40; ++id) cache.Put(id, MakePage(id, 1));
  cache.Drop(2);
  EXPECT_EQ((*old_image)->bytes, MakePage(2, 1)->bytes);
  EXPECT_EQ((*new_image)->bytes, MakePage(2, 2)->bytes);
}

TEST(PageCacheTest, FailedEvictionWriteKeepsThePageAndIsReported) {
  Disk disk;
  PageCache cache(disk.file.get(), kSmall);
  for (PageId id = 2; id < 18; ++id) cache.Put(id, MakePage(id, 1));
  disk.sim.InjectFault(vfs::IoKind::kWrite, 1, EIO, /*persistent=*/false);
  cache.Put(18, MakePage(18, 1));  // the victim's write fails: it stays
  EXPECT_EQ(cache.page_count(), 17u);
  EXPECT_EQ(cache.dirty_count(), 17u);

  const absl::Status flushed = cache.FlushDirty();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kDataLoss) << flushed;
  EXPECT_EQ(flushed, disk.file->failed());
  EXPECT_EQ(cache.dirty_count(), 17u);

  // Reads still work: the kept page from the cache, new ones from the file, and clean pages
  // still leave, so the cache grows no further.
  auto got = cache.Get(2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->bytes, MakePage(2, 1)->bytes);
  for (PageId id = 100; id < 110; ++id) ASSERT_TRUE(cache.Get(id).ok());
  EXPECT_EQ(cache.page_count(), 17u);
  EXPECT_EQ(cache.FlushDirty(), flushed);
}

// Four threads Get and Put a small range of pages through a cache much smaller than the range,
// so misses, replacements and dirty evictions interleave. Every image a reader gets must be a
// whole page of the id it asked for, and must stay so while it holds it. Meant for --config=tsan
// as much as for the checks.
TEST(PageCacheTest, ConcurrentGetAndPut) {
  const uint64_t seed = persy::testing::TestSeed();
  constexpr PageId kFirst = 2;
  constexpr PageId kPages = 48;
  constexpr int kThreads = 4;
  constexpr int kOps = 4000;

  Disk disk;
  disk.sim.set_record_events(false);
  for (PageId id = kFirst; id < kFirst + kPages; ++id) {
    ASSERT_TRUE(disk.file->Write(id, *MakePage(id, 0)).ok());
  }
  ASSERT_TRUE(disk.file->Sync().ok());
  PageCache cache(disk.file.get(), kSmall);

  std::vector<std::atomic<uint64_t>> versions(kFirst + kPages);
  std::atomic<int> bad{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
      std::vector<std::pair<PageId, std::shared_ptr<const PageBuf>>> held;
      for (int op = 0; op < kOps; ++op) {
        const PageId id = kFirst + rng() % kPages;
        if (rng() % 2 == 0) {
          cache.Put(id, MakePage(id, ++versions[id]));
          continue;
        }
        absl::StatusOr<std::shared_ptr<const PageBuf>> got = cache.Get(id);
        if (!got.ok()) {
          ++errors;
          continue;
        }
        if (!WellFormed(id, **got)) ++bad;
        if (rng() % 8 == 0) held.emplace_back(id, *std::move(got));
      }
      for (const auto& [id, image] : held) {
        if (!WellFormed(id, *image)) ++bad;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LE(cache.page_count(), 16u);

  // What the cache holds is what the file holds once flushed.
  ASSERT_TRUE(cache.FlushDirty().ok());
  for (PageId id = kFirst; id < kFirst + kPages; ++id) {
    auto got = cache.Get(id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(WellFormed(id, **got)) << "page " << id;
    EXPECT_EQ((*got)->bytes, ReadFile(*disk.file, id).bytes) << "page " << id;
  }
}

}  // namespace
}  // namespace persy::internal
