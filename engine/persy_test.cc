// Tests of the public API over the simulated disk: semantics, errors, durability, recovery.

#include "engine/persy.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/internal/page.h"
#include "tools/status_test_util.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

using vfs::IoKind;
using vfs::SimDamage;
using vfs::SimVfs;

constexpr char kPath[] = "/db/test.persy";

std::unique_ptr<Persy> MustCreate(SimVfs& sim, const Config& config = Config()) {
  auto db = Persy::Create(kPath, config, &sim);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

std::unique_ptr<Persy> MustOpen(SimVfs& sim, const Config& config = Config()) {
  auto db = Persy::Open(kPath, config, &sim);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

std::unique_ptr<Transaction> MustBegin(Persy& db, const TxOptions& options = TxOptions()) {
  auto tx = db.Begin(options);
  EXPECT_TRUE(tx.ok()) << tx.status();
  return std::move(*tx);
}

// Every record of `segment`, in scan order.
std::map<RecordId, std::string> Dump(Persy& db, std::string_view segment) {
  std::map<RecordId, std::string> out;
  RecordId last;
  absl::Status s = db.Scan(segment, [&](RecordId id, std::string_view bytes) {
    EXPECT_LT(last, id);
    last = id;
    out.emplace(id, std::string(bytes));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::string Bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(PersyTest, CreateInsertCommitReadReopen) {
  SimVfs sim(1);
  RecordId id;
  {
    auto db = MustCreate(sim);
    auto tx = MustBegin(*db);
    ASSERT_OK(tx->CreateSegment("users"));
    auto inserted = tx->Insert("users", "alice");
    ASSERT_TRUE(inserted.ok()) << inserted.status();
    id = *inserted;
    EXPECT_EQ(*tx->Read("users", id), "alice");       // own write
    EXPECT_EQ(db->Read("users", id).status().code(),  // not committed: no segment yet
              absl::StatusCode::kNotFound);
    ASSERT_OK(tx->Commit());
    EXPECT_EQ(*db->Read("users", id), "alice");
    ASSERT_OK(db->Close());
  }
  auto db = MustOpen(sim);
  EXPECT_EQ(*db->Read("users", id), "alice");
  EXPECT_EQ(*db->ListSegments(), (std::vector<SegmentInfo>{{"users", id.segment()}}));
}

TEST(PersyTest, UpdateDeleteScan) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  std::vector<RecordId> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(*tx->Insert("s", "v" + std::to_string(i)));
  ASSERT_OK(tx->Commit());
  tx = MustBegin(*db);
  ASSERT_OK(tx->Update("s", ids[3], "three"));
  ASSERT_OK(tx->Delete("s", ids[5]));
  RecordId added = *tx->Insert("s", "added");
  std::vector<std::string> seen;
  ASSERT_OK(tx->Scan("s", [&](RecordId, std::string_view b) {
    seen.emplace_back(b);
    return true;
  }));
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen[3], "three");
  EXPECT_EQ(seen.back(), "added");
  EXPECT_EQ(Dump(*db, "s").size(), 10u);  // nothing visible outside yet
  ASSERT_OK(tx->Commit());
  auto all = Dump(*db, "s");
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(all[ids[3]], "three");
  EXPECT_EQ(all.count(ids[5]), 0u);
  EXPECT_EQ(all[added], "added");
  EXPECT_FALSE(db->Read("s", ids[5])->has_value());
}

TEST(PersyTest, ErrorsOfTransactionCalls) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  EXPECT_EQ(ErrorOf(tx->CreateSegment("")), Error::kInvalidArgument);
  EXPECT_EQ(ErrorOf(tx->CreateSegment(std::string(256, 'x'))), Error::kInvalidArgument);
  ASSERT_OK(tx->CreateSegment("a"));
  EXPECT_EQ(ErrorOf(tx->CreateSegment("a")), Error::kSegmentAlreadyExists);
  EXPECT_EQ(ErrorOf(tx->DropSegment("a")), Error::kCannotDropSegmentCreatedInTx);
  EXPECT_EQ(ErrorOf(tx->DropSegment("nope")), Error::kSegmentNotFound);
  EXPECT_EQ(ErrorOf(tx->Insert("nope", "x").status()), Error::kSegmentNotFound);
  RecordId id = *tx->Insert("a", "x");
  ASSERT_OK(tx->CreateSegment("b"));
  RecordId other = *tx->Insert("b", "y");
  EXPECT_EQ(ErrorOf(tx->Update("a", other, "z")), Error::kInvalidId);
  EXPECT_EQ(ErrorOf(tx->Read("a", other).status()), Error::kInvalidId);
  EXPECT_EQ(ErrorOf(tx->Update("a", RecordId(id.segment(), 999), "z")), Error::kRecordNotFound);
  EXPECT_EQ(ErrorOf(tx->Delete("a", RecordId(id.segment(), 999))), Error::kRecordNotFound);
  EXPECT_FALSE(tx->Read("a", RecordId(id.segment(), 999))->has_value());
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(ErrorOf(tx->Insert("a", "x").status()), Error::kTransactionFinished);
  EXPECT_EQ(ErrorOf(tx->Commit()), Error::kTransactionFinished);
  EXPECT_EQ(ErrorOf(tx->Rollback()), Error::kTransactionFinished);
  TxOptions long_id;
  long_id.transaction_id = std::string(513, 't');
  EXPECT_EQ(ErrorOf(db->Begin(long_id).status()), Error::kInvalidArgument);
  EXPECT_EQ(ErrorOf(db->Read("nope", id).status()), Error::kSegmentNotFound);
  EXPECT_EQ(ErrorOf(db->Scan("nope", [](RecordId, std::string_view) { return true; })),
            Error::kSegmentNotFound);
}

TEST(PersyTest, RecordTooBig) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("a"));
  const std::string huge(kMaxRecordSize + 1, 'x');
  EXPECT_EQ(ErrorOf(tx->Insert("a", huge).status()), Error::kRecordTooBig);
  RecordId id = *tx->Insert("a", "small");
  EXPECT_EQ(ErrorOf(tx->Update("a", id, huge)), Error::kRecordTooBig);
}

