// The index half of the reference model alone: the order of keys and values (floats with -0.0
// and NaN, 128-bit integers, bytes), sizes, every error of the index calls in order, the three
// value modes, ranges, visibility, the index commit checks 3, 4, 7 and 8 with two transactions,
// and the index id counter across crashes.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/index_model.h"
#include "model/model.h"

namespace persy::model {
namespace {

using TxId = Model::TxId;
using Kind = IndexBound::Kind;
constexpr Strategy kLww = Strategy::kLastWriterWins;
constexpr Strategy kOnWrite = Strategy::kVersionOnWrite;
constexpr Strategy kOnRead = Strategy::kVersionOnRead;
constexpr ValueMode kReplace = ValueMode::kReplace;
constexpr ValueMode kExclusive = ValueMode::kExclusive;
constexpr ValueMode kCluster = ValueMode::kCluster;

IndexValue U64(uint64_t v) { return IndexValue(std::in_place_type<uint64_t>, v); }
IndexValue I32(int32_t v) { return IndexValue(std::in_place_type<int32_t>, v); }
IndexValue F32(float v) { return IndexValue(std::in_place_type<float>, v); }
IndexValue F64(double v) { return IndexValue(std::in_place_type<double>, v); }
IndexValue U128(u128 v) { return IndexValue(std::in_place_type<u128>, v); }
IndexValue I128(i128 v) { return IndexValue(std::in_place_type<i128>, v); }
IndexValue Str(std::string v) { return IndexValue(std::in_place_type<std::string>, std::move(v)); }
IndexValue Bytes(std::string v) {
  return IndexValue(std::in_place_type<ByteString>, ByteString{std::move(v)});
}
IndexValue Rid(uint32_t s, uint64_t n) { return IndexValue(std::in_place_type<RecordId>, s, n); }

std::vector<IndexValue> Values(std::initializer_list<IndexValue> values) { return values; }

// Asserts that `values` are in strictly increasing order, every pair compared both ways.
void ExpectIncreasing(const std::vector<IndexValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = 0; j < values.size(); ++j) {
      const int c = CompareIndexValues(values[i], values[j]);
      EXPECT_EQ(c < 0, i < j) << IndexValueText(values[i]) << " vs " << IndexValueText(values[j]);
      EXPECT_EQ(c == 0, i == j) << IndexValueText(values[i]) << " vs " << IndexValueText(values[j]);
    }
  }
}

// ---- Order and sizes ----

template <typename F>
void ExpectFloatOrder() {
  using L = std::numeric_limits<F>;
  const auto v = [](F f) { return IndexValue(std::in_place_type<F>, f); };
  ExpectIncreasing({v(-L::infinity()), v(-L::max()), v(F(-1.5)), v(-L::min()),
                    v(-L::denorm_min()), v(F(-0.0)), v(F(0.0)), v(L::denorm_min()), v(L::min()),
                    v(F(1)), v(L::max()), v(L::infinity()), v(L::quiet_NaN())});
  // Every NaN is the same value, whatever its sign and payload.
  EXPECT_TRUE(SameIndexValue(v(L::quiet_NaN()), v(-L::quiet_NaN())));
  EXPECT_TRUE(SameIndexValue(v(L::quiet_NaN()), v(L::signaling_NaN())));
  EXPECT_TRUE(SameIndexValue(v(std::nan("7")), v(L::quiet_NaN())));
  EXPECT_FALSE(SameIndexValue(v(F(-0.0)), v(F(0.0))));
}

TEST(IndexOrderTest, FloatsAreTotallyOrdered) {
  ExpectFloatOrder<float>();
  ExpectFloatOrder<double>();
}

TEST(IndexOrderTest, IntegersIncluding128Bits) {
  const i128 two64 = i128{1} << 64;
  const i128 i128_max = static_cast<i128>(~u128{0} >> 1);
  ExpectIncreasing({I128(-i128_max - 1), I128(-two64 - 1), I128(-two64), I128(-1), I128(0),
                    I128(1), I128(two64 - 1), I128(two64), I128(i128_max)});
  ExpectIncreasing({U128(0), U128(1), U128((u128{1} << 64) - 1), U128(u128{1} << 64),
                    U128(u128{1} << 127), U128(~u128{0})});
  ExpectIncreasing({I32(std::numeric_limits<int32_t>::min()), I32(-1), I32(0), I32(7),
                    I32(std::numeric_limits<int32_t>::max())});
  ExpectIncreasing({U64(0), U64(1), U64(uint64_t{1} << 63), U64(~uint64_t{0})});
}

TEST(IndexOrderTest, StringsBytesAndRecordIds) {
  ExpectIncreasing({Str(""), Str(std::string(1, '\0')), Str("a"), Str("ab"), Str("b"),
                    Str("\x7f"), Str("\x80"), Str("\xff"), Str("\xff\xff")});
  ExpectIncreasing({Bytes(""), Bytes("a"), Bytes("a\x01"), Bytes("\x80")});
  ExpectIncreasing({Rid(0, 0), Rid(1, 1), Rid(1, 2), Rid(1, uint64_t{1} << 40), Rid(2, 0)});
  // Another type is another value, even with the same bytes.
  EXPECT_FALSE(SameIndexValue(Str("a"), Bytes("a")));
  EXPECT_FALSE(SameIndexValue(U64(1), I32(1)));
}

TEST(IndexOrderTest, Sizes) {
  EXPECT_EQ(IndexValueSize(IndexValue(std::in_place_type<uint8_t>, 1)), 1u);
  EXPECT_EQ(IndexValueSize(IndexValue(std::in_place_type<int8_t>, 1)), 1u);
  EXPECT_EQ(IndexValueSize(IndexValue(std::in_place_type<uint16_t>, 1)), 2u);
  EXPECT_EQ(IndexValueSize(I32(1)), 4u);
  EXPECT_EQ(IndexValueSize(F32(1)), 4u);
  EXPECT_EQ(IndexValueSize(U64(1)), 8u);
  EXPECT_EQ(IndexValueSize(F64(1)), 8u);
  EXPECT_EQ(IndexValueSize(U128(1)), 16u);
  EXPECT_EQ(IndexValueSize(I128(1)), 16u);
  EXPECT_EQ(IndexValueSize(Str("")), 0u);
  EXPECT_EQ(IndexValueSize(Bytes(std::string(513, 'b'))), 513u);
  EXPECT_EQ(IndexValueSize(Rid(1, 1)), 12u);
}

