// The reference model's two-phase commit, recovery and snapshots alone: prepare and its checks,
// each lock a prepared transaction holds, in-doubt transactions after a crash and the ways of
// deciding them, uncertain prepares and decisions, recovery cut short, and snapshot reads.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "model/model.h"

namespace persy::model {
namespace {

using TxId = Model::TxId;
constexpr Strategy kLww = Strategy::kLastWriterWins;
constexpr RecoverStatus kInDoubt = RecoverStatus::kInDoubt;
constexpr RecoverStatus kCommitted = RecoverStatus::kCommitted;
constexpr RecoverStatus kRolledBack = RecoverStatus::kRolledBack;

IndexValue U8(uint8_t v) { return IndexValue(std::in_place_type<uint8_t>, v); }

class TwoPhaseModelTest : public ::testing::Test {
 protected:
  // Segments "s" (records "a" = 1.1, "b" = 1.2) and "t", index "i" (u8 -> u8 replace, 1 -> 1).
  void SetUp() override {
    const TxId tx = Begin();
    ASSERT_EQ(m_.CreateSegment(tx, "s"), Error::kNone);
    ASSERT_EQ(m_.CreateSegment(tx, "t"), Error::kNone);
    a_ = m_.Insert(tx, "s", "a").value;
    b_ = m_.Insert(tx, "s", "b").value;
    ASSERT_EQ(m_.CreateIndex(tx, "i", IndexType::kU8, IndexType::kU8, ValueMode::kReplace),
              Error::kNone);
    ASSERT_EQ(m_.Put(tx, "i", U8(1), U8(1)), Error::kNone);
    ASSERT_EQ(m_.Commit(tx), Error::kNone);
  }
  TxId Begin(std::string_view id = {}) {
    Result<TxId> tx = m_.Begin(kLww, id);
    EXPECT_TRUE(tx.ok());
    return tx.value;
  }
  // Prepares a transaction with `id` that updates a_, puts 1 -> 7 and creates "x".
  TxId PrepareHolder(std::string_view id = "holder") {
    const TxId tx = Begin(id);
    EXPECT_EQ(m_.Update(tx, "s", a_, "held"), Error::kNone);
    EXPECT_EQ(m_.Put(tx, "i", U8(1), U8(7)), Error::kNone);
    EXPECT_EQ(m_.CreateSegment(tx, "x"), Error::kNone);
    EXPECT_EQ(m_.Prepare(tx), Error::kNone);
    return tx;
  }
  std::optional<std::string> Read(Id id) { return m_.ReadCommitted("s", id).value; }
  // The dump after SetUp, and after the holder committed.
  static Dump Initial() {
    Dump dump;
    dump.segments["s"] = DumpSegment{1, {{1, "a"}, {2, "b"}}};
    dump.segments["t"] = DumpSegment{2, {}};
    DumpIndex index;
    index.id = 1;
    index.entries = {IndexEntry{U8(1), {U8(1)}}};
    dump.indexes["i"] = index;
    return dump;
  }
  static Dump HolderCommitted() {
    Dump dump = Initial();
    dump.segments["s"].records[1] = "held";
    dump.segments["x"] = DumpSegment{3, {}};
    dump.indexes["i"].entries = {IndexEntry{U8(1), {U8(7)}}};
    return dump;
  }