TEST(PersyTest, ErrorsOfOpenAndCreate) {
  SimVfs sim(1);
  EXPECT_EQ(ErrorOf(Persy::Open(kPath, Config(), &sim).status()), Error::kFileNotFound);
  auto db = MustCreate(sim);
  EXPECT_EQ(ErrorOf(Persy::Create(kPath, Config(), &sim).status()), Error::kFileAlreadyExists);
  EXPECT_EQ(ErrorOf(Persy::Open(kPath, Config(), &sim).status()), Error::kAlreadyInUse);
  db.reset();
  EXPECT_TRUE(Persy::Open(kPath, Config(), &sim).ok());

  auto junk = sim.Create("/db/junk");
  ASSERT_TRUE(junk.ok());
  ASSERT_OK((*junk)->WriteAt(0, std::string(10000, 'j')));
  junk->reset();
  EXPECT_EQ(ErrorOf(Persy::Open("/db/junk", Config(), &sim).status()), Error::kNotPersyFile);
  ASSERT_TRUE(sim.Create("/db/empty").ok());
  EXPECT_EQ(ErrorOf(Persy::Open("/db/empty", Config(), &sim).status()), Error::kNotPersyFile);
}

// A disk that goes off during Open, at each of its I/O events in turn, fails it with Io: never
// with AlreadyInUse (the lock's call cut short) or NotPersyFile (the header's read cut short).
TEST(PersyTest, OpenCutShortByPowerLossIsAnIoError) {
  SimVfs sim(1);
  RecordId id;
  {
    auto db = MustCreate(sim);
    ASSERT_NE(db, nullptr);
    auto tx = db->Begin();
    ASSERT_OK(tx);
    ASSERT_OK((*tx)->CreateSegment("s"));
    auto inserted = (*tx)->Insert("s", "one");
    ASSERT_OK(inserted);
    id = *inserted;
    ASSERT_OK((*tx)->Commit());
    ASSERT_OK(db->Close());
  }
  int cut_short = 0;
  for (uint64_t k = 1;; ++k) {
    sim.Crash();
    sim.PowerOffAfter(k);
    auto db = Persy::Open(kPath, Config(), &sim);
    if (!sim.powered_off()) {  // Open needs fewer than k events: every cut has been tried
      sim.PowerOffAfter(std::nullopt);
      ASSERT_OK(db) << "power off after " << k << " events";
      ASSERT_OK((*db)->Close());
      break;
    }
    ++cut_short;
    // The power went off within Open, or just after its last event (then it succeeded).
    if (!db.ok()) {
      EXPECT_EQ(ErrorOf(db.status()), Error::kIo) << "power off after " << k << ": " << db.status();
    }
  }
  EXPECT_GE(cut_short, 3) << "Open does a lock, a header read and a checkpoint at least";
  auto db = MustOpen(sim);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(*db->Read("s", id), "one");
}

