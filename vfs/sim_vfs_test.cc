// Unit tests of SimVfs: each behaviour of the damage model, faults, power-off, and events.
// The property test (sim_vfs_property_test.cc) checks the damage model as a whole.

#include "vfs/sim_vfs.h"

#include <cerrno>
#include <memory>
#include <set>
#include <utility>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tools/test_seed.h"

namespace persy::vfs {
namespace {

constexpr char kPath[] = "/db/file";

std::unique_ptr<File> MustCreate(SimVfs& sim, const std::string& path = kPath) {
  auto file = sim.Create(path);
  EXPECT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(sim.SyncDir(path).ok());
  return std::move(*file);
}

std::unique_ptr<File> MustOpen(SimVfs& sim, const std::string& path = kPath) {
  auto file = sim.Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? std::move(*file) : nullptr;
}

std::string ReadAll(File& file) {
  auto size = file.Size();
  EXPECT_TRUE(size.ok());
  std::string data(*size, '\0');
  auto got = file.ReadAt(0, data.size(), data.data());
  EXPECT_TRUE(got.ok());
  return data;
}

TEST(SimVfsTest, LoseUnsyncedKeepsSyncedDataOnly) {
  SimVfs sim(1, SimDamage::LoseUnsynced());
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "synced").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->WriteAt(0, "lost!!").ok());
  ASSERT_TRUE(file->WriteAt(6, " and more").ok());
  EXPECT_EQ(ReadAll(*file), "lost!! and more");
  sim.Crash();
  EXPECT_EQ(ReadAll(*MustOpen(sim)), "synced");
}

TEST(SimVfsTest, KeepUnsyncedKeepsEverything) {
  SimVfs sim(1, SimDamage::KeepUnsynced());
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "hello world").ok());
  ASSERT_TRUE(file->Truncate(5).ok());
  sim.Crash();
  EXPECT_EQ(ReadAll(*MustOpen(sim)), "hello");
}

TEST(SimVfsTest, SyncMakesDurableImageEqualCurrent) {
  SimVfs sim(3);  // harsh default damage: still nothing synced may be lost
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(1000, std::string(3000, 'a')).ok());
  ASSERT_TRUE(file->Truncate(2500).ok());
  ASSERT_TRUE(file->WriteAt(100, "xyz").ok());
  ASSERT_TRUE(file->Sync().ok());
  const std::string expected = ReadAll(*file);
  EXPECT_EQ(*sim.DurableImage(kPath), expected);
  for (int i = 0; i < 5; ++i) {
    sim.Crash();
    EXPECT_EQ(ReadAll(*MustOpen(sim)), expected);
  }
}

// A torn write leaves each sector old or new (or garbage, when allowed), never a mix inside a
// sector; over many seeds, both whole outcomes and mixed ones appear.
TEST(SimVfsTest, TornWritesTearAtSectorGranularity) {
  SimDamage damage;
  damage.keep = 0;
  damage.drop = 0;
  damage.torn_garbage = 0;
  damage.lose_size_change = 0;
  const std::string old_data(4 * 512, 'o');
  const std::string new_data(4 * 512, 'n');
  bool saw_mixed = false;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SimVfs sim(seed, damage);
    auto file = MustCreate(sim);
    ASSERT_TRUE(file->WriteAt(0, old_data).ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(file->WriteAt(0, new_data).ok());
    sim.Crash();
    const std::string seen = ReadAll(*MustOpen(sim));
    ASSERT_EQ(seen.size(), old_data.size());
    int new_sectors = 0;
    for (int s = 0; s < 4; ++s) {
      const std::string sector = seen.substr(s * 512, 512);
      ASSERT_TRUE(sector == old_data.substr(0, 512) || sector == new_data.substr(0, 512))
          << "seed " << seed << " sector " << s;
      new_sectors += sector[0] == 'n';
    }
    saw_mixed |= new_sectors > 0 && new_sectors < 4;
  }
  EXPECT_TRUE(saw_mixed);
}

