// Tests of two-phase commit and recovery over the simulated disk: prepare, commit and rollback
// of a prepared transaction, the locks it holds, transactions left in doubt by a crash or a
// close, the three ways of deciding them on open, and crashes during that recovery.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cerrno>
#include <map>
#include <memory>
#include <optional>
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

using ::persy::testing::MustBegin;
using ::persy::testing::MustCreate;
using ::persy::testing::WithId;
using vfs::SimVfs;

constexpr char kPath[] = "/db/2pc.persy";

std::map<RecordId, std::string> Dump(Persy& db, std::string_view segment = "s") {
  std::map<RecordId, std::string> out;
  EXPECT_OK(db.Scan(segment, [&](RecordId id, std::string_view bytes) {
    out.emplace(id, std::string(bytes));
    return true;
  }));
  return out;
}

std::vector<std::string> Values(Persy& db, uint64_t key) {
  auto values = db.Get<uint64_t, std::string>("i", key);
  EXPECT_OK(values);
  return values.ok() ? *values : std::vector<std::string>();
}

// A database with segment "s" holding one record, and index "i" (u64 -> string, replace).
struct Fixture {
  explicit Fixture(SimVfs& sim, const Config& config = Config()) {
    db = MustCreate(sim, kPath, config);
    auto tx = MustBegin(*db);
    EXPECT_OK(tx->CreateSegment("s"));
    EXPECT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kReplace));
    auto id = tx->Insert("s", "base");
    EXPECT_OK(id);
    base = *id;
    EXPECT_OK(tx->Commit());
  }
  std::unique_ptr<Persy> db;
  RecordId base;
};

Config ShortLockTimeout() {
  Config config;
  config.lock_timeout = std::chrono::milliseconds(50);
  return config;
}

TEST(TwoPhaseTest, APreparedTransactionIsAppliedOnlyWhenCommitted) {
  SimVfs sim(1);
  Fixture f(sim);
  auto tx = MustBegin(*f.db, WithId("tx-1"));
  auto id = tx->Insert("s", "new");
  ASSERT_OK(id);
  ASSERT_OK(tx->Update("s", f.base, "changed"));
  ASSERT_OK(tx->Put<uint64_t, std::string>("i", 7, "seven"));
  auto prepared = tx->Prepare();
  ASSERT_OK(prepared);
  EXPECT_EQ((*prepared)->transaction_id(), "tx-1");
  // The transaction is finished; nothing of it is visible yet.
  EXPECT_ERR(Error::kTransactionFinished, tx->Insert("s", "more"));
  EXPECT_ERR(Error::kTransactionFinished, tx->Commit());
  EXPECT_ERR(Error::kTransactionFinished, tx->Prepare());
  EXPECT_EQ(*f.db->Read("s", f.base), "base");
  EXPECT_EQ(*f.db->Read("s", *id), std::nullopt);
  EXPECT_TRUE(Values(*f.db, 7).empty());

  ASSERT_OK((*prepared)->Commit());
  EXPECT_EQ(*f.db->Read("s", f.base), "changed");
  EXPECT_EQ(*f.db->Read("s", *id), "new");
  EXPECT_EQ(Values(*f.db, 7), std::vector<std::string>{"seven"});
  EXPECT_ERR(Error::kTransactionFinished, (*prepared)->Commit());
  EXPECT_ERR(Error::kTransactionFinished, (*prepared)->Rollback());
  prepared->reset();
  ASSERT_OK(f.db->CheckIntegrity());
}