TEST(PersyTest, OpenOrCreateRunsInitOnce) {
  SimVfs sim(1);
  int runs = 0;
  auto init = [&](Transaction& tx) {
    ++runs;
    return tx.CreateSegment("init");
  };
  for (int i = 0; i < 3; ++i) {
    auto db = Persy::OpenOrCreate(kPath, Config(), init, &sim);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_TRUE(*(*db)->ExistsSegment("init"));
  }
  EXPECT_EQ(runs, 1);
  auto failed = Persy::OpenOrCreate("/db/other", Config(),
                                    [](Transaction&) { return absl::InternalError("no"); }, &sim);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(*sim.Exists("/db/other"));
}

TEST(PersyTest, InMemory) {
  auto db = Persy::OpenInMemory();
  ASSERT_TRUE(db.ok()) << db.status();
  auto tx = MustBegin(**db);
  ASSERT_OK(tx->CreateSegment("m"));
  RecordId id = *tx->Insert("m", "memory");
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(*(*db)->Read("m", id), "memory");
}

TEST(PersyTest, OneSyncPerCommit) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  ASSERT_OK(tx->Commit());
  for (int i = 0; i < 20; ++i) {
    tx = MustBegin(*db);
    ASSERT_OK(tx->Insert("s", Bytes(100 + i * 500, i)).status());
    const uint64_t before = sim.count(IoKind::kSync);
    ASSERT_OK(tx->Commit());
    EXPECT_EQ(sim.count(IoKind::kSync) - before, 1u) << "commit " << i;
  }
}

TEST(PersyTest, UncommittedIsInvisibleAndRollbackDiscards) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto setup = MustBegin(*db);
  ASSERT_OK(setup->CreateSegment("s"));
  RecordId id = *setup->Insert("s", "committed");
  ASSERT_OK(setup->Commit());
  auto writer = MustBegin(*db);
  auto reader = MustBegin(*db);
  ASSERT_OK(writer->Update("s", id, "dirty"));
  EXPECT_EQ(*reader->Read("s", id), "committed");
  EXPECT_EQ(*db->Read("s", id), "committed");
  ASSERT_OK(writer->Rollback());
  EXPECT_EQ(*db->Read("s", id), "committed");
  auto second = MustBegin(*db);
  ASSERT_OK(second->Update("s", id, "new"));
  ASSERT_OK(second->Commit());
  EXPECT_EQ(*reader->Read("s", id), "new");  // read committed: sees the newer commit
}

TEST(PersyTest, BigRecords) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("big"));
  std::map<RecordId, std::string> expected;
  for (size_t size : {0ul, 1ul, 2000ul, 2001ul, 4096ul, 100000ul, 5000000ul}) {
    std::string bytes = Bytes(size, size);
    expected[*tx->Insert("big", bytes)] = bytes;
  }
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(Dump(*db, "big"), expected);
  tx = MustBegin(*db);
  for (auto& [id, bytes] : expected) {
    bytes = Bytes(bytes.size() / 2 + 3000, bytes.size());
    ASSERT_OK(tx->Update("big", id, bytes));
  }
  ASSERT_OK(tx->Commit());
  db.reset();
  db = MustOpen(sim);
  EXPECT_EQ(Dump(*db, "big"), expected);
  ASSERT_OK(db->CheckIntegrity());
}

