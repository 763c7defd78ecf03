// The operation vocabulary: names, encodings, record choice and the byte decoder.

#include "model/ops.h"

#include <cmath>
#include <cstdint>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace persy::model {
namespace {

TEST(OpsTest, EveryKindHasANameAWeightAndAToString) {
  std::set<std::string> names;
  for (int k = 0; k < kOpKindCount; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    names.insert(OpKindName(kind));
    EXPECT_GT(OpKindWeight(kind), 0);
    Op op;
    op.kind = kind;
    EXPECT_EQ(ToString(op).rfind(OpKindName(kind), 0), 0u) << ToString(op);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kOpKindCount));
  EXPECT_EQ(names.count("?"), 0u);
}

TEST(OpsTest, ToStringShowsTheArguments) {
  Op op;
  op.kind = OpKind::kInsert;
  op.tx = 5;
  op.segment = 2;
  op.bytes = "abc";
  EXPECT_EQ(ToString(op), "Insert(tx1, \"s2\", \"abc\")");
  op.arg = 1;
  EXPECT_EQ(ToString(op), "Insert(tx1, \"s2\", <268435457 bytes: too big>)");
  op = Op{};
  op.kind = OpKind::kUpdate;
  op.segment = 5;
  op.record = -12;
  op.bytes = MakeBytes(5000, 7);
  EXPECT_EQ(ToString(op), "Update(tx0, <300-byte name>, id 1.3, 5000B \"7:hhhhhhhhhh...\")");
  op = Op{};
  op.kind = OpKind::kBegin;
  op.arg = 3;
  EXPECT_EQ(ToString(op), "Begin(tx0, VersionOnRead)");
  op.kind = OpKind::kInjectIoError;
  op.arg = EncodeIoFault(IoFault{true, true, false, 3});
  EXPECT_EQ(ToString(op), "InjectIoError(sync #3, ENOSPC, once)");
  op.kind = OpKind::kRead;
  op.segment = 4;
  op.record = 7;
  EXPECT_EQ(ToString(op), "Read(tx0, \"\", seen[7])");
  EXPECT_EQ(ToString(std::vector<Op>{op, op}),
            "0: Read(tx0, \"\", seen[7])\n1: Read(tx0, \"\", seen[7])\n");
}

TEST(OpsTest, SegmentNames) {
  EXPECT_EQ(SegmentName(0), "s0");
  EXPECT_EQ(SegmentName(3), "s3");
  EXPECT_EQ(SegmentName(4), "");
  EXPECT_EQ(SegmentName(5), std::string(300, 'n'));
  EXPECT_EQ(SegmentName(6), "s0");
  EXPECT_EQ(SegmentName(-1), SegmentName(5));
}

TEST(OpsTest, IndexOpsToString) {
  Op op;
  op.kind = OpKind::kCreateIndex;
  op.index = 1;
  op.arg = 0;
  EXPECT_EQ(ToString(op), "CreateIndex(tx0, \"i1\", u128->i32 exclusive)");
  op.kind = OpKind::kPut;
  op.tx = 2;
  op.key = 3;
  op.value = 17;
  EXPECT_EQ(ToString(op), "Put(tx2, \"i1\", key 3, value 1)");
  op.arg = EncodeIndexArgs(IndexArgs{.wrong_value_type = true});
  EXPECT_EQ(ToString(op), "Put(tx2, \"i1\", key 3, value 1 (wrong type))");
  op.kind = OpKind::kRemove;
  op.arg = 0;
  EXPECT_EQ(ToString(op), "Remove(tx2, \"i1\", key 3, every value)");
  op.arg = EncodeIndexArgs(IndexArgs{.with_value = true});
  EXPECT_EQ(ToString(op), "Remove(tx2, \"i1\", key 3, value 1)");
  op.kind = OpKind::kGetCommitted;
  op.index = 5;
  op.arg = EncodeIndexArgs(IndexArgs{.wrong_key_type = true, .typed = true});
  EXPECT_EQ(ToString(op), "GetCommitted(<300-byte name>, key 3 (wrong type), typed)");
  op.kind = OpKind::kRange;
  op.index = 0;
  IndexArgs range;
  range.from = IndexBound::Kind::kIncluded;
  range.to = IndexBound::Kind::kExcluded;
  range.direction = Direction::kBackward;
  range.limit = 2;
  op.arg = EncodeIndexArgs(range);
  EXPECT_EQ(ToString(op), "Range(tx2, \"i0\", [key 3..key 1), backward, limit 2)");
  op.kind = OpKind::kRangeCommitted;
  op.arg = 0;
  EXPECT_EQ(ToString(op), "RangeCommitted(\"i0\", (..))");
  op.arg = EncodeIndexArgs(
      IndexArgs{.wrong_key_type = true, .wrong_value_type = true, .typed = true});
  EXPECT_EQ(ToString(op),
            "RangeCommitted(\"i0\", (..), typed with a wrong key type and value type)");
  range.typed = true;
  op.arg = EncodeIndexArgs(range);
  EXPECT_EQ(ToString(op), "RangeCommitted(\"i0\", [key 3..key 1), backward, limit 2, typed)");
  op.kind = OpKind::kListIndexesCommitted;
  EXPECT_EQ(ToString(op), "ListIndexesCommitted()");
}

