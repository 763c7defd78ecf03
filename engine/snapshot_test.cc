// Tests of snapshots over the simulated disk: a snapshot reads the committed state of the moment
// it was taken (records, scans, segments, indexes) while commits go on; old versions are kept
// only while a snapshot needs them, so that the file does not grow without bound under
// continuous writes with snapshots opened and closed; snapshots under concurrent writers (run
// under TSan by tools/test.sh).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/persy.h"
#include "engine/test_util.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

using ::persy::testing::FileSize;
using ::persy::testing::MustBegin;
using ::persy::testing::MustCreate;
using vfs::SimVfs;

constexpr char kPath[] = "/db/snapshot.persy";

// Everything a reader can see: every segment's records and every index's entries.
struct View {
  std::map<std::string, std::map<RecordId, std::string>> segments;
  std::map<std::string, std::vector<std::pair<uint64_t, std::vector<std::string>>>> indexes;
  friend bool operator==(const View&, const View&) = default;
};

template <typename Reader>
View ViewOf(Reader& reader) {
  View view;
  auto segments = reader.ListSegments();
  EXPECT_OK(segments);
  for (const SegmentInfo& info : *segments) {
    auto& records = view.segments[info.name];
    EXPECT_OK(reader.Scan(info.name, [&](RecordId id, std::string_view bytes) {
      records.emplace(id, std::string(bytes));
      return true;
    }));
    for (const auto& [id, bytes] : records) {
      auto read = reader.Read(info.name, id);
      EXPECT_OK(read);
      EXPECT_EQ(read.ok() ? *read : std::nullopt, bytes);
    }
    EXPECT_TRUE(*reader.ExistsSegment(info.name));
  }
  auto indexes = reader.ListIndexes();
  EXPECT_OK(indexes);
  for (const IndexInfo& info : *indexes) {
    auto& entries = view.indexes[info.name];
    EXPECT_OK((reader.template Range<uint64_t, std::string>(
        info.name, IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward,
        [&](const uint64_t& key, const std::vector<std::string>& values) {
          entries.emplace_back(key, values);
          return true;
        })));
    for (const auto& [key, values] : entries) {
      auto got = reader.template Get<uint64_t, std::string>(info.name, key);
      EXPECT_OK(got);
      EXPECT_EQ(got.ok() ? *got : std::vector<std::string>(), values);
    }
  }
  return view;
}

// One random transaction: inserts (some records big enough to take several pages), updates and
// deletes in segments "a" and "b", puts and removes in index "i", and now and then a segment or
// index dropped and created again.
void RandomCommit(Persy& db, std::mt19937_64& rng) {
  auto tx = MustBegin(db);
  const int ops = 1 + rng() % 8;
  for (int op = 0; op < ops; ++op) {
    const std::string segment = rng() % 2 == 0 ? "a" : "b";
    std::vector<RecordId> ids;
    ASSERT_OK(tx->Scan(segment, [&](RecordId id, std::string_view) {
      ids.push_back(id);
      return true;
    }));
    const int kind = rng() % 10;
    const size_t size = rng() % 5 == 0 ? 5000 + rng() % 20000 : rng() % 300;
    const std::string bytes(size, static_cast<char>('a' + rng() % 26));
    if (kind < 4 || ids.empty()) {
      ASSERT_OK(tx->Insert(segment, bytes));
    } else if (kind < 6) {
      ASSERT_OK(tx->Update(segment, ids[rng() % ids.size()], bytes));
    } else if (kind < 8) {
      ASSERT_OK(tx->Delete(segment, ids[rng() % ids.size()]));
    } else {
      const uint64_t key = rng() % 2000;
      if (rng() % 3 == 0) {
        ASSERT_OK(tx->Remove("i", key));
      } else {
        ASSERT_OK(tx->Put<uint64_t, std::string>("i", key, std::string(rng() % 200, 'v')));
      }
    }
  }
  ASSERT_OK(tx->Commit());
  if (rng() % 40 == 0) {
    // Drop a segment with its records and make it again: frees many pages at once.
    auto drop = MustBegin(db);
    ASSERT_OK(drop->DropSegment("b"));
    ASSERT_OK(drop->Commit());
    auto create = MustBegin(db);
    ASSERT_OK(create->CreateSegment("b"));
    ASSERT_OK(create->Commit());
  }
}

std::unique_ptr<Persy> CreateDatabase(SimVfs& sim, const Config& config = Config()) {
  auto db = MustCreate(sim, kPath, config);
  auto tx = MustBegin(*db);
  EXPECT_OK(tx->CreateSegment("a"));
  EXPECT_OK(tx->CreateSegment("b"));
  EXPECT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kReplace));
  EXPECT_OK(tx->Commit());
  return db;
}

