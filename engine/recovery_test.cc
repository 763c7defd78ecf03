// Crash and I/O-error tests of the engine over the simulated disk.
//
// Method: a workload is replayed deterministically from a seed, so that "the same run, crashed
// at I/O event k" can be produced for every k of a commit; after each crash the file is
// reopened and must hold exactly the commits that returned, plus possibly the one in flight,
// and that one only whole.

#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/persy.h"
#include "engine/test_util.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

using ::persy::testing::FileSize;
using vfs::IoKind;
using vfs::SimDamage;
using vfs::SimVfs;

constexpr char kPath[] = "/db/crash.persy";
using State = std::map<RecordId, std::string>;

State Dump(Persy& db) {
  State out;
  absl::Status s = db.Scan("s", [&](RecordId id, std::string_view bytes) {
    out.emplace(id, std::string(bytes));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// One transaction of the workload: deterministic from (seed, step) and the current state.
absl::Status RunStep(Persy& db, uint64_t seed, int step, const State& before, State* after) {
  std::mt19937_64 rng(seed * 1000003 + step);
  auto tx = db.Begin();
  if (!tx.ok()) return tx.status();
  *after = before;
  const int ops = 1 + rng() % 6;
  for (int i = 0; i < ops; ++i) {
    const int kind = rng() % 4;
    if (kind <= 1 || after->empty()) {
      std::string bytes(rng() % 3 == 0 ? 3000 + rng() % 9000 : rng() % 400,
                        static_cast<char>('a' + rng() % 26));
      absl::StatusOr<RecordId> id = (*tx)->Insert("s", bytes);
      if (!id.ok()) return id.status();
      (*after)[*id] = bytes;
    } else {
      auto it = after->begin();
      std::advance(it, rng() % after->size());
      if (kind == 2) {
        std::string bytes(rng() % 5000, static_cast<char>('A' + rng() % 26));
        if (absl::Status s = (*tx)->Update("s", it->first, bytes); !s.ok()) return s;
        it->second = bytes;
      } else {
        if (absl::Status s = (*tx)->Delete("s", it->first); !s.ok()) return s;
        after->erase(it);
      }
    }
  }
  return (*tx)->Commit();
}

std::unique_ptr<Persy> CreateWithSegment(SimVfs& sim, const Config& config) {
  auto db = Persy::Create(kPath, config, &sim);
  EXPECT_TRUE(db.ok()) << db.status();
  auto tx = (*db)->Begin();
  EXPECT_TRUE((*tx)->CreateSegment("s").ok());
  EXPECT_TRUE((*tx)->Commit().ok());
  return std::move(*db);
}

// Crashes inside the commit of step `target` at its I/O event `k` (k = 1, 2, ... until the
// commit completes before the power goes), with the harsh default damage, and checks that the
// reopened file holds the state before or after that commit, whole.
TEST(RecoveryTest, CrashAtEveryEventOfACommit) {
  const uint64_t seed = persy::testing::TestSeed();
  Config config;
  config.checkpoint_journal_bytes = 64 << 10;  // checkpoints happen inside the workload too
  for (int target : {1, 4, 9}) {
    for (uint64_t k = 1;; ++k) {
      SimVfs sim(seed + k);
      sim.set_record_events(false);
      auto db = CreateWithSegment(sim, config);
      State state;
      for (int step = 0; step < target; ++step) {
        State next;
        ASSERT_TRUE(RunStep(*db, seed, step, state, &next).ok());
        state = next;
      }
      sim.PowerOffAfter(k);
      State next;
      absl::Status committed = RunStep(*db, seed, target, state, &next);
      const bool power_lost = sim.powered_off();
      db.reset();
      sim.Crash();
      auto reopened = Persy::Open(kPath, config, &sim);
      ASSERT_TRUE(reopened.ok()) << "target " << target << " k " << k << ": "
                                 << reopened.status();
      absl::Status integrity = (*reopened)->CheckIntegrity();
      ASSERT_TRUE(integrity.ok()) << "target " << target << " k " << k << ": " << integrity;
      State seen = Dump(**reopened);
      if (committed.ok()) {
        ASSERT_EQ(seen, next) << "a returned commit was lost: target " << target << " k " << k;
      } else {
        ASSERT_TRUE(seen == state || seen == next)
            << "partial commit: target " << target << " k " << k;
      }
      if (!power_lost) break;  // the commit ran to the end before the power went
    }
  }
}

// Close writes a checkpoint: the journal's changes go to their pages, the file may shrink and
// the header moves on. Cut at each of its I/O events, then crashed with the harsh default
// damage: the reopened file holds every commit, and the transaction left prepared by the close
// is still in doubt, whole (Recover lists it; it is then committed).
TEST(RecoveryTest, CrashAtEveryEventOfClose) {
  const uint64_t seed = persy::testing::TestSeed();
  Config config;
  config.checkpoint_journal_bytes = 64 << 20;  // the close's checkpoint is the only one
  uint64_t cut_short = 0;
  for (uint64_t k = 1;; ++k) {
    SimVfs sim(seed + k);
    sim.set_record_events(false);
    auto db = CreateWithSegment(sim, config);
    TxOptions options;
    options.transaction_id = "doubt";
    auto doubt = db->Begin(options);
    ASSERT_TRUE(doubt.ok());
    const std::string doubt_bytes(6000, 'd');
    absl::StatusOr<RecordId> doubt_id = (*doubt)->Insert("s", doubt_bytes);
    ASSERT_TRUE(doubt_id.ok());
    auto prepared = (*doubt)->Prepare();
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    State state;
    for (int step = 0; step < 12; ++step) {
      State next;
      ASSERT_TRUE(RunStep(*db, seed, step, state, &next).ok());
      state = next;
    }
    // Frees the pages of every record but the one in doubt, which came first, so that the
    // checkpoint may give space back at the end of the file.
    auto deleting = db->Begin();
    ASSERT_TRUE(deleting.ok());
    for (const auto& [id, bytes] : state) ASSERT_TRUE((*deleting)->Delete("s", id).ok());
    state.clear();
    ASSERT_TRUE((*deleting)->Commit().ok());

    const uint64_t size_before = FileSize(sim, kPath);
    sim.PowerOffAfter(k);
    const absl::Status closed = db->Close();
    const bool power_lost = sim.powered_off();
    prepared->reset();  // undecided: its rollback fails, the database is closed
    db.reset();
    sim.Crash();
    // With the power gone after its last event, the close has returned OK: no event was cut.
    if (!closed.ok()) ++cut_short;
    EXPECT_TRUE(closed.ok() || power_lost) << "k " << k << ": " << closed;
    if (!power_lost) {
      // Most seeds' files shrink here (24 of 30 tried).
      std::printf("the file: %llu bytes before the close, %llu after\n",
                  static_cast<unsigned long long>(size_before),
                  static_cast<unsigned long long>(FileSize(sim, kPath)));
    }

    auto recovery = Persy::Recover(kPath, config, &sim);
    ASSERT_TRUE(recovery.ok()) << "k " << k << ": " << recovery.status();
    const auto listed = (*recovery)->List();
    ASSERT_EQ(listed.size(), 1u) << "k " << k << ": the prepared transaction is not in doubt";
    EXPECT_EQ(listed[0].transaction_id, "doubt") << "k " << k;
    ASSERT_TRUE((*recovery)->Commit("doubt").ok()) << "k " << k;
    auto reopened = (*recovery)->Finish();
    ASSERT_TRUE(reopened.ok()) << "k " << k << ": " << reopened.status();
    absl::Status integrity = (*reopened)->CheckIntegrity();
    ASSERT_TRUE(integrity.ok()) << "k " << k << ": " << integrity;
    State expected = state;
    expected[*doubt_id] = doubt_bytes;
    ASSERT_EQ(Dump(**reopened), expected) << "k " << k << ": a commit was lost or changed";
    if (!power_lost) break;  // the close ran to the end before the power went
  }
  EXPECT_GE(cut_short, 5u) << "a checkpoint writes pages, syncs and moves the header";
  std::printf("a close cut short at each of %llu I/O events\n",
              static_cast<unsigned long long>(cut_short));
}

// Many crashes with harsh damage in one long run: after each, exactly the returned commits.
TEST(RecoveryTest, RandomCrashesKeepEveryReturnedCommit) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  Config config;
  config.checkpoint_journal_bytes = 32 << 10;
  config.cache_size_bytes = 64 << 10;
  SimVfs sim(seed);
  sim.set_record_events(false);
  auto db = CreateWithSegment(sim, config);
  State state;
  int step = 0;
  for (int round = 0; round < 25; ++round) {
    const int steps = rng() % 8;
    for (int i = 0; i < steps; ++i, ++step) {
      State next;
      ASSERT_TRUE(RunStep(*db, seed, step, state, &next).ok());
      state = next;
    }
    std::optional<State> maybe;
    if (rng() % 2 == 0) {  // crash in the middle of one more commit
      sim.PowerOffAfter(1 + rng() % 12);
      State next;
      if (RunStep(*db, seed, step++, state, &next).ok()) {
        state = next;
      } else {
        maybe = next;
      }
    }
    db.reset();
    sim.Crash();
    auto reopened = Persy::Open(kPath, config, &sim);
    ASSERT_TRUE(reopened.ok()) << "round " << round << ": " << reopened.status();
    db = std::move(*reopened);
    absl::Status integrity = db->CheckIntegrity();
    ASSERT_TRUE(integrity.ok()) << "round " << round << ": " << integrity;
    State seen = Dump(*db);
    if (maybe.has_value() && seen == *maybe) state = *maybe;
    ASSERT_EQ(seen, state) << "round " << round;
  }
}

// An I/O error in a commit fails that commit; the handle then refuses writes (a failed sync
// cannot be retried into durability), reads still work, and reopening recovers.
// A journal much bigger than the cache: replaying it evicts (writes back) pages whose later
// differences then apply to the image read back, and the recovered state is every commit.
TEST(RecoveryTest, ReplayOfDifferencesThroughASmallCache) {
  const uint64_t seed = persy::testing::TestSeed();
  Config config;
  config.cache_size_bytes = 64 << 10;             // 16 pages
  config.checkpoint_journal_bytes = 64 << 20;     // no checkpoint during the workload
  SimVfs sim(seed);
  auto db = CreateWithSegment(sim, config);
  State state;
  for (int step = 0; step < 150; ++step) {
    State next;
    ASSERT_TRUE(RunStep(*db, seed, step, state, &next).ok()) << step;
    state = next;
  }
  sim.Crash();
  db.reset();
  auto reopened = Persy::Open(kPath, config, &sim);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(Dump(**reopened), state);
  ASSERT_TRUE((*reopened)->CheckIntegrity().ok());
}

TEST(RecoveryTest, FailedSyncIsStickyAndReopenRecovers) {
  for (int err : {EIO, ENOSPC}) {
    SimVfs sim(persy::testing::TestSeed());
    auto db = CreateWithSegment(sim, Config());
    State state;
    State next;
    ASSERT_TRUE(RunStep(*db, 1, 0, state, &next).ok());
    state = next;
    sim.InjectFault(IoKind::kSync, 1, err, /*persistent=*/false);
    State maybe;
    absl::Status failed = RunStep(*db, 1, 1, state, &maybe);
    EXPECT_EQ(ErrorOf(failed), Error::kIo) << failed;
    EXPECT_EQ(Dump(*db), state);  // not installed
    State unused;
    EXPECT_EQ(ErrorOf(RunStep(*db, 1, 2, state, &unused)), Error::kFailed);
    db.reset();
    sim.Crash();
    auto reopened = Persy::Open(kPath, Config(), &sim);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_TRUE((*reopened)->CheckIntegrity().ok());
    State seen = Dump(**reopened);
    EXPECT_TRUE(seen == state || seen == maybe);
    EXPECT_TRUE(RunStep(**reopened, 1, 3, seen, &unused).ok());
  }
}

// Every write of the commit path failing once, in turn: the commit fails cleanly or succeeds,
// and reopening always gives a whole state.
TEST(RecoveryTest, WriteErrorAtEveryPoint) {
  for (uint64_t nth = 1; nth <= 12; ++nth) {
    SimVfs sim(nth);
    auto db = CreateWithSegment(sim, Config());
    State state;
    State next;
    ASSERT_TRUE(RunStep(*db, 7, 0, state, &next).ok());
    state = next;
    sim.InjectFault(IoKind::kWrite, nth, EIO, /*persistent=*/false);
    absl::Status result = RunStep(*db, 7, 1, state, &next);
    db.reset();
    sim.ClearFaults();
    sim.Crash();
    auto reopened = Persy::Open(kPath, Config(), &sim);
    ASSERT_TRUE(reopened.ok()) << "nth " << nth << ": " << reopened.status();
    EXPECT_TRUE((*reopened)->CheckIntegrity().ok()) << "nth " << nth;
    State seen = Dump(**reopened);
    if (result.ok()) {
      EXPECT_EQ(seen, next) << "nth " << nth;
    } else {
      EXPECT_TRUE(seen == state || seen == next) << "nth " << nth;
    }
  }
}

// Damage to committed data gives DataLoss naming the page, never a crash or wrong data.
TEST(RecoveryTest, BitRotGivesDataLossNotWrongData) {
  const uint64_t seed = persy::testing::TestSeed();
  int data_loss = 0;
  for (uint64_t round = 0; round < 50; ++round) {
    SimVfs sim(seed + round);
    auto db = CreateWithSegment(sim, Config());
    State state;
    for (int step = 0; step < 5; ++step) {
      State next;
      ASSERT_TRUE(RunStep(*db, seed, step, state, &next).ok());
      state = next;
    }
    ASSERT_TRUE(db->Close().ok());
    db.reset();
    const uint64_t size = sim.DurableImage(kPath)->size();
    std::mt19937_64 rng(seed + round);
    ASSERT_TRUE(sim.FlipDurableBit(kPath, rng() % (size * 8)).ok());
    sim.Crash();
    auto reopened = Persy::Open(kPath, Config(), &sim);
    if (!reopened.ok()) {
      EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss) << reopened.status();
      ++data_loss;
      continue;
    }
    State seen;
    absl::Status s = (*reopened)->Scan("s", [&](RecordId id, std::string_view bytes) {
      seen.emplace(id, std::string(bytes));
      return true;
    });
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
      EXPECT_NE(s.message().find("page"), absl::string_view::npos) << s;
      ++data_loss;
      continue;
    }
    // The flipped bit was in free space, a header copy or the old journal: nothing lost.
    EXPECT_EQ(seen, state);
  }
  std::printf("bit rot: %d of 50 rounds reported DataLoss, the rest were harmless\n", data_loss);
}