TEST(OpsTest, TwoPhaseAndSnapshotOpsToString) {
  Op op;
  op.kind = OpKind::kPrepare;
  op.tx = 3;
  EXPECT_EQ(ToString(op), "Prepare(tx3)");
  op.kind = OpKind::kDropPrepared;
  EXPECT_EQ(ToString(op), "DropPrepared(tx3)");
  op.kind = OpKind::kTakeSnapshot;
  EXPECT_EQ(ToString(op), "TakeSnapshot(snap1)");
  op.kind = OpKind::kArmRecovery;
  op.arg = EncodeRecoveryPlan(RecoveryPlan{RecoveryWay::kRecover, 0b11100100, 12});
  EXPECT_EQ(ToString(op), "ArmRecovery(Recover: -crm--, power off after 12 events)");
  op.arg = EncodeRecoveryPlan(RecoveryPlan{RecoveryWay::kOpenWithRecover, 0b101, 0});
  EXPECT_EQ(ToString(op), "ArmRecovery(OpenWithRecover: crcrrrrrrrrr)");
  op.arg = 0;
  EXPECT_EQ(ToString(op), "ArmRecovery(Open)");
  op.kind = OpKind::kSnapshotRead;
  op.tx = 0;
  op.segment = 1;
  op.record = 2;
  op.arg = EncodeSnapshotReadArgs(SnapshotReadArgs{SnapshotReadKind::kRead, 0});
  EXPECT_EQ(ToString(op), "SnapshotRead(snap0, Read \"s1\" seen[2])");
  op.arg = EncodeSnapshotReadArgs(SnapshotReadArgs{SnapshotReadKind::kScan, 2});
  EXPECT_EQ(ToString(op), "SnapshotRead(snap0, Scan \"s1\", limit 2)");
  op.arg = EncodeSnapshotReadArgs(SnapshotReadArgs{SnapshotReadKind::kExistsIndex, 0});
  EXPECT_EQ(ToString(op), "SnapshotRead(snap0, ExistsIndex \"i0\")");
  op.kind = OpKind::kSnapshotRange;
  op.arg = 0;
  EXPECT_EQ(ToString(op), "SnapshotRange(snap0, \"i0\", (..))");
}

TEST(OpsTest, RecoveryPlansAndSnapshotReadsRoundTrip) {
  for (int way = 0; way < 3; ++way) {
    for (int decisions : {0, 1, 0x555, 0xfff}) {
      for (int power_off : {0, 1, 63}) {
        const RecoveryPlan plan{static_cast<RecoveryWay>(way), decisions, power_off};
        const RecoveryPlan back = DecodeRecoveryPlan(EncodeRecoveryPlan(plan));
        EXPECT_EQ(back.way, plan.way);
        EXPECT_EQ(back.decisions, plan.decisions);
        EXPECT_EQ(back.power_off, plan.power_off);
      }
    }
  }
  const RecoveryPlan plan{RecoveryWay::kRecover, 0b100111, 0};
  EXPECT_EQ(RecoveryChoiceAt(plan, 0), RecoveryChoice::kMissing);
  EXPECT_EQ(RecoveryChoiceAt(plan, 1), RecoveryChoice::kCommit);
  EXPECT_EQ(RecoveryChoiceAt(plan, 2), RecoveryChoice::kRollback);
  EXPECT_EQ(RecoveryChoiceAt(plan, 3), RecoveryChoice::kLeave);
  EXPECT_EQ(RecoveryChoiceAt(plan, kRecoveryChoices), RecoveryChoice::kLeave);
  EXPECT_TRUE(RecoveryCommits(plan, 0));
  EXPECT_FALSE(RecoveryCommits(plan, 3));
  EXPECT_TRUE(RecoveryCommits(plan, 12));  // positions repeat every 12
  for (int kind = 0; kind < kSnapshotReadKinds; ++kind) {
    for (int limit = 0; limit < 4; ++limit) {
      const SnapshotReadArgs args{static_cast<SnapshotReadKind>(kind), limit};
      const SnapshotReadArgs back = DecodeSnapshotReadArgs(EncodeSnapshotReadArgs(args));
      EXPECT_EQ(back.kind, args.kind);
      EXPECT_EQ(back.limit, args.limit);
    }
  }
}