// A database many times the cache: data lives on disk, not in memory.
TEST(PersyTest, DatabaseLargerThanCache) {
  SimVfs sim(1);
  sim.set_record_events(false);
  Config config;
  config.cache_size_bytes = 64 << 10;  // 16 pages
  auto db = MustCreate(sim, config);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  ASSERT_OK(tx->Commit());
  std::map<RecordId, std::string> expected;
  for (int batch = 0; batch < 20; ++batch) {
    tx = MustBegin(*db);
    for (int i = 0; i < 200; ++i) {
      std::string bytes = Bytes(300, batch * 1000 + i);
      expected[*tx->Insert("s", bytes)] = bytes;
    }
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(Dump(*db, "s"), expected);  // ~1.2 MB through a 64 KiB cache
  db.reset();
  db = MustOpen(sim, config);
  EXPECT_EQ(Dump(*db, "s"), expected);
  ASSERT_OK(db->CheckIntegrity());
}

TEST(PersyTest, VersionStrategies) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto setup = MustBegin(*db);
  ASSERT_OK(setup->CreateSegment("s"));
  RecordId a = *setup->Insert("s", "a");
  RecordId b = *setup->Insert("s", "b");
  ASSERT_OK(setup->Commit());
  auto bump = [&](RecordId id) {
    auto tx = MustBegin(*db);
    ASSERT_OK(tx->Update("s", id, "bumped"));
    ASSERT_OK(tx->Commit());
  };
  for (TxStrategy strategy : {TxStrategy::kLastWriterWins, TxStrategy::kVersionOnWrite,
                              TxStrategy::kVersionOnRead}) {
    TxOptions options;
    options.strategy = strategy;
    // Write-write: another commit changes the record after we wrote it.
    auto tx = MustBegin(*db, options);
    ASSERT_OK(tx->Update("s", a, "mine"));
    bump(a);
    absl::Status ww = tx->Commit();
    EXPECT_EQ(ErrorOf(ww), strategy == TxStrategy::kLastWriterWins ? Error::kNone
                                                                  : Error::kVersionConflict);
    // Read-write: another commit changes a record we only read.
    tx = MustBegin(*db, options);
    ASSERT_TRUE(tx->Read("s", b).ok());
    ASSERT_OK(tx->Update("s", a, "mine"));
    bump(b);
    absl::Status rw = tx->Commit();
    EXPECT_EQ(ErrorOf(rw), strategy == TxStrategy::kVersionOnRead ? Error::kVersionConflict
                                                                  : Error::kNone);
  }
}

TEST(PersyTest, CommitChecksAgainstConcurrentCommits) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto setup = MustBegin(*db);
  ASSERT_OK(setup->CreateSegment("s"));
  RecordId id = *setup->Insert("s", "x");
  ASSERT_OK(setup->Commit());

  auto t1 = MustBegin(*db);
  auto t2 = MustBegin(*db);
  ASSERT_OK(t1->CreateSegment("new"));
  ASSERT_OK(t2->CreateSegment("new"));
  ASSERT_OK(t1->Commit());
  EXPECT_EQ(ErrorOf(t2->Commit()), Error::kSegmentAlreadyExists);

  t1 = MustBegin(*db);
  t2 = MustBegin(*db);
  ASSERT_OK(t1->Delete("s", id));
  ASSERT_OK(t2->Update("s", id, "y"));
  ASSERT_OK(t1->Commit());
  EXPECT_EQ(ErrorOf(t2->Commit()), Error::kRecordNotFound);

  t1 = MustBegin(*db);
  t2 = MustBegin(*db);
  ASSERT_OK(t1->DropSegment("s"));
  ASSERT_OK(t2->Insert("s", "z").status());
  ASSERT_OK(t1->Commit());
  EXPECT_EQ(ErrorOf(t2->Commit()), Error::kSegmentNotFound);
  EXPECT_FALSE(*db->ExistsSegment("s"));
}

// The integrity check finds a page the bitmap marks used that nothing uses (a leak), and a
// page that something uses but the bitmap marks free (a future double use).
TEST(PersyTest, IntegrityCheckFindsLeaksAndFreeUsedPages) {
  for (bool leak : {true, false}) {
    SimVfs sim(1);
    {
      auto db = MustCreate(sim);
      auto tx = MustBegin(*db);
      ASSERT_OK(tx->CreateSegment("s"));
      for (int i = 0; i < 10; ++i) ASSERT_OK(tx->Insert("s", Bytes(3000, i)).status());
      ASSERT_OK(tx->Commit());
      ASSERT_OK(db->CheckIntegrity());
      ASSERT_OK(db->Close());
    }
    // Change the bitmap of group 0 (page 2) and re-seal it, as a bug would, not as damage.
    auto raw = sim.Open(kPath);
    ASSERT_TRUE(raw.ok());
    internal::PageBuf bitmap;
    ASSERT_TRUE((*raw)->ReadAt(2 * internal::kPageSize, internal::kPageSize, bitmap.data()).ok());
    const uint64_t pages = *(*raw)->Size() / internal::kPageSize;
    uint64_t victim = 0;
    for (uint64_t id = 3; id < pages && victim == 0; ++id) {
      const bool used = (bitmap.body()[id / 8] >> (id % 8)) & 1;
      if (used != leak) victim = id;
    }
    ASSERT_NE(victim, 0u);
    bitmap.body()[victim / 8] = static_cast<char>(bitmap.body()[victim / 8] ^ (1 << (victim % 8)));
    internal::SealPage(2, internal::PageType::kBitmap, internal::LsnOf(bitmap), bitmap);
    ASSERT_OK((*raw)->WriteAt(2 * internal::kPageSize,
                              absl::string_view(bitmap.data(), internal::kPageSize)));
    ASSERT_OK((*raw)->Sync());
    raw->reset();
    auto db = Persy::Open(kPath, Config(), &sim);
    ASSERT_TRUE(db.ok()) << db.status();
    absl::Status check = (*db)->CheckIntegrity();
    EXPECT_EQ(ErrorOf(check), Error::kDataLoss) << (leak ? "leak: " : "free but used: ") << check;
    EXPECT_NE(check.message().find(absl::StrCat("page ", victim)), absl::string_view::npos)
        << check;
  }
}