TEST(IndexOrderTest, ReplayByMode) {
  ValueSet values;
  ReplayOp(kCluster, IndexOp{true, U64(2)}, values);
  ReplayOp(kCluster, IndexOp{true, U64(1)}, values);
  ReplayOp(kCluster, IndexOp{true, U64(2)}, values);
  EXPECT_TRUE(SameIndexValues(ToVector(values), Values({U64(1), U64(2)})));
  EXPECT_TRUE(IsDuplicate(kExclusive, values, U64(1)));
  EXPECT_FALSE(IsDuplicate(kReplace, values, U64(1)));
  ReplayOp(kCluster, IndexOp{false, U64(1)}, values);
  EXPECT_FALSE(IsDuplicate(kExclusive, values, U64(2)));
  EXPECT_TRUE(IsDuplicate(kExclusive, values, U64(3)));
  ReplayOp(kReplace, IndexOp{true, U64(3)}, values);
  EXPECT_TRUE(SameIndexValues(ToVector(values), Values({U64(3)})));
  ReplayOp(kReplace, IndexOp{false, std::nullopt}, values);
  EXPECT_TRUE(values.empty());
  EXPECT_FALSE(IsDuplicate(kExclusive, values, U64(3)));
}

// ---- The model's index calls ----

class IndexModelTest : public ::testing::Test {
 protected:
  TxId Begin(Strategy strategy = kLww) {
    Result<TxId> tx = m_.Begin(strategy);
    EXPECT_TRUE(tx.ok());
    return tx.value;
  }
  // Commits index `name` (u64 -> u64) of `mode`, with `entries` put into it in order.
  void SetUpIndex(const std::string& name, ValueMode mode,
                  const std::vector<std::pair<uint64_t, uint64_t>>& entries = {}) {
    const TxId tx = Begin();
    ASSERT_EQ(m_.CreateIndex(tx, name, IndexType::kU64, IndexType::kU64, mode), Error::kNone);
    for (const auto& [k, v] : entries) ASSERT_EQ(m_.Put(tx, name, U64(k), U64(v)), Error::kNone);
    ASSERT_EQ(m_.Commit(tx), Error::kNone);
  }
  std::vector<IndexValue> Get(TxId tx, const std::string& name, uint64_t key) {
    Result<std::vector<IndexValue>> r = m_.Get(tx, name, U64(key));
    EXPECT_EQ(r.error, Error::kNone);
    return r.value;
  }
  std::vector<IndexValue> GetCommitted(const std::string& name, uint64_t key) {
    Result<std::vector<IndexValue>> r = m_.GetCommitted(name, U64(key));
    EXPECT_EQ(r.error, Error::kNone);
    return r.value;
  }
  // Keys of a committed range, in the order visited.
  std::vector<uint64_t> Keys(const std::string& name, IndexBound from, IndexBound to,
                             Direction direction = Direction::kForward, size_t limit = 0) {
    Result<std::vector<IndexEntry>> r = m_.RangeCommitted(name, from, to, direction, limit);
    EXPECT_EQ(r.error, Error::kNone);
    std::vector<uint64_t> out;
    for (const IndexEntry& e : r.value) out.push_back(std::get<uint64_t>(e.key));
    return out;
  }

  Model m_;
};

#define EXPECT_VALUES(got, ...) EXPECT_TRUE(SameIndexValues(got, Values({__VA_ARGS__}))) \
    << IndexValuesText(got)

TEST_F(IndexModelTest, CreateIndexErrorsInOrder) {
  const TxId tx = Begin();
  EXPECT_EQ(m_.CreateIndex(tx, "", IndexType::kU8, IndexType::kU8, kReplace),
            Error::kInvalidArgument);
  EXPECT_EQ(m_.CreateIndex(tx, std::string(256, 'n'), IndexType::kU8, IndexType::kU8, kReplace),
            Error::kInvalidArgument);
  EXPECT_EQ(m_.CreateIndex(tx, std::string(255, 'n'), IndexType::kU8, IndexType::kU8, kReplace),
            Error::kNone);
  EXPECT_EQ(m_.CreateIndex(tx, std::string(255, 'n'), IndexType::kU8, IndexType::kU8, kCluster),
            Error::kIndexAlreadyExists);
  ASSERT_EQ(m_.Rollback(tx), Error::kNone);
  EXPECT_EQ(m_.CreateIndex(tx, "", IndexType::kU8, IndexType::kU8, kReplace),
            Error::kTransactionFinished);
}

TEST_F(IndexModelTest, IndexesAndSegmentsAreSeparateNamespaces) {
  const TxId tx = Begin();
  ASSERT_EQ(m_.CreateSegment(tx, "x"), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(tx, "x", IndexType::kString, IndexType::kRecordId, kCluster),
            Error::kNone);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_EQ(m_.ListCommitted(), (std::vector<SegmentInfo>{{"x", 1}}));
  EXPECT_EQ(m_.ListIndexesCommitted(),
            (std::vector<IndexInfo>{{"x", 1, IndexType::kString, IndexType::kRecordId, kCluster}}));
  const TxId drop = Begin();
  ASSERT_EQ(m_.DropSegment(drop, "x"), Error::kNone);
  EXPECT_TRUE(m_.ExistsIndex(drop, "x").value);
  EXPECT_EQ(m_.DropIndex(drop, "y"), Error::kIndexNotFound);
}