TEST(OpsTest, TxOps) {
  EXPECT_TRUE(IsTxOp(OpKind::kInsert));
  EXPECT_TRUE(IsTxOp(OpKind::kPut));
  EXPECT_TRUE(IsTxOp(OpKind::kPrepare));
  EXPECT_FALSE(IsTxOp(OpKind::kBegin));
  EXPECT_FALSE(IsTxOp(OpKind::kCommitPrepared));
  EXPECT_FALSE(IsTxOp(OpKind::kSnapshotRead));
  EXPECT_TRUE(IsIndexOp(OpKind::kSnapshotGet));
  EXPECT_FALSE(IsIndexOp(OpKind::kPrepare));
}

TEST(OpsTest, IndexNames) {
  EXPECT_EQ(IndexName(0), "i0");
  EXPECT_EQ(IndexName(3), "i3");
  EXPECT_EQ(IndexName(4), "");
  EXPECT_EQ(IndexName(5), std::string(300, 'n'));
  EXPECT_EQ(IndexName(-1), IndexName(5));
  EXPECT_TRUE(IsIndexOp(OpKind::kCreateIndex));
  EXPECT_TRUE(IsIndexOp(OpKind::kListIndexesCommitted));
  EXPECT_FALSE(IsIndexOp(OpKind::kReopen));
}

TEST(OpsTest, EachNameGetsEveryIndexSpecOnce) {
  for (int index = 0; index < kIndexNameCount; ++index) {
    std::set<std::tuple<IndexType, IndexType, ValueMode>> specs;
    for (int arg = 0; arg < kIndexSpecCount; ++arg) {
      const IndexSpec spec = IndexSpecFor(index, arg);
      specs.emplace(spec.key_type, spec.value_type, spec.mode);
    }
    EXPECT_EQ(specs.size(), static_cast<size_t>(kIndexSpecCount));
  }
  const IndexSpec a = IndexSpecFor(2, 7);
  const IndexSpec b = IndexSpecFor(2, 7 + kIndexSpecCount);
  EXPECT_EQ(std::tie(a.key_type, a.value_type, a.mode), std::tie(b.key_type, b.value_type, b.mode));
}

TEST(OpsTest, IndexValuesHaveTheirTypeAndTheEdges) {
  for (int t = 0; t < kIndexTypeCount; ++t) {
    const IndexType type = static_cast<IndexType>(t);
    std::set<std::string> printed;
    for (int pick = 0; pick < kIndexValuePicks; ++pick) {
      const IndexValue v = IndexValueFor(type, pick);
      EXPECT_EQ(TypeOf(v), type);
      EXPECT_TRUE(SameIndexValue(v, IndexValueFor(type, pick + kIndexValuePicks)));
      printed.insert(IndexValueText(v));
    }
    EXPECT_GE(printed.size(), 9u) << IndexTypeName(type);  // u8 repeats a few
    EXPECT_NE(OtherIndexType(type, t), type);
  }
  // Strings and bytes: the limit and one over it, only at picks 14 and 15.
  for (IndexType type : {IndexType::kString, IndexType::kBytes}) {
    for (int pick = 0; pick < kIndexValuePicks; ++pick) {
      const size_t size = IndexValueSize(IndexValueFor(type, pick));
      EXPECT_EQ(size > 512, pick == 15);
      if (pick == 14) {
        EXPECT_EQ(size, 512u);
      }
    }
  }
  // Floats: -0.0 and NaN among the ordinary picks, and two NaNs that are one key.
  const auto f64 = [](int pick) { return std::get<double>(IndexValueFor(IndexType::kF64, pick)); };
  EXPECT_TRUE(std::signbit(f64(4)) && f64(4) == 0);
  EXPECT_TRUE(std::isnan(f64(6)));
  EXPECT_TRUE(std::isnan(f64(14)) && std::signbit(f64(14)));
  EXPECT_TRUE(
      SameIndexValue(IndexValueFor(IndexType::kF32, 6), IndexValueFor(IndexType::kF32, 14)));
  // 128-bit values beyond 64 bits.
  EXPECT_GT(std::get<u128>(IndexValueFor(IndexType::kU128, 13)), u128{~uint64_t{0}});
  EXPECT_LT(std::get<i128>(IndexValueFor(IndexType::kI128, 12)), i128{INT64_MIN});
}