TEST(SnapshotTest, ReadsTheStateOfItsMomentWhileCommitsGoOn) {
  SimVfs sim(1);
  auto db = CreateDatabase(sim);
  RecordId kept;
  RecordId deleted;
  {
    auto tx = MustBegin(*db);
    kept = *tx->Insert("a", "old");
    deleted = *tx->Insert("a", std::string(9000, 'd'));
    ASSERT_OK(tx->Put<uint64_t, std::string>("i", 1, "one"));
    ASSERT_OK(tx->Commit());
  }
  auto snapshot = db->TakeSnapshot();
  ASSERT_OK(snapshot);
  const View before = ViewOf(**snapshot);
  {
    auto tx = MustBegin(*db);
    ASSERT_OK(tx->Update("a", kept, std::string(7000, 'n')));
    ASSERT_OK(tx->Delete("a", deleted));
    ASSERT_OK(tx->Insert("a", "new").status());
    ASSERT_OK(tx->Put<uint64_t, std::string>("i", 1, "uno"));
    ASSERT_OK(tx->Put<uint64_t, std::string>("i", 2, "two"));
    ASSERT_OK(tx->DropSegment("b"));
    ASSERT_OK(tx->CreateSegment("c"));
    ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("j", ValueMode::kCluster));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(ViewOf(**snapshot), before);
  EXPECT_EQ(*(*snapshot)->Read("a", kept), "old");
  EXPECT_EQ(*(*snapshot)->Read("a", deleted), std::string(9000, 'd'));
  EXPECT_TRUE(*(*snapshot)->ExistsSegment("b"));
  EXPECT_FALSE(*(*snapshot)->ExistsSegment("c"));
  EXPECT_FALSE(*(*snapshot)->ExistsIndex("j"));
  EXPECT_ERR(Error::kSegmentNotFound, (*snapshot)->Read("c", kept));
  EXPECT_EQ(*db->Read("a", kept), std::string(7000, 'n'));
  EXPECT_NE(ViewOf(*db), before);
  ASSERT_OK(db->CheckIntegrity());
  snapshot->reset();
  ASSERT_OK(db->CheckIntegrity());
}

// Snapshots taken at many points of a random workload, released in random order, each checked
// against what it saw when taken, after every commit.
TEST(SnapshotTest, ManySnapshotsStayStableUnderRandomCommits) {
  const uint64_t seed = persy::testing::TestSeed();
  SimVfs sim(seed);
  Config config;
  config.cache_size_bytes = 256 << 10;  // small: kept pages are read back from the file
  config.checkpoint_journal_bytes = 256 << 10;
  auto db = CreateDatabase(sim, config);
  std::mt19937_64 rng(seed);
  struct Taken {
    std::unique_ptr<Snapshot> snapshot;
    View view;
  };
  std::vector<Taken> live;
  for (int step = 0; step < 300; ++step) {
    RandomCommit(*db, rng);
    if (::testing::Test::HasFatalFailure()) return;
    if (rng() % 10 == 0) {
      auto snapshot = db->TakeSnapshot();
      ASSERT_OK(snapshot);
      View view = ViewOf(**snapshot);
      EXPECT_EQ(view, ViewOf(*db)) << "step " << step;
      live.push_back(Taken{std::move(*snapshot), std::move(view)});
    }
    if (!live.empty() && rng() % 14 == 0) live.erase(live.begin() + rng() % live.size());
    if (step % 25 == 0) {
      for (Taken& t : live) ASSERT_EQ(ViewOf(*t.snapshot), t.view) << "step " << step;
      ASSERT_OK(db->CheckIntegrity()) << "step " << step;
    }
  }
  for (Taken& t : live) ASSERT_EQ(ViewOf(*t.snapshot), t.view);
  live.clear();
  ASSERT_OK(db->CheckIntegrity());
}

