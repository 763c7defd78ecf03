// The operation vocabulary: names, encodings, record choice and the byte decoder.

#include "model/ops.h"

#include <cstdint>
#include <set>
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
  }
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