TEST(OpsTest, IndexArgsRoundTrip) {
  for (int arg = 0; arg < 2048; ++arg) {
    const IndexArgs args = DecodeIndexArgs(arg);
    EXPECT_EQ(EncodeIndexArgs(args), EncodeIndexArgs(DecodeIndexArgs(EncodeIndexArgs(args))));
  }
  IndexArgs args;
  args.wrong_key_type = true;
  args.typed = true;
  args.to = IndexBound::Kind::kExcluded;
  args.direction = Direction::kBackward;
  args.limit = 3;
  const IndexArgs back = DecodeIndexArgs(EncodeIndexArgs(args));
  EXPECT_TRUE(back.wrong_key_type);
  EXPECT_FALSE(back.wrong_value_type);
  EXPECT_FALSE(back.with_value);
  EXPECT_TRUE(back.typed);
  EXPECT_EQ(back.from, IndexBound::Kind::kUnbounded);
  EXPECT_EQ(back.to, IndexBound::Kind::kExcluded);
  EXPECT_EQ(back.direction, Direction::kBackward);
  EXPECT_EQ(back.limit, 3);
}

TEST(OpsTest, PreludeCreatesTwoIndexes) {
  const std::vector<Op> ops = Prelude(123);
  ASSERT_EQ(ops.size(), 6u);
  EXPECT_EQ(ops[3].kind, OpKind::kCreateIndex);
  EXPECT_EQ(ops[3].arg, 123);
  EXPECT_EQ(IndexName(ops[3].index), "i0");
  EXPECT_EQ(ops[4].kind, OpKind::kCreateIndex);
  EXPECT_EQ(IndexName(ops[4].index), "i1");
  EXPECT_EQ(ops.back().kind, OpKind::kCommit);
}

TEST(OpsTest, BeginStrategy) {
  EXPECT_EQ(BeginStrategy(0), std::nullopt);
  EXPECT_EQ(BeginStrategy(1), Strategy::kLastWriterWins);
  EXPECT_EQ(BeginStrategy(2), Strategy::kVersionOnWrite);
  EXPECT_EQ(BeginStrategy(3), Strategy::kVersionOnRead);
}

TEST(OpsTest, RecordForPicksSeenIdsOrFabricates) {
  const std::vector<Id> seen = {{1, 1}, {2, 5}, {1, 2}};
  EXPECT_EQ(RecordFor(0, {}), (Id{1, 1}));
  EXPECT_EQ(RecordFor(1, seen), (Id{2, 5}));
  EXPECT_EQ(RecordFor(4, seen), (Id{2, 5}));
  EXPECT_EQ(RecordFor(-1, seen), (Id{0, 0}));
  EXPECT_EQ(RecordFor(-12, seen), (Id{1, 3}));
  EXPECT_EQ(RecordFor(-64, seen), (Id{7, 7}));
  // Records committed in the op's segment; as seen[k] when there is none.
  const std::vector<Id> committed = {{3, 1}, {3, 4}};
  EXPECT_EQ(RecordFor(kSegmentRecordBase + 1, seen, committed), (Id{3, 4}));
  EXPECT_EQ(RecordFor(kSegmentRecordBase + 2, seen, committed), (Id{3, 1}));
  EXPECT_EQ(RecordFor(kSegmentRecordBase + 1, seen), RecordFor(1, seen));
  std::set<Id> fabricated;
  for (int r = -1; r >= -64; --r) fabricated.insert(RecordFor(r, {}));
  EXPECT_EQ(fabricated.size(), 64u);
}