TEST(PersyTest, IdsAreNeverReused) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  RecordId first = *tx->Insert("s", "1");
  ASSERT_OK(tx->Commit());
  tx = MustBegin(*db);
  ASSERT_OK(tx->Delete("s", first));
  ASSERT_OK(tx->Commit());
  db.reset();
  db = MustOpen(sim);
  tx = MustBegin(*db);
  RecordId second = *tx->Insert("s", "2");
  EXPECT_GT(second, first);
  ASSERT_OK(tx->Commit());
  EXPECT_FALSE(db->Read("s", first)->has_value());
}

// Freed space is reused: a steady workload of inserts and deletes does not grow the file, and
// deleting everything gives the space back.
TEST(PersyTest, SpaceIsReusedAndGivenBack) {
  SimVfs sim(1);
  sim.set_record_events(false);
  Config config;
  config.checkpoint_journal_bytes = 1 << 20;
  auto db = MustCreate(sim, config);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  ASSERT_OK(tx->Commit());
  uint64_t size_after_first_round = 0;
  for (int round = 0; round < 6; ++round) {
    std::vector<RecordId> ids;
    tx = MustBegin(*db);
    for (int i = 0; i < 300; ++i) ids.push_back(*tx->Insert("s", Bytes(1500, i)));
    ASSERT_OK(tx->Commit());
    tx = MustBegin(*db);
    for (RecordId id : ids) ASSERT_OK(tx->Delete("s", id));
    ASSERT_OK(tx->Commit());
    ASSERT_OK(db->Close());
    db.reset();
    db = MustOpen(sim, config);
    auto file = sim.Open(kPath);
    ASSERT_TRUE(file.ok());
    const uint64_t size = *(*file)->Size();
    if (round == 0) size_after_first_round = size;
    ASSERT_OK(db->CheckIntegrity());
    // The address table keeps one 16-byte entry per record number ever used: a few pages.
    EXPECT_LE(size, size_after_first_round + 8 * 4096) << "round " << round;
  }
  // 300 records of 1.5 KB took ~150 pages; deleted, they must not stay in the file.
  EXPECT_LT(size_after_first_round, 40u * 4096) << "deleted data was not given back";
}