TEST(SimVfsTest, TornGarbageOnlyInWrittenSectors) {
  SimDamage damage;
  damage.keep = 0;
  damage.drop = 0;
  damage.torn_garbage = 1;
  damage.lose_size_change = 0;
  SimVfs sim(5, damage);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, std::string(2048, 's')).ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->WriteAt(512, std::string(512, 'n')).ok());
  sim.Crash();
  const std::string seen = ReadAll(*MustOpen(sim));
  EXPECT_EQ(seen.substr(0, 512), std::string(512, 's'));
  EXPECT_NE(seen.substr(512, 512), std::string(512, 's'));
  EXPECT_NE(seen.substr(512, 512), std::string(512, 'n'));
  EXPECT_EQ(seen.substr(1024), std::string(1024, 's'));
}

TEST(SimVfsTest, ConfigurableSectorSize) {
  SimDamage damage;
  damage.sector_size = 4096;
  damage.keep = 0;
  damage.drop = 0;
  damage.torn_garbage = 0;
  damage.lose_size_change = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimVfs sim(seed, damage);
    auto file = MustCreate(sim);
    ASSERT_TRUE(file->WriteAt(0, std::string(8192, 'o')).ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(file->WriteAt(0, std::string(8192, 'n')).ok());
    sim.Crash();
    const std::string seen = ReadAll(*MustOpen(sim));
    for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], seen[i / 4096 * 4096]);
  }
}

TEST(SimVfsTest, SizeAfterCrashIsOneTheFileHad) {
  SimDamage damage = SimDamage::KeepUnsynced();
  damage.lose_size_change = 1;
  std::set<size_t> sizes;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SimVfs sim(seed, damage);
    auto file = MustCreate(sim);
    ASSERT_TRUE(file->WriteAt(0, std::string(100, 'a')).ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(file->WriteAt(100, std::string(100, 'b')).ok());
    ASSERT_TRUE(file->Truncate(50).ok());
    sim.Crash();
    sizes.insert(ReadAll(*MustOpen(sim)).size());
  }
  EXPECT_EQ(sizes, (std::set<size_t>{50, 100, 200}));
}

TEST(SimVfsTest, UnsyncedCreateMayVanishSyncedCreateStays) {
  SimDamage damage;
  damage.lose_unsynced_dir_op = 1;
  SimVfs sim(1, damage);
  ASSERT_TRUE(sim.Create("/db/unsynced").ok());
  MustCreate(sim, "/other/synced");
  sim.Crash();
  EXPECT_FALSE(*sim.Exists("/db/unsynced"));
  EXPECT_TRUE(*sim.Exists("/other/synced"));
}

TEST(SimVfsTest, SyncDirCoversOnlyItsDirectory) {
  SimDamage damage;
  damage.lose_unsynced_dir_op = 1;
  SimVfs sim(1, damage);
  ASSERT_TRUE(sim.Create("/a/x").ok());
  ASSERT_TRUE(sim.Create("/a/y").ok());
  ASSERT_TRUE(sim.Create("/b/z").ok());
  ASSERT_TRUE(sim.SyncDir("/a/x").ok());
  sim.Crash();
  EXPECT_TRUE(*sim.Exists("/a/x"));
  EXPECT_TRUE(*sim.Exists("/a/y"));
  EXPECT_FALSE(*sim.Exists("/b/z"));
}

TEST(SimVfsTest, UnsyncedRemoveMayBeUndone) {
  SimDamage damage;
  damage.lose_unsynced_dir_op = 1;
  SimVfs sim(1, damage);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "data").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(sim.Remove(kPath).ok());
  EXPECT_FALSE(*sim.Exists(kPath));
  sim.Crash();
  EXPECT_EQ(ReadAll(*MustOpen(sim)), "data");
  ASSERT_TRUE(sim.Remove(kPath).ok());
  ASSERT_TRUE(sim.SyncDir(kPath).ok());
  sim.Crash();
  EXPECT_FALSE(*sim.Exists(kPath));
}