TEST(OpsTest, IoFaultRoundTrips) {
  for (bool sync : {false, true}) {
    for (bool enospc : {false, true}) {
      for (bool persistent : {false, true}) {
        for (int nth : {1, 2, 17, 64}) {
          const IoFault fault{sync, enospc, persistent, nth};
          const IoFault back = DecodeIoFault(EncodeIoFault(fault));
          EXPECT_EQ(back.sync, sync);
          EXPECT_EQ(back.enospc, enospc);
          EXPECT_EQ(back.persistent, persistent);
          EXPECT_EQ(back.nth, nth);
        }
      }
    }
  }
}

TEST(OpsTest, MakeBytesTellsRecordsAndPagesApart) {
  EXPECT_EQ(MakeBytes(0, 12), "");
  EXPECT_EQ(MakeBytes(2, 12), "12");
  EXPECT_EQ(MakeBytes(6, 12), "12:mmm");
  const std::string big = MakeBytes(9000, 3);
  EXPECT_EQ(big.size(), 9000u);
  EXPECT_NE(big.substr(64, 64), big.substr(128, 64));
  EXPECT_NE(big.substr(4096, 100), big.substr(0, 100));
  EXPECT_NE(MakeBytes(100, 3), MakeBytes(100, 4));
}

TEST(OpsTest, DecodeOpsIsDeterministicAndInRange) {
  EXPECT_TRUE(DecodeOps(nullptr, 0).empty());
  std::vector<uint8_t> data(4096);
  uint64_t x = 88172645463325252ull;
  for (uint8_t& b : data) {  // xorshift
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  const std::vector<Op> ops = DecodeOps(data.data(), data.size());
  EXPECT_EQ(ops, DecodeOps(data.data(), data.size()));
  EXPECT_EQ(ops.size(), 256u);
  std::set<OpKind> kinds;
  std::set<int> picks;
  bool wrong_type = false;
  bool too_big = false;
  bool long_tx_id = false;
  bool multi_page = false;
  for (const Op& op : ops) {
    kinds.insert(op.kind);
    EXPECT_GE(op.tx, 0);
    EXPECT_LT(op.tx, kTxSlots);
    EXPECT_GE(op.segment, 0);
    EXPECT_LT(op.segment, kSegmentNameCount);
    EXPECT_LE(op.bytes.size(), 9000u);
    if (op.kind == OpKind::kCrashInNextCommit) {
      EXPECT_GE(op.arg, 1);
    }
    if (op.kind == OpKind::kInsert || op.kind == OpKind::kUpdate) {
      too_big |= op.arg == 1;
      multi_page |= op.bytes.size() > 4096;
    }
    if (op.kind == OpKind::kBegin) long_tx_id |= op.bytes.size() > 512;
    EXPECT_GE(op.index, 0);
    EXPECT_LT(op.index, kIndexNameCount);
    if (op.kind == OpKind::kCreateIndex) {
      EXPECT_GE(op.arg, 0);
      EXPECT_LT(op.arg, kIndexSpecCount);
    }
    if (op.kind == OpKind::kPut || op.kind == OpKind::kGet || op.kind == OpKind::kRange) {
      EXPECT_GE(op.key, 0);
      EXPECT_LT(op.key, kIndexValuePicks);
      EXPECT_EQ(op.arg, EncodeIndexArgs(DecodeIndexArgs(op.arg)));
      picks.insert(op.key);
      const IndexArgs args = DecodeIndexArgs(op.arg);
      wrong_type |= args.wrong_key_type || args.wrong_value_type;
    }
  }
  EXPECT_GE(picks.size(), 10u);
  (void)wrong_type;
  EXPECT_GE(kinds.size(), 15u);
  EXPECT_TRUE(multi_page);
  (void)too_big;
  (void)long_tx_id;
  // Every kind is reachable from its first byte.
  std::set<OpKind> all;
  for (int b = 0; b < 256; ++b) {
    const uint8_t one[2] = {static_cast<uint8_t>(b), 0};
    all.insert(DecodeOps(one, 2).at(0).kind);
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kOpKindCount));
}

}  // namespace
}  // namespace persy::model