TEST(TwoPhaseTest, RollbackAndDestroyingUndecidedDiscardTheTransaction) {
  SimVfs sim(2);
  Fixture f(sim);
  for (bool destroy : {false, true}) {
    auto tx = MustBegin(*f.db);
    ASSERT_OK(tx->Update("s", f.base, "changed"));
    ASSERT_OK(tx->CreateSegment("created"));
    auto prepared = tx->Prepare();
    ASSERT_OK(prepared);
    if (destroy) {
      prepared->reset();
    } else {
      ASSERT_OK((*prepared)->Rollback());
      EXPECT_ERR(Error::kTransactionFinished, (*prepared)->Commit());
    }
    EXPECT_EQ(*f.db->Read("s", f.base), "base");
    EXPECT_FALSE(*f.db->ExistsSegment("created"));
    // Its locks are released: the same changes commit at once.
    auto again = MustBegin(*f.db);
    ASSERT_OK(again->Update("s", f.base, "base"));
    ASSERT_OK(again->CreateSegment("created"));
    ASSERT_OK(again->Commit());
    auto drop = MustBegin(*f.db);
    ASSERT_OK(drop->DropSegment("created"));
    ASSERT_OK(drop->Commit());
  }
  ASSERT_OK(f.db->CheckIntegrity());
}

TEST(TwoPhaseTest, PrepareRunsTheChecksOfCommit) {
  SimVfs sim(3);
  Fixture f(sim);
  auto a = MustBegin(*f.db);
  auto b = MustBegin(*f.db);
  ASSERT_OK(a->CreateSegment("x"));
  ASSERT_OK(b->CreateSegment("x"));
  ASSERT_OK(a->Commit());
  EXPECT_ERR(Error::kSegmentAlreadyExists, b->Prepare());
  EXPECT_ERR(Error::kTransactionFinished, b->Commit());

  TxOptions on_read;
  on_read.strategy = TxStrategy::kVersionOnRead;
  auto reader = MustBegin(*f.db, on_read);
  ASSERT_OK(reader->Read("s", f.base));
  ASSERT_OK(reader->Insert("s", "unrelated"));
  auto writer = MustBegin(*f.db);
  ASSERT_OK(writer->Update("s", f.base, "v2"));
  ASSERT_OK(writer->Commit());
  EXPECT_ERR(Error::kVersionConflict, reader->Prepare());

  // A transaction that only read prepares and commits too.
  auto read_only = MustBegin(*f.db);
  ASSERT_OK(read_only->Read("s", f.base));
  auto prepared = read_only->Prepare();
  ASSERT_OK(prepared);
  ASSERT_OK((*prepared)->Commit());
}