// The file grows ahead of the journal, a run of pages at a time, without asking the file its
// size at each journal page (Engine::GrowForJournal says why), and keeps doing so after a
// checkpoint has given pages back.
TEST(PersyTest, JournalGrowsTheFileAheadWithoutAskingItsSize) {
  SimVfs sim(1);
  sim.set_record_events(false);
  Config config;
  config.checkpoint_journal_bytes = 32 << 10;
  auto db = MustCreate(sim, config);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  ASSERT_OK(tx->Commit());
  auto file_size = [&sim]() -> uint64_t {
    auto file = sim.Open(kPath);
    return file.ok() ? *(*file)->Size() : 0;
  };
  // A steady workload: each commit inserts a record and deletes the one of 20 commits before,
  // so that the data stays small and each checkpoint finds free pages to give back.
  std::vector<RecordId> ids;
  int plain = 0;        // commits that did not checkpoint: one sync
  int asked = 0;        // the file's size asked for in those
  int grew = 0;         // those that changed the file's size
  int truncations = 0;  // commits that checkpointed and gave pages back
  for (int i = 0; i < 1500; ++i) {
    const uint64_t size = file_size();
    const uint64_t syncs = sim.count(IoKind::kSync);
    const uint64_t sizes = sim.count(IoKind::kSize);
    const uint64_t truncates = sim.count(IoKind::kTruncate);
    tx = MustBegin(*db);
    auto id = tx->Insert("s", Bytes(100, i));
    ASSERT_OK(id.status());
    ids.push_back(*id);
    if (ids.size() > 20) {
      ASSERT_OK(tx->Delete("s", ids[ids.size() - 21]));
    }
    ASSERT_OK(tx->Commit());
    if (sim.count(IoKind::kTruncate) != truncates) ++truncations;
    if (sim.count(IoKind::kSync) - syncs != 1) continue;
    ++plain;
    asked += static_cast<int>(sim.count(IoKind::kSize) - sizes);
    if (file_size() != size) ++grew;
  }
  const std::string counts = absl::StrCat("of ", plain, " commits without a checkpoint, ", asked,
                                          " asked the size and ", grew, " grew the file; ",
                                          truncations, " checkpoints gave pages back");
  EXPECT_GE(truncations, 10) << counts;
  // The size is asked again only once a truncation has made the engine's bound of it unsure.
  EXPECT_LE(asked, truncations) << counts;
  // Each checkpoint starts a journal, whose first page grows the file by a run of 64 pages,
  // which outlasts the journal's 8 pages (32 KiB) before the next one: the commits between
  // never change the file's size, as an append past its end would.
  EXPECT_EQ(grew, 0) << counts;
  ASSERT_OK(db->CheckIntegrity());
}

}  // namespace
}  // namespace persy

namespace persy {
namespace {

// A Vfs that holds every Sync until released, to keep a commit inside its commit lock.
class HoldSyncVfs final : public vfs::Vfs {
 public:
  explicit HoldSyncVfs(vfs::Vfs* base) : base_(base) {}

  void Hold() {
    std::lock_guard<std::mutex> l(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> l(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }
  // Every Sync takes at least this long, as on a slow disk.
  void SetSyncDelay(std::chrono::microseconds delay) {
    std::lock_guard<std::mutex> l(mu_);
    delay_ = delay;
  }
  // Waits until a Sync is being held.
  void AwaitHeldSync() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return waiting_ > 0; });
  }

  absl::StatusOr<std::unique_ptr<vfs::File>> Create(const std::string& path) override {
    return Wrap(base_->Create(path));
  }
  absl::StatusOr<std::unique_ptr<vfs::File>> Open(const std::string& path) override {
    return Wrap(base_->Open(path));
  }
  absl::StatusOr<bool> Exists(const std::string& path) override { return base_->Exists(path); }
  absl::Status Remove(const std::string& path) override { return base_->Remove(path); }
  absl::Status RenameNoReplace(const std::string& from, const std::string& to) override {
    return base_->RenameNoReplace(from, to);
  }
  absl::StatusOr<bool> IsFileAt(vfs::File& file, const std::string& path) override {
    return base_->IsFileAt(static_cast<File&>(file).base(), path);
  }
  absl::Status SyncDir(const std::string& path) override { return base_->SyncDir(path); }

 private:
  class File final : public vfs::File {
   public:
    File(HoldSyncVfs* vfs, std::unique_ptr<vfs::File> base) : vfs_(vfs), base_(std::move(base)) {}
    vfs::File& base() { return *base_; }
    absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* dst) override {
      return base_->ReadAt(offset, n, dst);
    }
    absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
      return base_->WriteAt(offset, data);
    }
    absl::Status Sync() override {
      std::chrono::microseconds delay;
      {
        std::unique_lock<std::mutex> l(vfs_->mu_);
        ++vfs_->waiting_;
        vfs_->cv_.notify_all();
        vfs_->cv_.wait(l, [this] { return !vfs_->held_; });
        --vfs_->waiting_;
        delay = vfs_->delay_;
      }
      std::this_thread::sleep_for(delay);
      return base_->Sync();
    }
    absl::StatusOr<uint64_t> Size() override { return base_->Size(); }
    absl::Status Truncate(uint64_t size) override { return base_->Truncate(size); }
    absl::Status Lock() override { return base_->Lock(); }