// Each name of an unsynced rename is kept or undone on its own: after a crash the file may be
// at either name, both, or neither (vfs.h); a SyncDir makes the rename durable.
TEST(SimVfsTest, UnsyncedRenameMayBeUndoneNameByName) {
  const uint64_t seed = persy::testing::TestSeed();
  std::set<std::pair<bool, bool>> outcomes;  // (at the old name, at the new name)
  for (uint64_t i = 0; i < 64; ++i) {
    SimVfs sim(seed + i);
    auto file = MustCreate(sim, "/db/old");
    ASSERT_TRUE(file->WriteAt(0, "data").ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(sim.RenameNoReplace("/db/old", "/db/new").ok());
    sim.Crash();
    const bool at_old = *sim.Exists("/db/old");
    const bool at_new = *sim.Exists("/db/new");
    if (at_old) {
      EXPECT_EQ(ReadAll(*MustOpen(sim, "/db/old")), "data");
    }
    if (at_new) {
      EXPECT_EQ(ReadAll(*MustOpen(sim, "/db/new")), "data");
    }
    outcomes.insert({at_old, at_new});
  }
  EXPECT_EQ(outcomes.size(), 4u) << "seed " << seed;

  SimDamage damage;
  damage.lose_unsynced_dir_op = 1;
  SimVfs sim(seed, damage);
  MustCreate(sim, "/db/old");
  ASSERT_TRUE(sim.RenameNoReplace("/db/old", "/db/new").ok());
  ASSERT_TRUE(sim.SyncDir("/db/new").ok());
  sim.Crash();
  EXPECT_FALSE(*sim.Exists("/db/old"));
  EXPECT_TRUE(*sim.Exists("/db/new"));
}

TEST(SimVfsTest, FilesFromBeforeACrashAreDeadAndLocksReleased) {
  SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->Lock().ok());
  sim.Crash();
  EXPECT_EQ(file->WriteAt(0, "x").code(), absl::StatusCode::kUnavailable);
  char c;
  EXPECT_EQ(file->ReadAt(0, 1, &c).status().code(), absl::StatusCode::kUnavailable);
  auto again = MustOpen(sim);
  EXPECT_TRUE(again->Lock().ok());
  file.reset();  // must not release the new owner's lock
  EXPECT_EQ(MustOpen(sim)->Lock().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SimVfsTest, TransientFaultFailsOnlyTheNthCall) {
  SimVfs sim(1);
  auto file = MustCreate(sim);
  sim.InjectFault(IoKind::kWrite, 2, EIO, /*persistent=*/false);
  EXPECT_TRUE(file->WriteAt(0, "a").ok());
  absl::Status failed = file->WriteAt(1, "b");
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(failed.message().find("/db/file at offset 1"), absl::string_view::npos) << failed;
  EXPECT_TRUE(file->WriteAt(2, "c").ok());
}

TEST(SimVfsTest, PersistentFaultFailsFromThenOn) {
  SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "abc").ok());
  sim.InjectFault(IoKind::kRead, 1, EIO, /*persistent=*/true);
  char buf[3];
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(file->ReadAt(0, 3, buf).status().code(), absl::StatusCode::kDataLoss);
  }
  sim.ClearFaults();
  EXPECT_EQ(*file->ReadAt(0, 3, buf), 3u);
}

TEST(SimVfsTest, FaultsOnMetadataCalls) {
  SimVfs sim(1);
  sim.InjectFault(IoKind::kCreate, 1, ENOSPC, false);
  EXPECT_EQ(sim.Create(kPath).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(*sim.Exists(kPath));
  auto file = MustCreate(sim);
  sim.InjectFault(IoKind::kTruncate, 1, EIO, false);
  EXPECT_EQ(file->Truncate(10).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*file->Size(), 0u);
  sim.InjectFault(IoKind::kOpen, 1, EIO, false);
  EXPECT_EQ(sim.Open(kPath).status().code(), absl::StatusCode::kDataLoss);
}

TEST(SimVfsTest, FailedWriteLeavesAPrefixAtMost) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimVfs sim(seed);
    auto file = MustCreate(sim);
    sim.InjectFault(IoKind::kWrite, 1, ENOSPC, false);
    EXPECT_EQ(file->WriteAt(0, "abcdefgh").code(), absl::StatusCode::kResourceExhausted);
    const std::string seen = ReadAll(*file);
    EXPECT_EQ(seen, std::string("abcdefgh").substr(0, seen.size()));
  }
}

