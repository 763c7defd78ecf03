// Property: the engine behaves as the reference model, for any sequence of operations of the
// vocabulary (ops.h) on segments, records and indexes, with transactions interleaved in up to
// four slots, crashes at any point of a commit, I/O errors, and reopens.
//
// Method. RapidCheck generates a disk seed, an engine configuration (small or default page
// cache and checkpoint threshold, default strategy) and a sequence of operations; the executor
// (executor.h) runs it on the model and on the engine over a simulated disk and reports the
// first difference. RapidCheck then shrinks the sequence and prints it, one op per line.
//
// Runs 2,000 sequences of up to 200 operations in `bazel test` (the env of the target), with a
// fresh seed each run; RapidCheck prints it ("Using configuration: seed=N"). Sequences that
// long are what index keys need to fill up and collide between transactions: with 500 of up to
// 100, a model that kept cluster values as replace went unnoticed half of the runs.
// Replay:   bazel test //model:state_machine_test --test_env=RC_PARAMS="seed=N max_success=2000 max_size=200"
//           (or the `reproduce=` string a failure prints)
// Deep run: bazel build //model:state_machine_test &&
//           RC_PARAMS="max_success=20000 max_size=200" bazel-bin/model/state_machine_test

#include <cstdint>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "model/executor.h"
#include "model/ops.h"

namespace persy::model {
namespace {

struct Input {
  uint64_t seed = 0;
  bool prelude = false;           // starts with Prelude(index_spec) (ops.h)
  int index_spec = 0;             // the types and mode of the prelude's index
  bool small_cache = false;       // the smallest page cache: pages go back to disk often
  bool small_journal = false;     // a checkpoint after nearly every commit
  int default_strategy = 0;       // persy::TxStrategy of the Config
  std::vector<Op> ops;
};

ExecutorOptions OptionsOf(const Input& input) {
  ExecutorOptions options;
  options.seed = input.seed;
  if (input.small_cache) options.config.cache_size_bytes = 64 << 10;
  if (input.small_journal) options.config.checkpoint_journal_bytes = 16 << 10;
  options.config.strategy = static_cast<persy::TxStrategy>(input.default_strategy);
  return options;
}

// The operations run: the prelude, if any, then the generated ones.
std::vector<Op> OpsOf(const Input& input) {
  std::vector<Op> ops = input.prelude ? Prelude(input.index_spec) : std::vector<Op>();
  ops.insert(ops.end(), input.ops.begin(), input.ops.end());
  return ops;
}

void showValue(const Input& input, std::ostream& os) {
  const std::vector<Op> ops = OpsOf(input);
  os << "disk seed " << input.seed << (input.small_cache ? ", 64 KiB cache" : "")
     << (input.small_journal ? ", 16 KiB checkpoint threshold" : "") << ", default strategy "
     << StrategyName(static_cast<Strategy>(input.default_strategy)) << ", " << ops.size()
     << " ops"
     << (input.prelude ? " (0-" + std::to_string(Prelude().size() - 1) + ": the prelude)" : "")
     << ":\n"
     << ToString(ops);
}

// A choice in [lo, hi), uniform whatever the size; shrinks towards lo. (gen::inRange scales
// its range with the size: early in a run, at small sizes, it would draw only the first op
// kinds, and never the index ops, which come last.)
rc::Gen<int> Choice(int lo, int hi) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi));
}

// An index in [0, n) drawn with weights `weight(i)`; shrinks towards 0.
rc::Gen<int> WeightedIndex(int n, int (*weight)(int)) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += weight(i);
  return rc::gen::map(Choice(0, total), [n, weight](int pick) {
    int i = 0;
    while (i < n - 1 && pick >= weight(i)) pick -= weight(i++);
    return i;
  });
}

}  // namespace
}  // namespace persy::model