   private:
    HoldSyncVfs* const vfs_;
    const std::unique_ptr<vfs::File> base_;
  };

  absl::StatusOr<std::unique_ptr<vfs::File>> Wrap(
      absl::StatusOr<std::unique_ptr<vfs::File>> file) {
    if (!file.ok()) return file.status();
    return std::unique_ptr<vfs::File>(new File(this, std::move(*file)));
  }

  vfs::Vfs* const base_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;  // GUARDED_BY(mu_)
  int waiting_ = 0;    // GUARDED_BY(mu_)
  std::chrono::microseconds delay_{0};  // GUARDED_BY(mu_)
};

// Group commit: commits from many threads share syncs, and each is validated against the
// commits before it in its group. On a disk whose sync takes 2 ms, 8 threads insert: far fewer
// syncs than commits, and every record is there after reopening. Then 8 threads increment one
// counter under kVersionOnRead, retrying on VersionConflict: the commits of one group all read
// the same value, so all but the first must fail their check against the group's earlier
// members; the counter must end at exactly the number of successful commits (no lost update).
// (kVersionOnWrite would not do: it checks the version from the update on, and a commit
// between a thread's read and its update is then, by its contract, not a conflict.)
TEST(PersyTest, GroupCommitSharesSyncsAndLosesNoUpdate) {
  SimVfs sim(1);
  HoldSyncVfs vfs(&sim);
  auto db = Persy::Create(kPath, Config(), &vfs);
  ASSERT_TRUE(db.ok()) << db.status();
  RecordId counter;
  {
    auto tx = MustBegin(**db);
    ASSERT_OK(tx->CreateSegment("s"));
    counter = *tx->Insert("s", "0");
    ASSERT_OK(tx->Commit());
  }
  vfs.SetSyncDelay(std::chrono::microseconds(2000));
  constexpr int kThreads = 8;
  constexpr int kCommits = 25;
  std::atomic<int> failures{0};
  const uint64_t syncs_before = sim.count(IoKind::kSync);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCommits; ++i) {
          auto tx = (*db)->Begin();
          if (!tx.ok() || !(*tx)->Insert("s", absl::StrCat("t", t, "-", i)).ok() ||
              !(*tx)->Commit().ok()) {
            ++failures;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  const uint64_t syncs = sim.count(IoKind::kSync) - syncs_before;
  EXPECT_EQ(failures.load(), 0);
  std::printf("group commit: %d commits took %llu syncs\n", kThreads * kCommits,
              static_cast<unsigned long long>(syncs));
  EXPECT_LT(syncs, uint64_t{kThreads * kCommits} / 2) << "commits did not share syncs";

  std::atomic<int> succeeded{0};
  std::atomic<int> conflicts{0};
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int done = 0; done < 10;) {
          TxOptions options;
          options.strategy = TxStrategy::kVersionOnRead;
          auto tx = (*db)->Begin(options);
          auto value = (*tx)->Read("s", counter);
          if (!value.ok() || !value->has_value()) {
            ++failures;
            return;
          }
          const int next = std::stoi(**value) + 1;
          if (!(*tx)->Update("s", counter, std::to_string(next)).ok()) ++failures;
          absl::Status s = (*tx)->Commit();
          if (s.ok()) {
            ++succeeded;
            ++done;
          } else if (ErrorOf(s) == Error::kVersionConflict) {
            ++conflicts;
          } else {
            ++failures;
            return;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(succeeded.load(), kThreads * 10);
  EXPECT_EQ(*(*db)->Read("s", counter), std::to_string(succeeded.load())) << "a lost update";
  std::printf("group commit: %d increments, %d version conflicts\n", succeeded.load(),
              conflicts.load());
  ASSERT_OK((*db)->Close());
  db->reset();
  auto reopened = Persy::Open(kPath, Config(), &sim);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  int records = 0;
  ASSERT_OK((*reopened)->Scan("s", [&](RecordId, std::string_view) {
    ++records;
    return true;
  }));
  EXPECT_EQ(records, 1 + kThreads * kCommits);
  EXPECT_EQ(*(*reopened)->Read("s", counter), std::to_string(kThreads * 10));
  ASSERT_OK((*reopened)->CheckIntegrity());
}

// Group commit gathers: the threads of a group, woken when it is durable, commit again into the
// next group instead of the one after it (Config::group_commit_wait). Without the wait two
// cohorts alternate, so 8 threads take about one sync per 4 commits; with it, about one per 8.
TEST(PersyTest, GroupCommitGathersTheLastGroupsThreads) {
  constexpr int kThreads = 8;
  constexpr int kCommits = 25;
  // The syncs that kThreads threads committing kCommits times each take, with `wait`.
  auto syncs_with = [&](std::chrono::microseconds wait) -> uint64_t {
    SimVfs sim(1);
    HoldSyncVfs vfs(&sim);
    Config config;
    config.group_commit_wait = wait;
    auto db = Persy::Create(kPath, config, &vfs);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return 0;
    {
      auto tx = MustBegin(**db);
      EXPECT_OK(tx->CreateSegment("s"));
      EXPECT_OK(tx->Commit());
    }
    // Slow syncs, so that a woken thread is back long before the next sync ends.
    vfs.SetSyncDelay(std::chrono::microseconds(10000));
    std::atomic<int> failures{0};
    const uint64_t before = sim.count(IoKind::kSync);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kCommits; ++i) {
          auto tx = (*db)->Begin();
          if (!tx.ok() || !(*tx)->Insert("s", "x").ok() || !(*tx)->Commit().ok()) ++failures;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    int records = 0;
    EXPECT_OK((*db)->Scan("s", [&](RecordId, std::string_view) {
      ++records;
      return true;
    }));
    EXPECT_EQ(records, kThreads * kCommits);
    return sim.count(IoKind::kSync) - before;
  };
  // The wait is bounded by the last sync's duration (10 ms here), not by this setting.
  const uint64_t gathered = syncs_with(std::chrono::seconds(1));
  const uint64_t alternating = syncs_with(std::chrono::microseconds(0));
  std::printf("group commit: %d commits took %llu syncs gathering, %llu without\n",
              kThreads * kCommits, static_cast<unsigned long long>(gathered),
              static_cast<unsigned long long>(alternating));
  EXPECT_LE(gathered, uint64_t{kThreads * kCommits} / 6) << "groups did not gather";
  EXPECT_LT(gathered, alternating);
}

// A commit that cannot get the commit lock within Config::lock_timeout fails with LockTimeout
// and leaves nothing behind; the commit holding the lock is unaffected.
TEST(PersyTest, LockTimeout) {
  SimVfs sim(1);
  HoldSyncVfs vfs(&sim);
  Config config;
  config.lock_timeout = std::chrono::milliseconds(20);
  auto db = Persy::Create(kPath, config, &vfs);
  ASSERT_TRUE(db.ok()) << db.status();
  auto setup = MustBegin(**db);
  ASSERT_OK(setup->CreateSegment("s"));
  ASSERT_OK(setup->Commit());

  auto slow = MustBegin(**db);
  ASSERT_OK(slow->Insert("s", "slow").status());
  vfs.Hold();
  absl::Status slow_status;
  std::thread committer([&] { slow_status = slow->Commit(); });
  vfs.AwaitHeldSync();  // the slow commit now holds the commit lock, inside its sync
  auto fast = MustBegin(**db);
  ASSERT_OK(fast->Insert("s", "fast").status());
  EXPECT_EQ(ErrorOf(fast->Commit()), Error::kLockTimeout);
  vfs.Release();
  committer.join();
  ASSERT_OK(slow_status);
  std::vector<std::string> values;
  ASSERT_OK((*db)->Scan("s", [&](RecordId, std::string_view b) {
    values.emplace_back(b);
    return true;
  }));
  EXPECT_EQ(values, std::vector<std::string>{"slow"});
}

// A read that hits an I/O error returns it (Io), and committed data is still there after.
TEST(PersyTest, ReadErrorSurfaces) {
  SimVfs sim(1);
  Config config;
  config.cache_size_bytes = 64 << 10;
  auto db = MustCreate(sim, config);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("s"));
  std::vector<RecordId> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(*tx->Insert("s", Bytes(1500, i)));
  ASSERT_OK(tx->Commit());
  ASSERT_OK(db->Close());
  db.reset();
  db = MustOpen(sim, config);
  sim.InjectFault(IoKind::kRead, 1, EIO, /*persistent=*/true);
  absl::StatusOr<std::optional<std::string>> read = db->Read("s", ids[100]);
  EXPECT_EQ(ErrorOf(read.status()), Error::kIo) << read.status();
  sim.ClearFaults();
  EXPECT_EQ(*db->Read("s", ids[100]), Bytes(1500, 100));
}

}  // namespace
}  // namespace persy