// fsyncgate: after a failed fsync, Linux may drop the dirty pages and report success to the
// next fsync, while reads still return the lost data. The File must stay failed instead.
TEST(SimVfsTest, FailedSyncPoisonsTheFileAndLosesData) {
  SimVfs sim(1, SimDamage::LoseUnsynced());
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "old").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->WriteAt(0, "new").ok());
  sim.InjectFault(IoKind::kSync, 1, EIO, false);
  absl::Status failed = file->Sync();
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(file->Sync(), failed);
  EXPECT_EQ(file->WriteAt(0, "x"), failed);
  EXPECT_EQ(file->Truncate(0), failed);
  EXPECT_EQ(ReadAll(*file), "new");  // the page cache still shows it...
  auto other = MustOpen(sim);
  EXPECT_TRUE(other->Sync().ok());   // ...a new File's sync succeeds...
  sim.Crash();
  EXPECT_EQ(ReadAll(*MustOpen(sim)), "old");  // ...and yet it is gone.
}

TEST(SimVfsTest, FailedSyncMayPersistSome) {
  SimVfs sim(1, SimDamage::KeepUnsynced());
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "kept").ok());
  sim.InjectFault(IoKind::kSync, 1, EIO, false);
  EXPECT_FALSE(file->Sync().ok());
  sim.Crash();
  EXPECT_EQ(ReadAll(*MustOpen(sim)), "kept");
}

TEST(SimVfsTest, CapacityGivesEnospc) {
  SimVfs sim(1);
  sim.SetCapacity(1000);
  auto file = MustCreate(sim);
  auto other = MustCreate(sim, "/db/other");
  ASSERT_TRUE(file->WriteAt(0, std::string(600, 'a')).ok());
  EXPECT_EQ(other->WriteAt(0, std::string(500, 'b')).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(other->Truncate(500).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(file->Truncate(100).ok());
  ASSERT_TRUE(other->Truncate(0).ok());
  EXPECT_TRUE(other->WriteAt(0, std::string(500, 'b')).ok());
  EXPECT_TRUE(file->WriteAt(0, std::string(100, 'c')).ok());  // overwrite needs no space
  sim.SetCapacity(std::nullopt);
  EXPECT_TRUE(other->WriteAt(0, std::string(5000, 'b')).ok());
}

TEST(SimVfsTest, PowerOffAfterKEvents) {
  SimVfs sim(1, SimDamage::LoseUnsynced());
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, "one").ok());
  sim.PowerOffAfter(2);
  EXPECT_TRUE(file->Sync().ok());            // event 1
  EXPECT_TRUE(file->WriteAt(0, "two").ok());  // event 2: completes, then the power goes
  EXPECT_TRUE(sim.powered_off());
  const uint64_t events = sim.event_count();
  EXPECT_EQ(file->Sync().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sim.Open(kPath).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sim.event_count(), events);  // calls on a dead disk are not events
  sim.Crash();
  EXPECT_FALSE(sim.powered_off());
  EXPECT_EQ(ReadAll(*MustOpen(sim)), "one");
}

TEST(SimVfsTest, EventsAndCounts) {
  SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(10, "abc").ok());
  ASSERT_TRUE(file->Sync().ok());
  sim.InjectFault(IoKind::kSync, 1, EIO, false);
  EXPECT_FALSE(file->Sync().ok());
  std::vector<IoEvent> events = sim.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].kind, IoKind::kCreate);
  EXPECT_EQ(events[1].kind, IoKind::kSyncDir);
  EXPECT_EQ(events[2].kind, IoKind::kWrite);
  EXPECT_EQ(events[2].offset, 10u);
  EXPECT_EQ(events[2].length, 3u);
  EXPECT_EQ(events[2].path, kPath);
  EXPECT_EQ(events[4].result, absl::StatusCode::kDataLoss);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].index, i);
  EXPECT_EQ(sim.count(IoKind::kSync), 2u);
  EXPECT_EQ(sim.count(IoKind::kWrite), 1u);
  sim.set_record_events(false);
  ASSERT_TRUE(MustOpen(sim) != nullptr);
  EXPECT_EQ(sim.events().size(), 5u);
  EXPECT_EQ(sim.event_count(), 6u);
}