namespace rc {

template <>
struct Arbitrary<persy::model::Op> {
  static Gen<persy::model::Op> arbitrary() {
    using persy::model::Op;
    using persy::model::OpKind;
    // Record bytes: mostly small, some of a few hundred bytes, some spanning two or three pages.
    const auto bytes = gen::apply(
        [](size_t size, uint32_t tag) { return persy::model::MakeBytes(size, tag); },
        gen::weightedOneOf<size_t>({{14, gen::inRange<size_t>(0, 48)},
                                    {4, gen::inRange<size_t>(48, 600)},
                                    {2, gen::inRange<size_t>(4000, 9001)}}),
        gen::inRange<uint32_t>(0, 1000));
    // Transaction ids: mostly none, a few around the 512-byte limit.
    const auto tx_id = gen::weightedOneOf<std::string>(
        {{16, gen::just(std::string())},
         {3, gen::apply([](size_t n) { return std::string(n, 'i'); }, gen::inRange<size_t>(1, 16))},
         {1, gen::map(persy::model::Choice(510, 515),
                      [](int n) { return std::string(static_cast<size_t>(n), 'i'); })}});
    const auto segment = persy::model::WeightedIndex(persy::model::kSegmentNameCount,
                                                     persy::model::SegmentWeight);
    // Mostly ids seen; one in four fabricated.
    const auto record = gen::weightedOneOf<int>(
        {{3, persy::model::Choice(0, 1000)}, {1, persy::model::Choice(-64, 0)}});
    const auto too_big = gen::weightedOneOf<int>({{60, gen::just(0)}, {1, gen::just(1)}});
    const auto tx = persy::model::WeightedIndex(persy::model::kTxSlots, persy::model::TxSlotWeight);
    const auto index = persy::model::WeightedIndex(persy::model::kIndexNameCount,
                                                   persy::model::IndexWeight);
    // Key and value picks: mostly the ordinary values, so that keys collide; some edges; a few
    // strings of 512 and 513 bytes.
    const auto pick = gen::weightedOneOf<int>(
        {{10, persy::model::Choice(0, 2)}, {8, persy::model::Choice(2, 8)},
         {4, persy::model::Choice(8, 14)}, {1, persy::model::Choice(14, 16)}});
    // Wrong types rarely (IndexTypeMismatch ends the op at once).
    const auto index_args = gen::apply(
        [](int wrong, bool with_value, bool typed, int from, int to, bool backward, int limit) {
          persy::model::IndexArgs args;
          args.wrong_key_type = wrong == 1;
          args.wrong_value_type = wrong == 2;
          args.with_value = with_value;
          args.typed = typed;
          args.from = static_cast<persy::IndexBound::Kind>(from);
          args.to = static_cast<persy::IndexBound::Kind>(to);
          args.direction = backward ? persy::Direction::kBackward : persy::Direction::kForward;
          args.limit = limit;
          return persy::model::EncodeIndexArgs(args);
        },
        gen::weightedOneOf<int>({{40, gen::just(0)}, {1, gen::just(1)}, {1, gen::just(2)}}),
        gen::element(false, true), gen::weightedElement<bool>({{3, false}, {1, true}}),
        persy::model::Choice(0, 3), persy::model::Choice(0, 3), gen::element(false, true),
        gen::weightedOneOf<int>({{3, gen::just(0)}, {1, persy::model::Choice(1, 4)}}));

    // The kind by OpKindWeight, then its fields.
    const auto kind = gen::map(
        persy::model::WeightedIndex(persy::model::kOpKindCount,
                                    [](int k) { return persy::model::OpKindWeight(static_cast<OpKind>(k)); }),
        [](int k) { return static_cast<OpKind>(k); });
    return gen::mapcat(kind, [=](OpKind k) {
      Gen<int> arg = gen::just(0);
      Gen<std::string> op_bytes = gen::just(std::string());
      switch (k) {
        case OpKind::kBegin:
          arg = persy::model::Choice(0, 4);
          op_bytes = tx_id;
          break;
        case OpKind::kInsert:
        case OpKind::kUpdate:
          arg = too_big;
          op_bytes = bytes;
          break;
        case OpKind::kScan:
        case OpKind::kScanCommitted:
          arg = gen::weightedOneOf<int>({{3, gen::just(0)}, {1, persy::model::Choice(1, 4)}});
          break;
        case OpKind::kCrashInNextCommit:
          arg = persy::model::Choice(1, 64);
          break;
        case OpKind::kInjectIoError:
          arg = persy::model::Choice(0, 512);
          break;
        case OpKind::kCreateIndex:
          arg = persy::model::Choice(0, persy::model::kIndexSpecCount);
          break;
        case OpKind::kPut:
        case OpKind::kRemove:
        case OpKind::kGet:
        case OpKind::kRange:
        case OpKind::kGetCommitted:
        case OpKind::kRangeCommitted:
          arg = index_args;
          break;
        default:
          break;
      }
      return gen::apply(
          [k](int t, int s, int r, std::string b, int a, int i, int key, int value) {
            return Op{k, t, s, r, std::move(b), a, i, key, value};
          },
          tx, segment, record, op_bytes, arg, index, pick, pick);
    });
  }
};

template <>
struct Arbitrary<persy::model::Input> {
  static Gen<persy::model::Input> arbitrary() {
    return gen::build<persy::model::Input>(
        gen::set(&persy::model::Input::seed),
        gen::set(&persy::model::Input::prelude,
                 gen::weightedElement<bool>({{1, false}, {3, true}})),
        gen::set(&persy::model::Input::index_spec,
                 persy::model::Choice(0, persy::model::kIndexSpecCount)),
        gen::set(&persy::model::Input::small_cache),
        gen::set(&persy::model::Input::small_journal),
        gen::set(&persy::model::Input::default_strategy, persy::model::Choice(0, 3)),
        gen::set(&persy::model::Input::ops, gen::arbitrary<std::vector<persy::model::Op>>()));
  }
};

}  // namespace rc