  Model m_;
  Id a_, b_;
};

TEST_F(TwoPhaseModelTest, PrepareFinishesTheTransactionAndAppliesNothingUntilCommitted) {
  const TxId tx = PrepareHolder();
  EXPECT_TRUE(m_.finished(tx));
  EXPECT_TRUE(m_.undecided(tx));
  EXPECT_EQ(m_.Insert(tx, "s", "more").error, Error::kTransactionFinished);
  EXPECT_EQ(m_.Prepare(tx), Error::kTransactionFinished);
  EXPECT_EQ(m_.Commit(tx), Error::kTransactionFinished);
  EXPECT_EQ(Read(a_), "a");
  EXPECT_FALSE(m_.ExistsCommitted("x"));
  ASSERT_EQ(m_.CommitPrepared(tx), Error::kNone);
  EXPECT_FALSE(m_.undecided(tx));
  EXPECT_EQ(Read(a_), "held");
  EXPECT_TRUE(m_.ExistsCommitted("x"));
  EXPECT_EQ(m_.GetCommitted("i", U8(1)).value, std::vector<IndexValue>{U8(7)});
  EXPECT_EQ(m_.CommitPrepared(tx), Error::kTransactionFinished);
  EXPECT_EQ(m_.RollbackPrepared(tx), Error::kTransactionFinished);
}

TEST_F(TwoPhaseModelTest, RollbackPreparedDiscardsAndReleasesTheLocks) {
  const TxId tx = PrepareHolder();
  ASSERT_EQ(m_.RollbackPrepared(tx), Error::kNone);
  EXPECT_EQ(m_.CommitPrepared(tx), Error::kTransactionFinished);
  EXPECT_EQ(Read(a_), "a");
  const TxId again = Begin();
  ASSERT_EQ(m_.Update(again, "s", a_, "again"), Error::kNone);
  EXPECT_EQ(m_.Commit(again), Error::kNone);
}

TEST_F(TwoPhaseModelTest, PrepareRunsTheChecksOfCommit) {
  const TxId a = Begin();
  const TxId b = Begin();
  ASSERT_EQ(m_.CreateSegment(a, "y"), Error::kNone);
  ASSERT_EQ(m_.CreateSegment(b, "y"), Error::kNone);
  ASSERT_EQ(m_.Commit(a), Error::kNone);
  EXPECT_EQ(m_.Prepare(b), Error::kSegmentAlreadyExists);
  EXPECT_FALSE(m_.undecided(b));
  EXPECT_EQ(m_.Commit(b), Error::kTransactionFinished);
}

// Each lock of the holder (PrepareHolder) against what needs it, for Commit and for Prepare;
// then what needs none.
TEST_F(TwoPhaseModelTest, ThePreparedTransactionsLocks) {
  {
    const TxId dropper = Begin();
    ASSERT_EQ(m_.CreateSegment(dropper, "gone"), Error::kNone);
    ASSERT_EQ(m_.CreateIndex(dropper, "gone", IndexType::kU8, IndexType::kU8, ValueMode::kCluster),
              Error::kNone);
    ASSERT_EQ(m_.Commit(dropper), Error::kNone);
  }
  const TxId holder = Begin();
  ASSERT_EQ(m_.Update(holder, "s", a_, "held"), Error::kNone);
  ASSERT_EQ(m_.Put(holder, "i", U8(1), U8(7)), Error::kNone);
  ASSERT_EQ(m_.CreateSegment(holder, "x"), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(holder, "j", IndexType::kU8, IndexType::kU8, ValueMode::kReplace),
            Error::kNone);
  ASSERT_EQ(m_.DropSegment(holder, "gone"), Error::kNone);
  ASSERT_EQ(m_.DropIndex(holder, "gone"), Error::kNone);
  ASSERT_EQ(m_.Prepare(holder), Error::kNone);

  using Change = std::function<Error(TxId)>;
  const std::vector<std::pair<std::string, Change>> blocked = {
      {"update the record", [&](TxId t) { return m_.Update(t, "s", a_, "x"); }},
      {"delete the record", [&](TxId t) { return m_.Delete(t, "s", a_); }},
      {"put the key", [&](TxId t) { return m_.Put(t, "i", U8(1), U8(2)); }},
      {"remove the key", [&](TxId t) { return m_.Remove(t, "i", U8(1), std::nullopt); }},
      {"create the segment name", [&](TxId t) { return m_.CreateSegment(t, "x"); }},
      {"create the index name",
       [&](TxId t) {
         return m_.CreateIndex(t, "j", IndexType::kU16, IndexType::kU8, ValueMode::kCluster);
       }},
      {"insert into a dropped segment", [&](TxId t) { return m_.Insert(t, "gone", "x").error; }},
      {"put into a dropped index", [&](TxId t) { return m_.Put(t, "gone", U8(1), U8(1)); }},
      {"drop a segment written to", [&](TxId t) { return m_.DropSegment(t, "s"); }},
      {"drop an index written to", [&](TxId t) { return m_.DropIndex(t, "i"); }},
      {"drop a dropped segment", [&](TxId t) { return m_.DropSegment(t, "gone"); }},
  };
  for (const auto& [what, change] : blocked) {
    for (bool prepare : {false, true}) {
      const TxId tx = Begin();
      ASSERT_EQ(change(tx), Error::kNone) << what;
      EXPECT_EQ(prepare ? m_.Prepare(tx) : m_.Commit(tx), Error::kLockTimeout) << what;
    }
  }
  const std::vector<std::pair<std::string, Change>> free = {
      {"insert into a written segment", [&](TxId t) { return m_.Insert(t, "s", "x").error; }},
      {"update another record", [&](TxId t) { return m_.Update(t, "s", b_, "x"); }},
      {"put another key", [&](TxId t) { return m_.Put(t, "i", U8(2), U8(2)); }},
      {"create another segment", [&](TxId t) { return m_.CreateSegment(t, "free"); }},
      {"drop a segment only read",
       [&](TxId t) {
         (void)m_.Read(t, "t", Id{2, 1});
         return m_.DropSegment(t, "t");
       }},
  };
  for (const auto& [what, change] : free) {
    const TxId tx = Begin();
    ASSERT_EQ(change(tx), Error::kNone) << what;
    EXPECT_EQ(m_.Commit(tx), Error::kNone) << what;
  }
  ASSERT_EQ(m_.CommitPrepared(holder), Error::kNone);
  EXPECT_FALSE(m_.ExistsCommitted("gone"));
  EXPECT_FALSE(m_.ExistsIndexCommitted("gone"));
}

TEST_F(TwoPhaseModelTest, TheLockCheckComesBeforeTheCommitChecks) {
  PrepareHolder();
  const TxId tx = Begin();
  ASSERT_EQ(m_.Update(tx, "s", a_, "mine"), Error::kNone);
  ASSERT_EQ(m_.CreateSegment(tx, "t2"), Error::kNone);
  const TxId other = Begin();
  ASSERT_EQ(m_.CreateSegment(other, "t2"), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);  // check 1 would fail for tx now
  EXPECT_EQ(m_.Commit(tx), Error::kLockTimeout);
}

TEST_F(TwoPhaseModelTest, PlainOpenCommitsWhatIsInDoubt) {
  const TxId tx = PrepareHolder();
  m_.Crash();
  EXPECT_TRUE(m_.uncertain());
  EXPECT_FALSE(m_.undecided(tx));  // the handle died
  m_.BeginOpen();
  EXPECT_EQ(m_.RecoveryList(), (std::vector<RecoverEntry>{{"holder", kInDoubt}}));
  m_.DecideAll([](size_t) { return true; });
  EXPECT_EQ(m_.RecoveryList(), (std::vector<RecoverEntry>{{"holder", kCommitted}}));
  // The holder's changes, and the counters past its segment "x" (#3).
  const absl::Status resolved =
      m_.Resolve(HolderCommitted(), Counters{4, {{"s", 3}, {"t", 1}, {"x", 1}}, 2});
  ASSERT_TRUE(resolved.ok()) << resolved.message();
  EXPECT_FALSE(m_.uncertain());
  EXPECT_EQ(Read(a_), "held");
}

// Without BeginOpen, Resolve is Persy::Open's: it commits what is in doubt.
TEST_F(TwoPhaseModelTest, ResolveAloneIsPlainOpen) {
  PrepareHolder();
  m_.Crash();
  EXPECT_FALSE(m_.Resolve(Initial(), Counters{4, {{"s", 3}, {"t", 1}}, 2}).ok());
  const absl::Status resolved =
      m_.Resolve(HolderCommitted(), Counters{4, {{"s", 3}, {"t", 1}, {"x", 1}}, 2});
  EXPECT_TRUE(resolved.ok()) << resolved.message();
}

TEST_F(TwoPhaseModelTest, RecoveryDecidesByTransactionIdInPrepareOrder) {
  // Three prepared: "a", "b", "a" (ids may repeat), each inserting one record into "s".
  std::vector<Id> ids;
  for (std::string_view id : {"a", "b", "a"}) {
    const TxId tx = Begin(id);
    ids.push_back(m_.Insert(tx, "s", std::string(id)).value);
    ASSERT_EQ(m_.Prepare(tx), Error::kNone);
  }
  m_.Crash();
  m_.BeginOpen();
  ASSERT_TRUE(m_.ObserveRecoveryList({{"a", kInDoubt}, {"b", kInDoubt}, {"a", kInDoubt}}).ok());
  EXPECT_FALSE(m_.ObserveRecoveryList({{"a", kInDoubt}}).ok());
  EXPECT_EQ(m_.DecideInDoubt("b", false), Error::kNone);
  EXPECT_EQ(m_.DecideInDoubt("b", true), Error::kTransactionNotFound);
  EXPECT_EQ(m_.DecideInDoubt("zzz", true), Error::kTransactionNotFound);
  EXPECT_EQ(m_.DecideInDoubt("a", true), Error::kNone);  // both
  EXPECT_EQ(m_.RecoveryList(),
            (std::vector<RecoverEntry>{{"a", kCommitted}, {"b", kRolledBack}, {"a", kCommitted}}));
  m_.DecideAll([](size_t) { return true; });  // Finish: nothing left
  Dump dump = Initial();
  dump.segments["s"].records[ids[0].number] = "a";
  dump.segments["s"].records[ids[2].number] = "a";
  // "b"'s number 4 stays taken in memory: the next insert gets 6.
  const absl::Status resolved = m_.Resolve(dump, Counters{3, {{"s", 6}, {"t", 1}}, 2});
  ASSERT_TRUE(resolved.ok()) << resolved.message();
  const TxId next = Begin();
  EXPECT_EQ(m_.Insert(next, "s", "n").value, (Id{1, 6}));
}

TEST_F(TwoPhaseModelTest, RolledBackInDoubtIdsStayTakenUntilTheNextCrash) {
  const TxId tx = PrepareHolder();  // created "x" #3
  (void)tx;
  m_.Crash();
  m_.BeginOpen();
  ASSERT_TRUE(m_.ObserveInDoubtIds({"holder"}).ok());
  m_.DecideAll([](size_t) { return false; });  // OpenWithRecover says no
  const Dump dump = Initial();
  EXPECT_FALSE(m_.Resolve(dump, Counters{3, {{"s", 3}, {"t", 1}}, 2}).ok());
  ASSERT_TRUE(m_.Resolve(dump, Counters{4, {{"s", 3}, {"t", 1}}, 2}).ok());
  m_.Crash();  // the raise was in memory only
  EXPECT_EQ(m_.counters(), (Counters{3, {{"s", 3}, {"t", 1}}, 2}));
}

TEST_F(TwoPhaseModelTest, AnUncertainPrepareIsInDoubtOrAbsent) {
  for (bool in_doubt : {false, true}) {
    Model m = m_;
    const TxId tx = m.Begin(kLww, "p").value;
    ASSERT_EQ(m.Insert(tx, "s", "p").error, Error::kNone);
    ASSERT_EQ(m.PrepareUncertain(tx), Error::kNone);
    EXPECT_TRUE(m.uncertain());
    m.Crash();
    m.BeginOpen();
    const std::vector<std::string> ids =
        in_doubt ? std::vector<std::string>{"p"} : std::vector<std::string>{};
    ASSERT_TRUE(m.ObserveInDoubtIds(ids).ok());
    EXPECT_EQ(m.RecoveryList().size(), in_doubt ? 1u : 0u);
    EXPECT_FALSE(m.ObserveInDoubtIds({"p", "p"}).ok());
  }
}

TEST_F(TwoPhaseModelTest, AnUncertainDecisionIsMadeOrNot) {
  const TxId tx = PrepareHolder();
  m_.DecidePreparedUncertain(tx, /*commit=*/true);
  m_.Crash();
  m_.BeginOpen();
  ASSERT_TRUE(m_.ObserveInDoubtIds({}).ok());  // it was committed
  m_.DecideAll([](size_t) { return true; });
  const absl::Status resolved =
      m_.Resolve(HolderCommitted(), Counters{4, {{"s", 3}, {"t", 1}, {"x", 1}}, 2});
  EXPECT_TRUE(resolved.ok()) << resolved.message();
}

// An open cut short among its decisions keeps those made: the next open finds the rest.
TEST_F(TwoPhaseModelTest, RecoveryCutShortKeepsWhatItDecided) {
  for (std::string_view id : {"a", "b", "c"}) {
    const TxId tx = Begin(id);
    ASSERT_EQ(m_.Insert(tx, "t", std::string(id)).error, Error::kNone);
    ASSERT_EQ(m_.Prepare(tx), Error::kNone);
  }
  m_.Crash();
  m_.BeginOpen();
  m_.DecideAllUncertain([](size_t position) { return position != 1; }, 1, 2);
  m_.Crash();
  m_.BeginOpen();
  EXPECT_FALSE(m_.ObserveInDoubtIds({"a", "b", "c"}).ok());  // the first was made
  ASSERT_TRUE(m_.ObserveInDoubtIds({"c"}).ok());            // a committed, b rolled back
  m_.DecideAll([](size_t) { return true; });
  Dump dump = Initial();
  dump.segments["t"].records = {{1, "a"}, {3, "c"}};
  const absl::Status resolved = m_.Resolve(dump, Counters{3, {{"s", 3}, {"t", 4}}, 2});
  EXPECT_TRUE(resolved.ok()) << resolved.message();
}

TEST_F(TwoPhaseModelTest, SnapshotsReadTheStateWhenTaken) {
  const Model::SnapshotId snap = m_.TakeSnapshot();
  const TxId holder = PrepareHolder();
  ASSERT_EQ(m_.CommitPrepared(holder), Error::kNone);
  const TxId dropper = Begin();
  ASSERT_EQ(m_.DropSegment(dropper, "t"), Error::kNone);
  ASSERT_EQ(m_.Commit(dropper), Error::kNone);
  EXPECT_EQ(m_.SnapshotRead(snap, "s", a_).value, "a");
  EXPECT_EQ(m_.SnapshotScan(snap, "s", 1).value, (std::vector<ScanEntry>{{a_, "a"}}));
  EXPECT_TRUE(m_.SnapshotExists(snap, "t"));
  EXPECT_FALSE(m_.SnapshotExists(snap, "x"));
  EXPECT_EQ(m_.SnapshotList(snap), (std::vector<SegmentInfo>{{"s", 1}, {"t", 2}}));
  EXPECT_EQ(m_.SnapshotGet(snap, "i", U8(1)).value, std::vector<IndexValue>{U8(1)});
  EXPECT_EQ(m_.SnapshotGet(snap, "i", U8(1), IndexType::kU16).error, Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.SnapshotRange(snap, "i", IndexBound::Unbounded(), IndexBound::Unbounded(),
                             Direction::kBackward)
                .value.size(),
            1u);
  EXPECT_EQ(m_.SnapshotListIndexes(snap).size(), 1u);
  EXPECT_EQ(m_.ReadCommitted("s", a_).value, "held");
  const Model::SnapshotId later = m_.TakeSnapshot();
  EXPECT_FALSE(m_.SnapshotExists(later, "t"));
  m_.ReleaseSnapshot(snap);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH((void)m_.SnapshotList(snap), "misused");
  m_.Crash();
  EXPECT_DEATH((void)m_.SnapshotList(later), "misused");
}

}  // namespace
}  // namespace persy::model