TEST(SimVfsTest, BitRotFlipsExactlyOneDurableBit) {
  SimVfs sim(1);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, std::string(1024, '\0')).ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(sim.FlipDurableBit(kPath, 8 * 700 + 3).ok());
  EXPECT_EQ(ReadAll(*file)[700], '\0');  // not visible until the cache is gone
  EXPECT_EQ(sim.FlipDurableBit(kPath, 8 * 1024).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim.FlipDurableBit("/nope", 0).code(), absl::StatusCode::kNotFound);
  sim.Crash();
  std::string seen = ReadAll(*MustOpen(sim));
  EXPECT_EQ(seen[700], 8);
  seen[700] = 0;
  EXPECT_EQ(seen, std::string(1024, '\0'));
}

TEST(SimVfsTest, RandomBitRotAtCrash) {
  SimDamage damage;
  damage.bit_rot = 1;
  SimVfs sim(persy::testing::TestSeed(), damage);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, std::string(4096, '\0')).ok());
  ASSERT_TRUE(file->Sync().ok());
  sim.Crash();
  const std::string seen = ReadAll(*MustOpen(sim));
  int bits = 0;
  for (char c : seen) bits += __builtin_popcount(static_cast<unsigned char>(c));
  EXPECT_EQ(bits, 1);
}

TEST(SimVfsTest, MisdirectedWriteLandsElsewhere) {
  SimDamage damage;
  damage.misdirect = 1;
  SimVfs sim(persy::testing::TestSeed(), damage);
  auto file = MustCreate(sim);
  ASSERT_TRUE(file->WriteAt(0, std::string(64 * 512, 'o')).ok());
  ASSERT_TRUE(file->Sync().ok());  // 64 sectors, each misdirected: some land elsewhere
  ASSERT_TRUE(file->WriteAt(5 * 512, std::string(512, 'n')).ok());
  ASSERT_TRUE(file->Sync().ok());
  EXPECT_EQ(ReadAll(*file).substr(5 * 512, 512), std::string(512, 'n'));  // cache is right
  const std::string durable = *sim.DurableImage(kPath);
  int n_sectors = 0;
  for (size_t s = 0; s < durable.size() / 512; ++s) n_sectors += durable[s * 512] == 'n';
  EXPECT_EQ(n_sectors, 1);
  // Unless it happened to land on its own sector (1 in 64), sector 5 kept its old value.
  if (durable[5 * 512] != 'n') {
    EXPECT_NE(durable.substr(5 * 512, 512), std::string(512, 'n'));
  }
}

TEST(SimVfsTest, SameSeedSameFaults) {
  auto run = [](uint64_t seed) {
    SimVfs sim(seed);
    auto file = MustCreate(sim);
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(file->WriteAt(i * 300, std::string(700, static_cast<char>('a' + i))).ok());
      if (i % 7 == 6) {
        EXPECT_TRUE(file->Sync().ok());
      }
    }
    sim.Crash();
    return ReadAll(*MustOpen(sim));
  };
  const uint64_t seed = persy::testing::TestSeed();
  EXPECT_EQ(run(seed), run(seed));
  bool differs = false;
  for (uint64_t other = seed + 1; other < seed + 10 && !differs; ++other) {
    differs = run(other) != run(seed);
  }
  EXPECT_TRUE(differs);
}

TEST(SimDamageTest, Validate) {
  EXPECT_TRUE(SimDamage().Validate().ok());
  EXPECT_TRUE(SimDamage::LoseUnsynced().Validate().ok());
  EXPECT_TRUE(SimDamage::KeepUnsynced().Validate().ok());
  SimDamage d;
  d.keep = 0.8;
  d.drop = 0.3;
  EXPECT_EQ(d.Validate().code(), absl::StatusCode::kInvalidArgument);
  d = SimDamage();
  d.sector_size = 500;
  EXPECT_EQ(d.Validate().code(), absl::StatusCode::kInvalidArgument);
  d = SimDamage();
  d.bit_rot = 1.5;
  EXPECT_EQ(d.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace persy::vfs