// Regression (found by BitRotGivesDataLossNotWrongData under ASan, seed 15153823505790492403):
// with the newer file-header copy damaged after a checkpoint, open fell back to the older copy,
// replayed its stale journal over newer pages and showed an empty segment where four records
// had been committed. Open must now report DataLoss, or recover the full state when the older
// journal still covers everything, never an older state.
TEST(RecoveryTest, DamagedNewerHeaderNeverRollsBackCommits) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SimVfs sim(seed);
    State state;
    {
      auto db = CreateWithSegment(sim, Config());
      for (int step = 0; step < 3; ++step) {
        State next;
        ASSERT_TRUE(RunStep(*db, seed, step, state, &next).ok());
        state = next;
      }
      ASSERT_TRUE(db->Close().ok());  // a checkpoint: the header copies now differ in age
    }
    {
      auto db = Persy::Open(kPath, Config(), &sim);
      ASSERT_TRUE(db.ok()) << db.status();
      for (int step = 3; step < 6; ++step) {
        State next;
        ASSERT_TRUE(RunStep(**db, seed, step, state, &next).ok());
        state = next;
      }
      ASSERT_TRUE((*db)->Close().ok());
    }
    // Damage whichever header copy is newer: the one with the higher counter (bytes 16-24).
    auto raw = sim.Open(kPath);
    ASSERT_TRUE(raw.ok());
    uint64_t counters[2] = {0, 0};
    for (int copy = 0; copy < 2; ++copy) {
      char bytes[8];
      ASSERT_TRUE((*raw)->ReadAt(copy * 4096 + 16, 8, bytes).ok());
      for (int i = 7; i >= 0; --i) counters[copy] = (counters[copy] << 8) | uint8_t(bytes[i]);
    }
    const int newer = counters[1] > counters[0] ? 1 : 0;
    ASSERT_TRUE(sim.FlipDurableBit(kPath, (newer * 4096 + 100) * 8).ok());
    raw->reset();
    sim.Crash();
    auto reopened = Persy::Open(kPath, Config(), &sim);
    if (!reopened.ok()) {
      EXPECT_EQ(ErrorOf(reopened.status()), Error::kDataLoss) << reopened.status();
      continue;
    }
    State seen;
    absl::Status s = (*reopened)->Scan("s", [&](RecordId id, std::string_view bytes) {
      seen.emplace(id, std::string(bytes));
      return true;
    });
    if (!s.ok()) {
      EXPECT_EQ(ErrorOf(s), Error::kDataLoss) << s;
      continue;
    }
    EXPECT_EQ(seen, state) << "seed " << seed << ": an older state came back";
  }
}

}  // namespace
}  // namespace persy