TEST_F(IndexModelTest, IndexIdsComeFromTheirOwnCounterAlsoInRolledBackTransactions) {
  const TxId a = Begin();
  ASSERT_EQ(m_.CreateSegment(a, "s"), Error::kNone);                                   // s#1
  ASSERT_EQ(m_.CreateIndex(a, "i", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);  // #1
  ASSERT_EQ(m_.Rollback(a), Error::kNone);
  const TxId b = Begin();
  ASSERT_EQ(m_.CreateIndex(b, "i", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(b, "j", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  EXPECT_EQ(m_.ListIndexes(b).value,
            (std::vector<IndexInfo>{{"i", 2, IndexType::kU8, IndexType::kU8, kReplace},
                                    {"j", 3, IndexType::kU8, IndexType::kU8, kReplace}}));
  EXPECT_EQ(m_.counters().next_index_id, 4u);
  EXPECT_EQ(m_.counters().next_segment_id, 2u);
}

TEST_F(IndexModelTest, PersistedIndexCounterTakesTheHighestIdOfEachCommit) {
  const TxId a = Begin();
  const TxId b = Begin();
  ASSERT_EQ(m_.CreateIndex(a, "i", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);  // 1
  ASSERT_EQ(m_.CreateIndex(b, "j", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);  // 2
  ASSERT_EQ(m_.CreateIndex(a, "k", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);  // 3
  ASSERT_EQ(m_.Commit(b), Error::kNone);
  m_.Crash();
  EXPECT_EQ(m_.counters().next_index_id, 3u);  // a's ids are handed out again
  const TxId c = Begin();
  ASSERT_EQ(m_.CreateIndex(c, "k", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);  // 3
  ASSERT_EQ(m_.CreateIndex(c, "l", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);  // 4
  ASSERT_EQ(m_.Commit(c), Error::kNone);
  const TxId d = Begin();  // takes 5 and rolls back: not persisted
  ASSERT_EQ(m_.CreateIndex(d, "m", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.Rollback(d), Error::kNone);
  EXPECT_EQ(m_.counters().next_index_id, 6u);
  m_.Crash();
  EXPECT_EQ(m_.counters().next_index_id, 5u);
  EXPECT_TRUE(m_.Resolve(m_.dump(), m_.counters()).ok());
  Counters wrong = m_.counters();
  m_.Crash();
  wrong.next_index_id = 6;
  EXPECT_FALSE(m_.Resolve(m_.dump(), wrong).ok());
}

TEST_F(IndexModelTest, DropIndexErrors) {
  SetUpIndex("i", kReplace);
  const TxId tx = Begin();
  EXPECT_EQ(m_.DropIndex(tx, "nope"), Error::kIndexNotFound);
  ASSERT_EQ(m_.CreateIndex(tx, "j", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  EXPECT_EQ(m_.DropIndex(tx, "j"), Error::kCannotDropIndexCreatedInTx);
  EXPECT_EQ(m_.DropIndex(tx, "i"), Error::kNone);
  EXPECT_EQ(m_.DropIndex(tx, "i"), Error::kIndexNotFound);
  EXPECT_EQ(m_.Put(tx, "i", U64(1), U64(1)), Error::kIndexNotFound);
  // Dropped, then created again in the same tx: a new index, which it cannot drop.
  ASSERT_EQ(m_.CreateIndex(tx, "i", IndexType::kString, IndexType::kU8, kCluster), Error::kNone);
  EXPECT_EQ(m_.DropIndex(tx, "i"), Error::kCannotDropIndexCreatedInTx);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_EQ(m_.CommittedIndex("i")->key_type, IndexType::kString);
  EXPECT_EQ(m_.CommittedIndex("i")->id, 3u);
}

TEST_F(IndexModelTest, PutErrorsInOrder) {
  const TxId tx = Begin();
  ASSERT_EQ(m_.CreateIndex(tx, "s", IndexType::kString, IndexType::kBytes, kExclusive),
            Error::kNone);
  const IndexValue big_key = Str(std::string(513, 'k'));
  const IndexValue big_value = Bytes(std::string(513, 'v'));
  EXPECT_EQ(m_.Put(tx, "t", U64(1), U64(1)), Error::kIndexNotFound);
  EXPECT_EQ(m_.Put(tx, "s", Bytes("k"), Str("v")), Error::kIndexTypeMismatch);  // key first
  EXPECT_EQ(m_.Put(tx, "s", Str("k"), Str("v")), Error::kIndexTypeMismatch);    // then value
  EXPECT_EQ(m_.Put(tx, "s", big_key, Str("v")), Error::kIndexTypeMismatch);     // types first
  EXPECT_EQ(m_.Put(tx, "s", big_key, big_value), Error::kKeyTooBig);
  EXPECT_EQ(m_.Put(tx, "s", Str("k"), big_value), Error::kValueTooBig);
  EXPECT_EQ(m_.Put(tx, "s", Str(std::string(512, 'k')), Bytes(std::string(512, 'v'))),
            Error::kNone);
  ASSERT_EQ(m_.Put(tx, "s", Str("k"), Bytes("v")), Error::kNone);
  EXPECT_EQ(m_.Put(tx, "s", Str("k"), big_value), Error::kValueTooBig);  // before the duplicate
  EXPECT_EQ(m_.Put(tx, "s", Str("k"), Bytes("w")), Error::kIndexDuplicateKey);
  EXPECT_EQ(m_.Put(tx, "s", Str("k"), Bytes("v")), Error::kNone);  // the same value again
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_EQ(m_.Put(tx, "t", U64(1), U64(1)), Error::kTransactionFinished);
}

TEST_F(IndexModelTest, RemoveErrorsInOrder) {
  SetUpIndex("i", kCluster, {{1, 10}});
  const TxId tx = Begin();
  EXPECT_EQ(m_.Remove(tx, "j", U64(1), std::nullopt), Error::kIndexNotFound);
  EXPECT_EQ(m_.Remove(tx, "i", I32(1), Str("x")), Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.Remove(tx, "i", U64(1), Str("x")), Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.Remove(tx, "i", U64(1), U64(11)), Error::kNone);  // absent: fine
  EXPECT_EQ(m_.Remove(tx, "i", U64(2), std::nullopt), Error::kNone);
  EXPECT_VALUES(Get(tx, "i", 1), U64(10));
  const TxId s = Begin();
  ASSERT_EQ(m_.CreateIndex(s, "s", IndexType::kString, IndexType::kString, kCluster),
            Error::kNone);
  EXPECT_EQ(m_.Remove(s, "s", Str(std::string(513, 'k')), Str(std::string(513, 'v'))),
            Error::kKeyTooBig);
  EXPECT_EQ(m_.Remove(s, "s", Str("k"), Str(std::string(513, 'v'))), Error::kValueTooBig);
  EXPECT_EQ(m_.Remove(s, "s", Str("k"), std::nullopt), Error::kNone);
  ASSERT_EQ(m_.Rollback(s), Error::kNone);
  EXPECT_EQ(m_.Remove(s, "s", Str("k"), std::nullopt), Error::kTransactionFinished);
}

TEST_F(IndexModelTest, GetErrorsInOrderAndTheTypedValueCheck) {
  SetUpIndex("i", kReplace, {{1, 10}});
  const TxId tx = Begin();
  EXPECT_EQ(m_.Get(tx, "j", U64(1)).error, Error::kIndexNotFound);
  EXPECT_EQ(m_.Get(tx, "i", I32(1), IndexType::kString).error, Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.Get(tx, "i", U64(1), IndexType::kString).error, Error::kIndexTypeMismatch);
  EXPECT_VALUES(m_.Get(tx, "i", U64(1), IndexType::kU64).value, U64(10));
  EXPECT_VALUES(m_.GetCommitted("i", U64(2), IndexType::kU64).value);
  EXPECT_EQ(m_.GetCommitted("i", U64(1), IndexType::kU8).error, Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.GetCommitted("j", U64(1)).error, Error::kIndexNotFound);
  const TxId s = Begin();
  ASSERT_EQ(m_.CreateIndex(s, "s", IndexType::kBytes, IndexType::kString, kCluster),
            Error::kNone);
  EXPECT_EQ(m_.Get(s, "s", Bytes(std::string(513, 'k')), IndexType::kU8).error,
            Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.Get(s, "s", Bytes(std::string(513, 'k'))).error, Error::kKeyTooBig);
  EXPECT_VALUES(m_.Get(s, "s", Bytes(std::string(512, 'k'))).value);
}

TEST_F(IndexModelTest, ReplaceExclusiveAndClusterModes) {
  SetUpIndex("r", kReplace, {{1, 10}, {1, 11}});
  SetUpIndex("e", kExclusive, {{1, 10}});
  SetUpIndex("c", kCluster, {{1, 12}, {1, 10}, {1, 12}, {2, 5}});
  EXPECT_VALUES(GetCommitted("r", 1), U64(11));
  EXPECT_VALUES(GetCommitted("e", 1), U64(10));
  EXPECT_VALUES(GetCommitted("c", 1), U64(10), U64(12));
  const TxId tx = Begin();
  EXPECT_EQ(m_.Put(tx, "e", U64(1), U64(11)), Error::kIndexDuplicateKey);
  EXPECT_VALUES(Get(tx, "e", 1), U64(10));  // nothing was recorded
  ASSERT_EQ(m_.Remove(tx, "e", U64(1), U64(10)), Error::kNone);
  EXPECT_EQ(m_.Put(tx, "e", U64(1), U64(11)), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "c", U64(1), U64(11)), Error::kNone);
  ASSERT_EQ(m_.Remove(tx, "c", U64(1), U64(12)), Error::kNone);
  ASSERT_EQ(m_.Remove(tx, "c", U64(2), std::nullopt), Error::kNone);
  EXPECT_VALUES(Get(tx, "c", 1), U64(10), U64(11));
  EXPECT_VALUES(Get(tx, "c", 2));
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_VALUES(GetCommitted("e", 1), U64(11));
  EXPECT_VALUES(GetCommitted("c", 1), U64(10), U64(11));
  EXPECT_EQ(Keys("c", IndexBound::Unbounded(), IndexBound::Unbounded()), std::vector<uint64_t>{1});
}

TEST_F(IndexModelTest, ClusterValuesFollowTheFloatOrder) {
  const TxId tx = Begin();
  ASSERT_EQ(m_.CreateIndex(tx, "f", IndexType::kF64, IndexType::kF32, kCluster), Error::kNone);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float v : {nan, 0.0f, -0.0f, -nan, 1.0f, -std::numeric_limits<float>::infinity()}) {
    ASSERT_EQ(m_.Put(tx, "f", F64(-0.0), F32(v)), Error::kNone);
  }
  ASSERT_EQ(m_.Put(tx, "f", F64(0.0), F32(1)), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "f", F64(std::nan("")), F32(1)), Error::kNone);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_VALUES(m_.GetCommitted("f", F64(-0.0)).value,
                F32(-std::numeric_limits<float>::infinity()), F32(-0.0f), F32(0.0f), F32(1),
                F32(nan));
  EXPECT_VALUES(m_.GetCommitted("f", F64(0.0)).value, F32(1));
  EXPECT_VALUES(m_.GetCommitted("f", F64(-std::nan(""))).value, F32(1));  // any NaN finds it
  const Dump dump = m_.dump();
  ASSERT_EQ(dump.indexes.count("f"), 1u);
  ASSERT_EQ(dump.indexes.at("f").entries.size(), 3u);
  EXPECT_TRUE(SameIndexValue(dump.indexes.at("f").entries[0].key, F64(-0.0)));
  EXPECT_TRUE(SameIndexValue(dump.indexes.at("f").entries[2].key, F64(std::nan(""))));
}

TEST_F(IndexModelTest, RangeBoundsDirectionsAndLimits) {
  SetUpIndex("i", kReplace, {{1, 1}, {3, 3}, {5, 5}, {7, 7}});
  const auto in = [](uint64_t k) { return IndexBound::Included(U64(k)); };
  const auto ex = [](uint64_t k) { return IndexBound::Excluded(U64(k)); };
  const IndexBound all = IndexBound::Unbounded();
  using V = std::vector<uint64_t>;
  EXPECT_EQ(Keys("i", all, all), (V{1, 3, 5, 7}));
  EXPECT_EQ(Keys("i", all, all, Direction::kBackward), (V{7, 5, 3, 1}));
  EXPECT_EQ(Keys("i", in(3), in(5)), (V{3, 5}));
  EXPECT_EQ(Keys("i", ex(3), in(7)), (V{5, 7}));
  EXPECT_EQ(Keys("i", in(2), ex(7), Direction::kBackward), (V{5, 3}));
  EXPECT_EQ(Keys("i", ex(1), all), (V{3, 5, 7}));
  EXPECT_EQ(Keys("i", all, ex(3)), (V{1}));
  EXPECT_EQ(Keys("i", in(5), in(5)), (V{5}));
  EXPECT_EQ(Keys("i", in(5), ex(5)), V{});
  EXPECT_EQ(Keys("i", in(6), in(2)), V{});  // from after to: nothing, in both directions
  EXPECT_EQ(Keys("i", in(6), in(2), Direction::kBackward), V{});
  EXPECT_EQ(Keys("i", all, all, Direction::kForward, 2), (V{1, 3}));
  EXPECT_EQ(Keys("i", all, all, Direction::kBackward, 3), (V{7, 5, 3}));
  EXPECT_EQ(Keys("i", all, all, Direction::kBackward, 9), (V{7, 5, 3, 1}));
}

TEST_F(IndexModelTest, RangeErrorsInOrder) {
  const TxId tx = Begin();
  ASSERT_EQ(m_.CreateIndex(tx, "s", IndexType::kString, IndexType::kU8, kReplace), Error::kNone);
  const IndexBound big = IndexBound::Included(Str(std::string(513, 'k')));
  const IndexBound wrong = IndexBound::Excluded(U64(1));
  const IndexBound all = IndexBound::Unbounded();  // its key (u8 0) is ignored
  const auto range = [&](const IndexBound& from, const IndexBound& to) {
    return m_.Range(tx, "s", from, to, Direction::kForward).error;
  };
  EXPECT_EQ(m_.Range(tx, "t", all, all, Direction::kForward).error, Error::kIndexNotFound);
  EXPECT_EQ(range(big, wrong), Error::kIndexTypeMismatch);  // both types before any size
  EXPECT_EQ(range(wrong, big), Error::kIndexTypeMismatch);
  EXPECT_EQ(range(all, big), Error::kKeyTooBig);
  EXPECT_EQ(range(big, all), Error::kKeyTooBig);
  EXPECT_EQ(range(all, all), Error::kNone);
  EXPECT_EQ(range(IndexBound::Included(Str(std::string(512, 'k'))), all), Error::kNone);
  // The typed Range<K, V>: K and V first, then the bounds as above.
  const auto typed = [&](IndexType key, IndexType value, const IndexBound& from,
                         const IndexBound& to) {
    return m_.Range(tx, "s", from, to, Direction::kForward, 0, RangeTypes{key, value}).error;
  };
  EXPECT_EQ(typed(IndexType::kString, IndexType::kU8, all, all), Error::kNone);
  EXPECT_EQ(typed(IndexType::kU64, IndexType::kU8, all, all), Error::kIndexTypeMismatch);
  EXPECT_EQ(typed(IndexType::kString, IndexType::kU16, all, all), Error::kIndexTypeMismatch);
  EXPECT_EQ(typed(IndexType::kString, IndexType::kU16, all, big), Error::kIndexTypeMismatch);
  EXPECT_EQ(typed(IndexType::kString, IndexType::kU8, all, big), Error::kKeyTooBig);
  EXPECT_EQ(typed(IndexType::kString, IndexType::kU8, wrong, all), Error::kIndexTypeMismatch);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_EQ(m_.RangeCommitted("s", all, all, Direction::kForward, 0,
                              RangeTypes{IndexType::kString, IndexType::kU16})
                .error,
            Error::kIndexTypeMismatch);
  EXPECT_EQ(m_.RangeCommitted("s", all, all, Direction::kForward, 0,
                              RangeTypes{IndexType::kString, IndexType::kU8})
                .error,
            Error::kNone);
}

TEST_F(IndexModelTest, ATransactionSeesItsOwnOpsOverTheCommittedValuesNow) {
  SetUpIndex("i", kCluster, {{1, 10}, {2, 20}, {4, 40}});
  const TxId tx = Begin();
  ASSERT_EQ(m_.Put(tx, "i", U64(1), U64(11)), Error::kNone);
  ASSERT_EQ(m_.Remove(tx, "i", U64(2), std::nullopt), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "i", U64(3), U64(30)), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "i", U64(5), U64(50)), Error::kNone);
  ASSERT_EQ(m_.Remove(tx, "i", U64(5), U64(50)), Error::kNone);
  const TxId other = Begin();
  ASSERT_EQ(m_.Put(other, "i", U64(1), U64(12)), Error::kNone);
  ASSERT_EQ(m_.Put(other, "i", U64(2), U64(21)), Error::kNone);
  ASSERT_EQ(m_.Put(other, "i", U64(6), U64(60)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_VALUES(Get(tx, "i", 1), U64(10), U64(11), U64(12));
  EXPECT_VALUES(Get(tx, "i", 2));  // its remove of every value comes after
  const Result<std::vector<IndexEntry>> range =
      m_.Range(tx, "i", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kBackward);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range.value, (std::vector<IndexEntry>{{U64(6), {U64(60)}},
                                                  {U64(4), {U64(40)}},
                                                  {U64(3), {U64(30)}},
                                                  {U64(1), {U64(10), U64(11), U64(12)}}}))
      << IndexEntriesText(range.value);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);  // last writer wins
  EXPECT_VALUES(GetCommitted("i", 1), U64(10), U64(11), U64(12));
  EXPECT_VALUES(GetCommitted("i", 2));
  EXPECT_EQ(Keys("i", IndexBound::Unbounded(), IndexBound::Unbounded()),
            (std::vector<uint64_t>{1, 3, 4, 6}));
}

TEST_F(IndexModelTest, VisibilityAndListIndexesByName) {
  SetUpIndex("b", kReplace);
  const TxId tx = Begin();
  const TxId other = Begin();
  ASSERT_EQ(m_.CreateIndex(tx, "a", IndexType::kI128, IndexType::kF32, kExclusive), Error::kNone);
  ASSERT_EQ(m_.DropIndex(tx, "b"), Error::kNone);
  EXPECT_EQ(m_.ListIndexes(tx).value,
            (std::vector<IndexInfo>{{"a", 2, IndexType::kI128, IndexType::kF32, kExclusive}}));
  EXPECT_FALSE(m_.ExistsIndex(other, "a").value);
  EXPECT_TRUE(m_.ExistsIndex(other, "b").value);
  EXPECT_FALSE(m_.ExistsIndexCommitted("a"));
  EXPECT_EQ(m_.IndexSeenBy(tx, "a")->id, 2u);
  EXPECT_EQ(m_.IndexSeenBy(tx, "b"), std::nullopt);
  EXPECT_EQ(m_.IndexSeenBy(other, "b")->id, 1u);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_EQ(m_.ListIndexesCommitted(),
            (std::vector<IndexInfo>{{"a", 2, IndexType::kI128, IndexType::kF32, kExclusive}}));
  EXPECT_EQ(m_.ListIndexes(other).value, m_.ListIndexesCommitted());
  EXPECT_EQ(m_.IndexSeenBy(tx, "a")->id, 2u);  // a finished tx: the committed one
}

TEST_F(IndexModelTest, AnIndexCommittedAfterTheTransactionDroppedTheNameIsVisible) {
  SetUpIndex("i", kReplace, {{1, 1}});  // #1
  const TxId tx = Begin();
  ASSERT_EQ(m_.DropIndex(tx, "i"), Error::kNone);
  const TxId other = Begin();
  ASSERT_EQ(m_.DropIndex(other, "i"), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(other, "i", IndexType::kU64, IndexType::kU64, kCluster), Error::kNone);
  ASSERT_EQ(m_.Put(other, "i", U64(1), U64(2)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);  // #2
  EXPECT_TRUE(m_.ExistsIndex(tx, "i").value);
  EXPECT_VALUES(Get(tx, "i", 1), U64(2));
  EXPECT_EQ(m_.CreateIndex(tx, "i", IndexType::kU8, IndexType::kU8, kReplace),
            Error::kIndexAlreadyExists);
  EXPECT_EQ(m_.Commit(tx), Error::kIndexNotFound);  // #1 was dropped meanwhile
}

// ---- Commit checks ----

TEST_F(IndexModelTest, Check3IndexCreatedMeanwhile) {
  const TxId a = Begin();
  const TxId b = Begin();
  ASSERT_EQ(m_.CreateIndex(a, "i", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(b, "i", IndexType::kU16, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.Commit(b), Error::kNone);
  EXPECT_EQ(m_.Commit(a), Error::kIndexAlreadyExists);
  EXPECT_EQ(m_.CommittedIndex("i")->key_type, IndexType::kU16);
}

TEST_F(IndexModelTest, Check3DropAndCreateOfTheSameNameIsNoConflictWithItself) {
  SetUpIndex("i", kReplace, {{1, 1}});
  const TxId tx = Begin();
  ASSERT_EQ(m_.DropIndex(tx, "i"), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(tx, "i", IndexType::kString, IndexType::kU8, kCluster), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "i", Str("k"), IndexValue(std::in_place_type<uint8_t>, 1)), Error::kNone);
  ASSERT_EQ(m_.Commit(tx), Error::kNone);
  const Dump dump = m_.dump();
  ASSERT_EQ(dump.indexes.size(), 1u);
  EXPECT_EQ(dump.indexes.at("i").id, 2u);
  EXPECT_EQ(dump.indexes.at("i").entries,
            (std::vector<IndexEntry>{{Str("k"), {IndexValue(std::in_place_type<uint8_t>, 1)}}}));
}

TEST_F(IndexModelTest, SegmentChecksComeBeforeCheck3) {
  const TxId a = Begin();
  const TxId b = Begin();
  ASSERT_EQ(m_.CreateSegment(a, "x"), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(a, "x", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.CreateSegment(b, "x"), Error::kNone);
  ASSERT_EQ(m_.CreateIndex(b, "x", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.Commit(b), Error::kNone);
  EXPECT_EQ(m_.Commit(a), Error::kSegmentAlreadyExists);
}

TEST_F(IndexModelTest, Check4IndexDroppedMeanwhile) {
  for (int change = 0; change < 4; ++change) {
    m_ = Model();
    SetUpIndex("i", kReplace, {{1, 1}});
    const TxId tx = Begin();
    switch (change) {
      case 0: ASSERT_EQ(m_.Put(tx, "i", U64(2), U64(2)), Error::kNone); break;
      case 1: ASSERT_EQ(m_.Remove(tx, "i", U64(1), std::nullopt), Error::kNone); break;
      case 2: ASSERT_EQ(m_.Remove(tx, "i", U64(9), U64(9)), Error::kNone); break;  // absent
      case 3: ASSERT_EQ(m_.DropIndex(tx, "i"), Error::kNone); break;
    }
    const TxId other = Begin();
    ASSERT_EQ(m_.DropIndex(other, "i"), Error::kNone);
    ASSERT_EQ(m_.CreateIndex(other, "i", IndexType::kU64, IndexType::kU64, kReplace),
              Error::kNone);
    ASSERT_EQ(m_.Commit(other), Error::kNone);
    EXPECT_EQ(m_.Commit(tx), Error::kIndexNotFound) << "change " << change;
  }
}

TEST_F(IndexModelTest, ReadsOnlyDoNotMakeCheck4Fail) {
  SetUpIndex("i", kReplace, {{1, 1}});
  const TxId tx = Begin(kLww);
  EXPECT_VALUES(Get(tx, "i", 1), U64(1));
  const TxId other = Begin();
  ASSERT_EQ(m_.DropIndex(other, "i"), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kNone);
}

TEST_F(IndexModelTest, Check4ComesBeforeTheRecordChecks) {
  const TxId setup = Begin();
  ASSERT_EQ(m_.CreateSegment(setup, "s"), Error::kNone);
  const Id a = m_.Insert(setup, "s", "a").value;
  ASSERT_EQ(m_.CreateIndex(setup, "i", IndexType::kU64, IndexType::kU64, kReplace), Error::kNone);
  ASSERT_EQ(m_.Commit(setup), Error::kNone);
  const TxId tx = Begin(kOnWrite);
  ASSERT_EQ(m_.Update(tx, "s", a, "a2"), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "i", U64(1), U64(1)), Error::kNone);
  const TxId other = Begin();
  ASSERT_EQ(m_.Delete(other, "s", a), Error::kNone);
  ASSERT_EQ(m_.DropIndex(other, "i"), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kIndexNotFound);
}

TEST_F(IndexModelTest, DropForgetsPutsRemovesAndValueSetsInTheIndex) {
  for (Strategy strategy : {kLww, kOnWrite, kOnRead}) {
    m_ = Model();
    SetUpIndex("i", kExclusive, {{1, 1}, {2, 2}});
    const TxId tx = Begin(strategy);
    ASSERT_EQ(m_.Put(tx, "i", U64(1), U64(1)), Error::kNone);
    ASSERT_EQ(m_.Put(tx, "i", U64(3), U64(3)), Error::kNone);
    EXPECT_VALUES(Get(tx, "i", 2), U64(2));
    ASSERT_EQ(m_.DropIndex(tx, "i"), Error::kNone);
    const TxId other = Begin();
    ASSERT_EQ(m_.Remove(other, "i", U64(1), std::nullopt), Error::kNone);
    ASSERT_EQ(m_.Put(other, "i", U64(1), U64(10)), Error::kNone);
    ASSERT_EQ(m_.Remove(other, "i", U64(2), std::nullopt), Error::kNone);
    ASSERT_EQ(m_.Put(other, "i", U64(3), U64(30)), Error::kNone);
    ASSERT_EQ(m_.Commit(other), Error::kNone);
    EXPECT_EQ(m_.Commit(tx), Error::kNone) << StrategyName(strategy);
    EXPECT_FALSE(m_.ExistsIndexCommitted("i"));
  }
}

TEST_F(IndexModelTest, Check7ExclusivePutMeetsAValueCommittedMeanwhile) {
  SetUpIndex("e", kExclusive, {{1, 1}});
  const TxId tx = Begin(kLww);
  ASSERT_EQ(m_.Put(tx, "e", U64(2), U64(20)), Error::kNone);
  const TxId other = Begin();
  ASSERT_EQ(m_.Put(other, "e", U64(2), U64(21)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  // The tx sees its own put over the committed value; only the commit replays the check.
  EXPECT_VALUES(Get(tx, "e", 2), U64(20));
  EXPECT_EQ(m_.Commit(tx), Error::kIndexDuplicateKey);
  EXPECT_VALUES(GetCommitted("e", 2), U64(21));
}

TEST_F(IndexModelTest, Check7ReplaysTheOpsInOrder) {
  // The same value committed meanwhile: no duplicate.
  SetUpIndex("e", kExclusive, {{1, 1}});
  TxId tx = Begin(kLww);
  ASSERT_EQ(m_.Put(tx, "e", U64(2), U64(20)), Error::kNone);
  TxId other = Begin();
  ASSERT_EQ(m_.Put(other, "e", U64(2), U64(20)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kNone);
  // A remove before the put clears whatever was committed meanwhile.
  tx = Begin(kLww);
  ASSERT_EQ(m_.Remove(tx, "e", U64(3), std::nullopt), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "e", U64(3), U64(30)), Error::kNone);
  other = Begin();
  ASSERT_EQ(m_.Put(other, "e", U64(3), U64(31)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kNone);
  EXPECT_VALUES(GetCommitted("e", 3), U64(30));
  // Removing a value other than the one committed meanwhile leaves it: a duplicate.
  tx = Begin(kLww);
  ASSERT_EQ(m_.Remove(tx, "e", U64(4), U64(40)), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "e", U64(4), U64(41)), Error::kNone);
  other = Begin();
  ASSERT_EQ(m_.Put(other, "e", U64(4), U64(42)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kIndexDuplicateKey);
}

TEST_F(IndexModelTest, Check7AlsoForIndexesOfOtherModesNever) {
  for (ValueMode mode : {kReplace, kCluster}) {
    m_ = Model();
    SetUpIndex("i", mode);
    const TxId tx = Begin(kLww);
    ASSERT_EQ(m_.Put(tx, "i", U64(2), U64(20)), Error::kNone);
    const TxId other = Begin();
    ASSERT_EQ(m_.Put(other, "i", U64(2), U64(21)), Error::kNone);
    ASSERT_EQ(m_.Commit(other), Error::kNone);
    EXPECT_EQ(m_.Commit(tx), Error::kNone);
    if (mode == kReplace) {
      EXPECT_VALUES(GetCommitted("i", 2), U64(20));
    } else {
      EXPECT_VALUES(GetCommitted("i", 2), U64(20), U64(21));
    }
  }
}

TEST_F(IndexModelTest, RecordVersionsComeBeforeCheck7AndCheck7BeforeCheck8) {
  const TxId setup = Begin();
  ASSERT_EQ(m_.CreateSegment(setup, "s"), Error::kNone);
  const Id a = m_.Insert(setup, "s", "a").value;
  ASSERT_EQ(m_.CreateIndex(setup, "e", IndexType::kU64, IndexType::kU64, kExclusive),
            Error::kNone);
  ASSERT_EQ(m_.Commit(setup), Error::kNone);
  for (bool with_record : {true, false}) {
    const TxId tx = Begin(kOnWrite);
    if (with_record) {
      ASSERT_EQ(m_.Update(tx, "s", a, "mine"), Error::kNone);
    }
    ASSERT_EQ(m_.Put(tx, "e", U64(with_record ? 1 : 2), U64(1)), Error::kNone);
    const TxId other = Begin();
    if (with_record) {
      ASSERT_EQ(m_.Update(other, "s", a, "theirs"), Error::kNone);
    }
    ASSERT_EQ(m_.Put(other, "e", U64(with_record ? 1 : 2), U64(2)), Error::kNone);
    ASSERT_EQ(m_.Commit(other), Error::kNone);
    EXPECT_EQ(m_.Commit(tx), with_record ? Error::kVersionConflict : Error::kIndexDuplicateKey);
  }
}

TEST_F(IndexModelTest, Check8ByStrategy) {
  // A key the tx put into, changed meanwhile: a conflict unless last writer wins.
  for (Strategy strategy : {kLww, kOnWrite, kOnRead}) {
    m_ = Model();
    SetUpIndex("i", kCluster, {{1, 1}});
    const TxId tx = Begin(strategy);
    ASSERT_EQ(m_.Put(tx, "i", U64(1), U64(2)), Error::kNone);
    const TxId other = Begin();
    ASSERT_EQ(m_.Put(other, "i", U64(1), U64(3)), Error::kNone);
    ASSERT_EQ(m_.Commit(other), Error::kNone);
    EXPECT_EQ(m_.Commit(tx), strategy == kLww ? Error::kNone : Error::kVersionConflict)
        << StrategyName(strategy);
  }
}

TEST_F(IndexModelTest, Check8TakesTheValuesAtTheFirstPutOrRemove) {
  SetUpIndex("i", kReplace, {{1, 1}});
  const TxId tx = Begin(kOnWrite);
  ASSERT_EQ(m_.Remove(tx, "i", U64(1), U64(7)), Error::kNone);  // removes nothing, records {1}
  const TxId other = Begin();
  ASSERT_EQ(m_.Put(other, "i", U64(1), U64(2)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "i", U64(1), U64(3)), Error::kNone);  // keeps {1}
  EXPECT_EQ(m_.Commit(tx), Error::kVersionConflict);
  // Changed and changed back meanwhile: the same values, no conflict.
  const TxId again = Begin(kOnWrite);
  ASSERT_EQ(m_.Put(again, "i", U64(1), U64(5)), Error::kNone);
  for (uint64_t v : {6, 2}) {
    const TxId other2 = Begin();
    ASSERT_EQ(m_.Put(other2, "i", U64(1), U64(v)), Error::kNone);
    ASSERT_EQ(m_.Commit(other2), Error::kNone);
  }
  EXPECT_EQ(m_.Commit(again), Error::kNone);
  EXPECT_VALUES(GetCommitted("i", 1), U64(5));
}

TEST_F(IndexModelTest, Check8VersionOnReadTracksGetsOnly) {
  for (bool by_get : {true, false}) {
    for (Strategy strategy : {kOnWrite, kOnRead}) {
      m_ = Model();
      SetUpIndex("i", kReplace, {{1, 1}});
      const TxId tx = Begin(strategy);
      if (by_get) {
        EXPECT_VALUES(Get(tx, "i", 1), U64(1));
        EXPECT_VALUES(Get(tx, "i", 2));  // an absent key is read too
      } else {
        ASSERT_TRUE(m_.Range(tx, "i", IndexBound::Unbounded(), IndexBound::Unbounded(),
                             Direction::kForward).ok());
      }
      const TxId other = Begin();
      ASSERT_EQ(m_.Put(other, "i", U64(by_get ? 2 : 1), U64(5)), Error::kNone);
      ASSERT_EQ(m_.Commit(other), Error::kNone);
      const bool conflict = by_get && strategy == kOnRead;
      EXPECT_EQ(m_.Commit(tx), conflict ? Error::kVersionConflict : Error::kNone)
          << "by_get " << by_get << " " << StrategyName(strategy);
    }
  }
}

TEST_F(IndexModelTest, Check8VersionOnReadKeepsTheFirstGetAndSeesDroppedIndexesEmpty) {
  SetUpIndex("i", kReplace, {{1, 1}});
  TxId tx = Begin(kOnRead);
  EXPECT_VALUES(Get(tx, "i", 1), U64(1));
  TxId other = Begin();
  ASSERT_EQ(m_.Put(other, "i", U64(1), U64(2)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_VALUES(Get(tx, "i", 1), U64(2));  // the second Get does not replace the first
  EXPECT_EQ(m_.Commit(tx), Error::kVersionConflict);
  // The index dropped meanwhile: a key read with values now has none.
  tx = Begin(kOnRead);
  EXPECT_VALUES(Get(tx, "i", 1), U64(2));
  EXPECT_VALUES(Get(tx, "i", 7));
  other = Begin();
  ASSERT_EQ(m_.DropIndex(other, "i"), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kVersionConflict);
  SetUpIndex("j", kReplace);
  tx = Begin(kOnRead);
  EXPECT_VALUES(Get(tx, "j", 7));
  other = Begin();
  ASSERT_EQ(m_.DropIndex(other, "j"), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  EXPECT_EQ(m_.Commit(tx), Error::kNone);  // an absent key stays absent
}

TEST_F(IndexModelTest, Check8IgnoresIndexesTheTransactionCreated) {
  const TxId tx = Begin(kOnRead);
  ASSERT_EQ(m_.CreateIndex(tx, "i", IndexType::kU64, IndexType::kU64, kReplace), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "i", U64(1), U64(1)), Error::kNone);
  EXPECT_VALUES(Get(tx, "i", 1), U64(1));
  EXPECT_EQ(m_.Commit(tx), Error::kNone);
}

TEST_F(IndexModelTest, AFailedCommitAppliesNothing) {
  SetUpIndex("e", kExclusive, {{1, 1}});
  const Dump before_other = m_.dump();
  const TxId tx = Begin(kLww);
  ASSERT_EQ(m_.CreateIndex(tx, "new", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
  ASSERT_EQ(m_.Put(tx, "e", U64(2), U64(2)), Error::kNone);
  ASSERT_EQ(m_.Remove(tx, "e", U64(1), std::nullopt), Error::kNone);
  const TxId other = Begin();
  ASSERT_EQ(m_.Put(other, "e", U64(2), U64(3)), Error::kNone);
  ASSERT_EQ(m_.Commit(other), Error::kNone);
  const Dump before = m_.dump();
  EXPECT_NE(before, before_other);
  EXPECT_EQ(m_.Commit(tx), Error::kIndexDuplicateKey);
  EXPECT_EQ(m_.dump(), before);
  m_.Crash();
  EXPECT_EQ(m_.counters().next_index_id, 2u);  // "new" took #2, not persisted
}

TEST_F(IndexModelTest, UncertainCommitsOfIndexesResolveEitherWay) {
  SetUpIndex("i", kReplace, {{1, 1}});
  const Dump before = m_.dump();
  for (bool committed : {false, true}) {
    const TxId tx = Begin();
    ASSERT_EQ(m_.Put(tx, "i", U64(2), U64(2)), Error::kNone);
    ASSERT_EQ(m_.CreateIndex(tx, "j", IndexType::kU8, IndexType::kU8, kReplace), Error::kNone);
    ASSERT_EQ(m_.CommitUncertain(tx), Error::kNone);
    m_.Crash();
    Dump after = before;
    after.indexes["i"].entries.push_back(IndexEntry{U64(2), {U64(2)}});
    after.indexes["j"] = DumpIndex{2, IndexType::kU8, IndexType::kU8,
                                   kReplace, {}};
    const Counters counters{1, {}, committed ? 3u : 2u};
    ASSERT_TRUE(m_.Resolve(committed ? after : before, counters).ok()) << committed;
    EXPECT_EQ(m_.counters(), counters);
    if (committed) {
      EXPECT_EQ(m_.dump(), after);
    }
  }
}

}  // namespace
}  // namespace persy::model