// Each kind of lock a prepared transaction holds, against what needs it.
TEST(TwoPhaseTest, APreparedTransactionsLocksMakeOthersTimeOut) {
  SimVfs sim(4);
  Fixture f(sim, ShortLockTimeout());
  {
    auto tx = MustBegin(*f.db);
    ASSERT_OK(tx->CreateSegment("other"));
    ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("other_index", ValueMode::kReplace));
    ASSERT_OK(tx->Commit());
  }
  auto holder = MustBegin(*f.db);
  ASSERT_OK(holder->Update("s", f.base, "held"));
  ASSERT_OK(holder->Put<uint64_t, std::string>("i", 1, "held"));
  ASSERT_OK(holder->CreateSegment("new_name"));
  ASSERT_OK(holder->CreateIndex<uint64_t, std::string>("new_index", ValueMode::kReplace));
  ASSERT_OK(holder->DropSegment("other"));
  ASSERT_OK(holder->DropIndex("other_index"));
  auto prepared = holder->Prepare();
  ASSERT_OK(prepared);

  using Change = std::function<absl::Status(Transaction&)>;
  const std::vector<std::pair<std::string, Change>> blocked = {
      {"update the record", [&](Transaction& t) { return t.Update("s", f.base, "x"); }},
      {"delete the record", [&](Transaction& t) { return t.Delete("s", f.base); }},
      {"put the key", [](Transaction& t) { return t.Put<uint64_t, std::string>("i", 1, "x"); }},
      {"remove the key", [](Transaction& t) { return t.Remove("i", uint64_t{1}); }},
      {"create the segment name", [](Transaction& t) { return t.CreateSegment("new_name"); }},
      {"create the index name",
       [](Transaction& t) {
         return t.CreateIndex<uint64_t, std::string>("new_index", ValueMode::kCluster);
       }},
      {"insert into a dropped segment", [](Transaction& t) { return t.Insert("other", "x").status(); }},
      {"put into a dropped index",
       [](Transaction& t) { return t.Put<uint64_t, std::string>("other_index", 1, "x"); }},
      {"drop a segment written to", [](Transaction& t) { return t.DropSegment("s"); }},
      {"drop an index written to", [](Transaction& t) { return t.DropIndex("i"); }},
  };
  for (const auto& [what, change] : blocked) {
    auto tx = MustBegin(*f.db);
    ASSERT_OK(change(*tx)) << what;
    EXPECT_ERR(Error::kLockTimeout, tx->Commit()) << what;
    auto tx2 = MustBegin(*f.db);
    ASSERT_OK(change(*tx2)) << what;
    EXPECT_ERR(Error::kLockTimeout, tx2->Prepare()) << what;
  }
  // What the locks do not cover goes on.
  const std::vector<std::pair<std::string, Change>> free = {
      {"insert into a written segment", [](Transaction& t) { return t.Insert("s", "x").status(); }},
      {"put another key", [](Transaction& t) { return t.Put<uint64_t, std::string>("i", 2, "x"); }},
      {"create another segment", [](Transaction& t) { return t.CreateSegment("free"); }},
  };
  for (const auto& [what, change] : free) {
    auto tx = MustBegin(*f.db);
    ASSERT_OK(change(*tx)) << what;
    EXPECT_OK(tx->Commit()) << what;
  }
  ASSERT_OK((*prepared)->Commit());
  EXPECT_EQ(*f.db->Read("s", f.base), "held");
  EXPECT_EQ(Values(*f.db, 1), std::vector<std::string>{"held"});
  EXPECT_FALSE(*f.db->ExistsSegment("other"));
  EXPECT_TRUE(*f.db->ExistsSegment("new_name"));
  ASSERT_OK(f.db->CheckIntegrity());
}