namespace persy::model {
namespace {

RC_GTEST_PROP(StateMachineTest, EngineBehavesAsTheModel, (const Input& input)) {
  const absl::Status result = RunOps(OptionsOf(input), OpsOf(input));
  if (!result.ok()) RC_FAIL(std::string(result.message()));
}

// ---- Fixed sequences: the index rules random sequences reach only now and then ----

// The kCreateIndex arg that gives index `index` these types and mode.
int SpecArg(int index, IndexType key_type, IndexType value_type, ValueMode mode) {
  for (int arg = 0; arg < kIndexSpecCount; ++arg) {
    const IndexSpec spec = IndexSpecFor(index, arg);
    if (spec.key_type == key_type && spec.value_type == value_type && spec.mode == mode) {
      return arg;
    }
  }
  std::abort();
}

Op TxOp(OpKind kind, int tx, int key = 0, int value = 0, int arg = 0) {
  Op op;
  op.kind = kind;
  op.tx = tx;
  op.key = key;
  op.value = value;
  op.arg = arg;
  return op;
}

Op BeginOp(int tx, Strategy strategy) {
  return TxOp(OpKind::kBegin, tx, 0, 0, static_cast<int>(strategy) + 1);
}

// Runs `ops` after a prelude whose "i0" has the given types and mode (RunOps ends with a
// reopen, so recovery sees the last state too).
void ExpectSameAsModel(IndexType key_type, IndexType value_type, ValueMode mode,
                       const std::vector<Op>& ops) {
  std::vector<Op> all = Prelude(SpecArg(0, key_type, value_type, mode));
  all.insert(all.end(), ops.begin(), ops.end());
  const absl::Status result = RunOps(ExecutorOptions(), all);
  EXPECT_TRUE(result.ok()) << result.message() << "\n" << ToString(all);
}

TEST(StateMachineTest, VersionOnReadGetOfAnIndexDroppedMeanwhile) {
  for (int key : {1, 2}) {  // 1 has a value, 2 none: a conflict only for 1
    ExpectSameAsModel(IndexType::kU64, IndexType::kU64, ValueMode::kReplace,
                      {BeginOp(0, Strategy::kLastWriterWins), TxOp(OpKind::kPut, 0, 1, 1),
                       TxOp(OpKind::kCommit, 0), BeginOp(1, Strategy::kVersionOnRead),
                       TxOp(OpKind::kGet, 1, key), BeginOp(0, Strategy::kLastWriterWins),
                       TxOp(OpKind::kDropIndex, 0), TxOp(OpKind::kCommit, 0),
                       TxOp(OpKind::kCommit, 1)});
  }
}

TEST(StateMachineTest, PutIntoAnIndexDroppedAndCreatedAgainMeanwhile) {
  ExpectSameAsModel(IndexType::kU64, IndexType::kU64, ValueMode::kCluster,
                    {BeginOp(1, Strategy::kLastWriterWins), TxOp(OpKind::kPut, 1, 1, 1),
                     BeginOp(0, Strategy::kLastWriterWins), TxOp(OpKind::kDropIndex, 0),
                     TxOp(OpKind::kCreateIndex, 0), TxOp(OpKind::kPut, 0, 1, 2),
                     TxOp(OpKind::kCommit, 0), TxOp(OpKind::kGet, 1, 1), TxOp(OpKind::kRange, 1),
                     TxOp(OpKind::kCommit, 1)});
}

TEST(StateMachineTest, ExclusiveDuplicatesAtPutAndAtCommit) {
  ExpectSameAsModel(IndexType::kString, IndexType::kRecordId, ValueMode::kExclusive,
                    {BeginOp(0, Strategy::kLastWriterWins), TxOp(OpKind::kPut, 0, 1, 1),
                     TxOp(OpKind::kPut, 0, 1, 2), TxOp(OpKind::kPut, 0, 1, 1),
                     BeginOp(1, Strategy::kLastWriterWins), TxOp(OpKind::kPut, 1, 1, 3),
                     TxOp(OpKind::kRemove, 1, 2, 0), TxOp(OpKind::kPut, 1, 2, 2),
                     TxOp(OpKind::kCommit, 0), TxOp(OpKind::kCommit, 1)});
}

// Found by this test: the engine dropped a transaction's earlier ops on a key of an exclusive
// index when it removed every value of it, so commit check 7 no longer replayed the put that
// meets a value committed meanwhile.
TEST(StateMachineTest, Check7ReplaysAPutFollowedByARemoveOfEveryValue) {
  ExpectSameAsModel(IndexType::kU8, IndexType::kU8, ValueMode::kExclusive,
                    {BeginOp(1, Strategy::kLastWriterWins), TxOp(OpKind::kPut, 1, 0, 0),
                     TxOp(OpKind::kRemove, 1, 0, 0), BeginOp(0, Strategy::kLastWriterWins),
                     TxOp(OpKind::kPut, 0, 0, 2), TxOp(OpKind::kCommit, 0),
                     TxOp(OpKind::kCommit, 1)});
}

TEST(StateMachineTest, VersionConflictsOnIndexKeys) {
  for (Strategy strategy : {Strategy::kLastWriterWins, Strategy::kVersionOnWrite}) {
    ExpectSameAsModel(IndexType::kI128, IndexType::kU8, ValueMode::kCluster,
                      {BeginOp(1, strategy), TxOp(OpKind::kRemove, 1, 12, 0),
                       TxOp(OpKind::kPut, 1, 13, 0), BeginOp(0, Strategy::kLastWriterWins),
                       TxOp(OpKind::kPut, 0, 12, 5), TxOp(OpKind::kCommit, 0),
                       TxOp(OpKind::kCommit, 1)});
  }
}

// -0.0, +0.0, NaN and a negative NaN with a payload as keys and as values of one key; ranges
// over them both ways, and the dump after each commit and after reopening.
TEST(StateMachineTest, FloatKeysAndValuesInTheirTotalOrder) {
  std::vector<Op> ops = {BeginOp(0, Strategy::kLastWriterWins)};
  for (int key : {0, 4, 6, 14, 7, 8}) {
    for (int value : {4, 0, 14, 6}) ops.push_back(TxOp(OpKind::kPut, 0, key, value));
  }
  ops.push_back(TxOp(OpKind::kRemove, 0, 4, 6, EncodeIndexArgs(IndexArgs{.with_value = true})));
  ops.push_back(TxOp(OpKind::kCommit, 0));
  for (Direction direction : {Direction::kForward, Direction::kBackward}) {
    IndexArgs args;
    args.from = IndexBound::Kind::kExcluded;
    args.to = IndexBound::Kind::kIncluded;
    args.direction = direction;
    Op range = TxOp(OpKind::kRangeCommitted, 0, 4, 14, EncodeIndexArgs(args));
    ops.push_back(range);
    range.key = 14;  // from NaN to NaN
    ops.push_back(range);
  }
  ops.push_back(TxOp(OpKind::kGetCommitted, 0, 14));
  ExpectSameAsModel(IndexType::kF64, IndexType::kF32, ValueMode::kCluster, ops);
}

TEST(StateMachineTest, TypedGetChecksTheValueType) {
  IndexArgs typed;
  typed.typed = true;
  IndexArgs wrong = typed;
  wrong.wrong_value_type = true;
  ExpectSameAsModel(IndexType::kBytes, IndexType::kU128, ValueMode::kReplace,
                    {BeginOp(0, Strategy::kLastWriterWins), TxOp(OpKind::kPut, 0, 2, 13),
                     TxOp(OpKind::kGet, 0, 2, 0, EncodeIndexArgs(typed)),
                     TxOp(OpKind::kGet, 0, 2, 0, EncodeIndexArgs(wrong)),
                     TxOp(OpKind::kCommit, 0),
                     TxOp(OpKind::kGetCommitted, 0, 2, 0, EncodeIndexArgs(typed)),
                     TxOp(OpKind::kGetCommitted, 0, 2, 0, EncodeIndexArgs(wrong))});
}

}  // namespace
}  // namespace persy::model