// Continuous writes with snapshots opened and closed: the file stays within a bound, because
// the pages commits free are reused once no snapshot can read them. A snapshot held through the
// writes makes the file grow; once released, the space is reused and the file shrinks back.
TEST(SnapshotTest, FileDoesNotGrowWithoutBound) {
  const uint64_t seed = persy::testing::TestSeed();
  SimVfs sim(seed);
  Config config;
  config.checkpoint_journal_bytes = 256 << 10;
  auto db = CreateDatabase(sim, config);
  std::vector<RecordId> ids;
  {
    auto tx = MustBegin(*db);
    for (int i = 0; i < 50; ++i) ids.push_back(*tx->Insert("a", std::string(3000, 'x')));
    ASSERT_OK(tx->Commit());
  }
  std::mt19937_64 rng(seed);
  // Every commit rewrites records (a data page freed and another allocated each time).
  auto rewrite = [&](int commits) {
    for (int c = 0; c < commits; ++c) {
      auto tx = MustBegin(*db);
      for (int k = 0; k < 5; ++k) {
        ASSERT_OK(tx->Update("a", ids[rng() % ids.size()],
                             std::string(2000 + rng() % 6000, 'a' + c % 26)));
      }
      ASSERT_OK(tx->Commit());
    }
  };
  std::vector<uint64_t> sizes;
  for (int round = 0; round < 40; ++round) {
    auto snapshot = db->TakeSnapshot();
    ASSERT_OK(snapshot);
    const View view = ViewOf(**snapshot);
    rewrite(10);
    ASSERT_EQ(ViewOf(**snapshot), view);
    snapshot->reset();
    rewrite(2);  // commits release the kept pages
    sizes.push_back(FileSize(sim, kPath));
  }
  // After a warm-up the size stays put: the last rounds are no bigger than round 10's by more
  // than a little (journal placement varies).
  const uint64_t settled = sizes[9];
  for (size_t round = 10; round < sizes.size(); ++round) {
    EXPECT_LE(sizes[round], settled + 64 * 4096) << "round " << round;
  }
  // A snapshot held through 200 commits keeps what they free: the file grows. Once it is
  // released, that space is reused: more rounds of writes and snapshots do not grow the file
  // past what it reached. (It need not shrink: records written at the end of the file while
  // the snapshot was held stay there until they move.)
  auto held = db->TakeSnapshot();
  ASSERT_OK(held);
  const View view = ViewOf(**held);
  rewrite(200);
  const uint64_t grown = FileSize(sim, kPath);
  EXPECT_GT(grown, settled + 100 * 4096);
  EXPECT_EQ(ViewOf(**held), view);
  held->reset();
  uint64_t largest_after = 0;
  for (int round = 0; round < 20; ++round) {
    auto snapshot = db->TakeSnapshot();
    ASSERT_OK(snapshot);
    rewrite(10);
    snapshot->reset();
    rewrite(2);
    largest_after = std::max(largest_after, FileSize(sim, kPath));
  }
  EXPECT_LE(largest_after, grown + 64 * 4096);
  std::printf("file size: settled %llu, with a held snapshot %llu, largest after release %llu\n",
              static_cast<unsigned long long>(settled), static_cast<unsigned long long>(grown),
              static_cast<unsigned long long>(largest_after));
}

// A snapshot does not outlive a crash; the pages it kept are free space after recovery.
TEST(SnapshotTest, KeptPagesAreFreeAfterACrash) {
  SimVfs sim(4);
  auto db = CreateDatabase(sim);
  std::mt19937_64 rng(4);
  for (int i = 0; i < 30; ++i) RandomCommit(*db, rng);
  auto snapshot = db->TakeSnapshot();
  ASSERT_OK(snapshot);
  for (int i = 0; i < 60; ++i) RandomCommit(*db, rng);
  const View committed = ViewOf(*db);
  sim.Crash();
  snapshot->reset();
  db.reset();
  auto reopened = Persy::Open(kPath, Config(), &sim);
  ASSERT_OK(reopened);
  EXPECT_EQ(ViewOf(**reopened), committed);
  ASSERT_OK((*reopened)->CheckIntegrity());
}

// Writers commit while readers take snapshots, read them twice with commits in between, and
// compare: a snapshot never changes. Run under TSan by tools/test.sh.
TEST(SnapshotTest, StableUnderConcurrentWriters) {
  const uint64_t seed = persy::testing::TestSeed();
  SimVfs sim(seed);
  auto db = CreateDatabase(sim);
  constexpr int kWriters = 3;
  {
    auto tx = MustBegin(*db);
    for (int w = 0; w < kWriters; ++w) ASSERT_OK(tx->CreateSegment(absl::StrCat("w", w)));
    ASSERT_OK(tx->Commit());
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  // Each writer has its own segment and keys, so that its commits never conflict.
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937_64 rng(seed + w);
      const std::string segment = absl::StrCat("w", w);
      std::vector<RecordId> ids;
      while (!stop.load()) {
        auto tx = MustBegin(*db);
        for (int op = 0; op < 4; ++op) {
          const std::string bytes(rng() % 4 == 0 ? 6000 : rng() % 200, 'a' + rng() % 26);
          if (ids.empty() || rng() % 3 == 0) {
            auto id = tx->Insert(segment, bytes);
            ASSERT_OK(id);
            ids.push_back(*id);
          } else if (rng() % 2 == 0) {
            ASSERT_OK(tx->Update(segment, ids[rng() % ids.size()], bytes));
          } else {
            const size_t at = rng() % ids.size();
            ASSERT_OK(tx->Delete(segment, ids[at]));
            ids.erase(ids.begin() + at);
          }
          ASSERT_OK(tx->Put<uint64_t, std::string>("i", w * 100000 + rng() % 3000, bytes.substr(0, 100)));
        }
        ASSERT_OK(tx->Commit());
      }
    });
  }
  std::vector<std::thread> readers;
  std::atomic<int> checked{0};
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      for (int i = 0; i < 15; ++i) {
        auto snapshot = db->TakeSnapshot();
        ASSERT_OK(snapshot);
        const View first = ViewOf(**snapshot);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ASSERT_EQ(ViewOf(**snapshot), first);
        ++checked;
      }
    });
  }
  for (std::thread& t : readers) t.join();
  stop = true;
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(checked.load(), 30);
  ASSERT_OK(db->CheckIntegrity());
}

}  // namespace
}  // namespace persy