// A commit that waits for a lock proceeds when the prepared transaction is decided, and under
// kVersionOnWrite then sees the prepared one's change as a conflict.
TEST(TwoPhaseTest, AWaitingCommitGoesOnAfterTheDecision) {
  for (bool commit : {true, false}) {
    SimVfs sim(5);
    Config config;
    config.lock_timeout = std::chrono::seconds(30);
    Fixture f(sim, config);
    auto holder = MustBegin(*f.db);
    ASSERT_OK(holder->Update("s", f.base, "held"));
    auto prepared = holder->Prepare();
    ASSERT_OK(prepared);
    TxOptions on_write;
    on_write.strategy = TxStrategy::kVersionOnWrite;
    auto waiter = MustBegin(*f.db, on_write);
    ASSERT_OK(waiter->Update("s", f.base, "waiter"));
    std::atomic<bool> returned{false};
    absl::Status waited;
    std::thread t([&] {
      waited = waiter->Commit();
      returned = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(returned.load());
    ASSERT_OK(commit ? (*prepared)->Commit() : (*prepared)->Rollback());
    t.join();
    if (commit) {
      EXPECT_ERR(Error::kVersionConflict, waited);
      EXPECT_EQ(*f.db->Read("s", f.base), "held");
    } else {
      EXPECT_OK(waited);
      EXPECT_EQ(*f.db->Read("s", f.base), "waiter");
    }
  }
}

// Three transactions prepared, then a crash: all three are in doubt; the Recovery decides one
// each way and Finish commits the third.
TEST(TwoPhaseTest, RecoveryListsTheInDoubtTransactionsAndDecidesEach) {
  SimVfs sim(6);
  Fixture f(sim);
  std::map<std::string, RecordId> ids;
  std::vector<std::unique_ptr<PreparedTransaction>> handles;
  for (const std::string name : {"a", "b", "c"}) {
    auto tx = MustBegin(*f.db, WithId(name));
    auto id = tx->Insert("s", "record " + name);
    ASSERT_OK(id);
    ids[name] = *id;
    ASSERT_OK(tx->Put<uint64_t, std::string>("i", name[0], name));
    auto prepared = tx->Prepare();
    ASSERT_OK(prepared);
    handles.push_back(std::move(*prepared));
  }
  sim.Crash();
  handles.clear();
  f.db.reset();

  auto recovery = Persy::Recover(kPath, Config(), &sim);
  ASSERT_OK(recovery);
  EXPECT_EQ((*recovery)->List(), (std::vector<RecoverEntry>{{"a", RecoverStatus::kInDoubt},
                                                            {"b", RecoverStatus::kInDoubt},
                                                            {"c", RecoverStatus::kInDoubt}}));
  ASSERT_OK((*recovery)->Commit("a"));
  ASSERT_OK((*recovery)->Rollback("b"));
  EXPECT_ERR(Error::kTransactionNotFound, (*recovery)->Commit("b"));
  EXPECT_ERR(Error::kTransactionNotFound, (*recovery)->Rollback("zzz"));
  EXPECT_EQ((*recovery)->List(), (std::vector<RecoverEntry>{{"a", RecoverStatus::kCommitted},
                                                            {"b", RecoverStatus::kRolledBack},
                                                            {"c", RecoverStatus::kInDoubt}}));
  auto db = (*recovery)->Finish();
  ASSERT_OK(db);
  EXPECT_ERR(Error::kFailed, (*recovery)->Finish());
  EXPECT_ERR(Error::kFailed, (*recovery)->Commit("c"));
  EXPECT_EQ(*(*db)->Read("s", ids["a"]), "record a");
  EXPECT_EQ(*(*db)->Read("s", ids["b"]), std::nullopt);
  EXPECT_EQ(*(*db)->Read("s", ids["c"]), "record c");
  EXPECT_EQ(Values(**db, 'a'), std::vector<std::string>{"a"});
  EXPECT_TRUE(Values(**db, 'b').empty());
  EXPECT_EQ(Values(**db, 'c'), std::vector<std::string>{"c"});
  ASSERT_OK((*db)->CheckIntegrity());
  // Decided for good: a later open finds nothing in doubt.
  db->reset();
  recovery->reset();
  auto again = Persy::Recover(kPath, Config(), &sim);
  ASSERT_OK(again);
  EXPECT_TRUE((*again)->List().empty());
}

// Plain Open commits what is in doubt; OpenWithRecover asks; a Close leaves prepared
// transactions in doubt as a crash does.
TEST(TwoPhaseTest, OpenCommitsInDoubtAndOpenWithRecoverAsks) {
  for (int way : {0, 1}) {
    SimVfs sim(7);
    Fixture f(sim);
    std::map<std::string, RecordId> ids;
    for (const std::string name : {"keep", "drop"}) {
      auto tx = MustBegin(*f.db, WithId(name));
      ids[name] = *tx->Insert("s", name);
      auto prepared = tx->Prepare();
      ASSERT_OK(prepared);
      // Closing with the handle alive: it stays prepared in the file.
      if (name == "drop") {
        ASSERT_OK(f.db->Close());
      }
      prepared->reset();  // its rollback fails: the handle is closed
    }
    f.db.reset();
    std::vector<std::string> asked;
    auto db = way == 0 ? Persy::Open(kPath, Config(), &sim)
                       : Persy::OpenWithRecover(
                             kPath, Config(),
                             [&](std::string_view id) {
                               asked.emplace_back(id);
                               return id == "keep";
                             },
                             &sim);
    ASSERT_OK(db);
    // "keep" was rolled back by its handle before the close; only "drop" was in doubt.
    EXPECT_EQ(*(*db)->Read("s", ids["keep"]), std::nullopt);
    if (way == 0) {
      EXPECT_EQ(*(*db)->Read("s", ids["drop"]), "drop");
    } else {
      EXPECT_EQ(asked, std::vector<std::string>{"drop"});
      EXPECT_EQ(*(*db)->Read("s", ids["drop"]), std::nullopt);
    }
    ASSERT_OK((*db)->CheckIntegrity());
  }
}

// In-doubt transactions survive checkpoints (their prepare is written again at the start of
// each new journal), commits meanwhile, and recoveries that leave them undecided.
TEST(TwoPhaseTest, InDoubtSurvivesCheckpointsAndUndecidedRecoveries) {
  SimVfs sim(8);
  Config config;
  config.checkpoint_journal_bytes = 16 << 10;
  Fixture f(sim, config);
  auto tx = MustBegin(*f.db, WithId("long"));
  const RecordId inserted = *tx->Insert("s", "in doubt");
  ASSERT_OK(tx->CreateSegment("made"));
  ASSERT_OK(tx->Insert("made", "inside").status());
  ASSERT_OK(tx->CreateIndex<uint64_t, uint64_t>("made_index", ValueMode::kCluster));
  ASSERT_OK(tx->Put<uint64_t, std::string>("i", 42, "in doubt"));
  auto prepared = tx->Prepare();
  ASSERT_OK(prepared);
  std::map<RecordId, std::string> committed = Dump(*f.db);
  for (int i = 0; i < 40; ++i) {
    auto other = MustBegin(*f.db);
    const std::string bytes(2000, static_cast<char>('a' + i % 26));
    auto id = other->Insert("s", bytes);
    ASSERT_OK(id);
    ASSERT_NE(*id, inserted);
    committed[*id] = bytes;
    ASSERT_OK(other->Commit());
  }
  sim.Crash();
  prepared->reset();
  f.db.reset();
  for (int round = 0; round < 2; ++round) {
    auto recovery = Persy::Recover(kPath, config, &sim);
    ASSERT_OK(recovery);
    const std::vector<RecoverEntry> expected = {{"long", RecoverStatus::kInDoubt}};
    EXPECT_EQ((*recovery)->List(), expected) << round;
  }
  auto recovery = Persy::Recover(kPath, config, &sim);
  ASSERT_OK(recovery);
  auto db = (*recovery)->Finish();
  ASSERT_OK(db);
  committed[inserted] = "in doubt";
  EXPECT_EQ(Dump(**db), committed);
  EXPECT_EQ(Dump(**db, "made").size(), 1u);
  EXPECT_EQ(Values(**db, 42), std::vector<std::string>{"in doubt"});
  auto indexes = (*db)->ListIndexes();
  ASSERT_OK(indexes);
  EXPECT_EQ(indexes->size(), 2u);
  ASSERT_OK((*db)->CheckIntegrity());
}

// The same in-doubt file, recovered with the same decisions (commit "a", roll back "b", Finish
// commits "c"), with the power lost at every I/O event of the recovery in turn, or one write or
// sync failing: recovering again with the same decisions gives the same result.
struct InDoubtFile {
  std::map<std::string, RecordId> ids;
  RecordId base;
};

InDoubtFile MakeInDoubtFile(SimVfs& sim) {
  InDoubtFile out;
  Fixture f(sim);
  out.base = f.base;
  std::vector<std::unique_ptr<PreparedTransaction>> handles;
  for (const std::string name : {"a", "b", "c"}) {
    auto tx = MustBegin(*f.db, WithId(name));
    out.ids[name] = *tx->Insert("s", std::string(name == "b" ? 9000 : 100, name[0]));
    EXPECT_OK(tx->Put<uint64_t, std::string>("i", name[0], name));
    if (name == "a") {
      EXPECT_OK(tx->Update("s", f.base, "updated by a"));
    }
    auto prepared = tx->Prepare();
    EXPECT_OK(prepared);
    handles.push_back(std::move(*prepared));
  }
  sim.Crash();
  handles.clear();
  return out;
}

void ExpectDecided(Persy& db, const InDoubtFile& file, const std::string& context) {
  EXPECT_EQ(*db.Read("s", file.base), "updated by a") << context;
  EXPECT_EQ(*db.Read("s", file.ids.at("a")), std::string(100, 'a')) << context;
  EXPECT_EQ(*db.Read("s", file.ids.at("b")), std::nullopt) << context;
  EXPECT_EQ(*db.Read("s", file.ids.at("c")), std::string(100, 'c')) << context;
  EXPECT_EQ(Values(db, 'a'), std::vector<std::string>{"a"}) << context;
  EXPECT_TRUE(Values(db, 'b').empty()) << context;
  EXPECT_EQ(Values(db, 'c'), std::vector<std::string>{"c"}) << context;
  EXPECT_EQ(Dump(db).size(), 3u) << context;
  EXPECT_OK(db.CheckIntegrity()) << context;
}

// Runs the recovery; returns whether it got through.
bool RecoverWithDecisions(SimVfs& sim) {
  auto recovery = Persy::Recover(kPath, Config(), &sim);
  if (!recovery.ok()) return false;
  for (const RecoverEntry& e : (*recovery)->List()) {
    // A decision made before the interruption is not in doubt any more.
    if (e.transaction_id == "a" && !(*recovery)->Commit("a").ok()) return false;
    if (e.transaction_id == "b" && !(*recovery)->Rollback("b").ok()) return false;
  }
  auto db = (*recovery)->Finish();
  return db.ok() && (*db)->Close().ok();
}

TEST(TwoPhaseTest, RecoveryInterruptedAnywhereGivesTheSameResult) {
  const uint64_t seed = persy::testing::TestSeed();
  const auto decide = [](std::string_view id) { return id != "b"; };
  uint64_t power_cuts = 0;
  for (uint64_t k = 1;; ++k) {
    SimVfs sim(seed + k);
    sim.set_record_events(false);
    const InDoubtFile file = MakeInDoubtFile(sim);
    sim.PowerOffAfter(k);
    const bool through = RecoverWithDecisions(sim);
    const bool cut = sim.powered_off();
    sim.Crash();
    if (cut) ++power_cuts;
    const std::string context = absl::StrCat("power cut after event ", k);
    auto db = Persy::OpenWithRecover(kPath, Config(), decide, &sim);
    ASSERT_OK(db) << context;
    ExpectDecided(**db, file, context);
    if (!cut) {
      EXPECT_TRUE(through) << context;
      break;
    }
  }
  EXPECT_GT(power_cuts, 10u);
  std::printf("recovery interrupted by a power cut at %llu events in turn\n",
              static_cast<unsigned long long>(power_cuts));
  for (vfs::IoKind kind : {vfs::IoKind::kWrite, vfs::IoKind::kSync, vfs::IoKind::kRead}) {
    for (uint64_t nth = 1;; ++nth) {
      SimVfs sim(seed + nth);
      sim.set_record_events(false);
      const InDoubtFile file = MakeInDoubtFile(sim);
      const uint64_t before = sim.count(kind);
      sim.InjectFault(kind, nth, EIO, /*persistent=*/false);
      const bool through = RecoverWithDecisions(sim);
      const bool reached = sim.count(kind) - before >= nth;
      sim.ClearFaults();
      sim.Crash();
      const std::string context =
          absl::StrCat(vfs::IoKindName(kind), " ", nth, " failing");
      auto db = Persy::OpenWithRecover(kPath, Config(), decide, &sim);
      ASSERT_OK(db) << context;
      ExpectDecided(**db, file, context);
      if (!reached) {
        EXPECT_TRUE(through) << context;
        break;
      }
    }
  }
}

}  // namespace
}  // namespace persy
