// Property: the engine behaves as the reference model, for any sequence of operations of the
// vocabulary (ops.h) on segments, records and indexes, with transactions interleaved in up to
// four slots, two-phase commit (prepared handles, their locks, decisions), snapshots read
// while later commits go on, crashes at any point of a commit, prepare or decision, I/O
// errors, reopens, and the three ways of recovering transactions left in doubt (cut short by a
// power-off too).
//
// Method. RapidCheck generates a disk seed, an engine configuration (small or default page
// cache and checkpoint threshold, default strategy) and a sequence of operations; the executor
// (executor.h) runs it on the model and on the engine over a simulated disk and reports the
// first difference. RapidCheck then shrinks the sequence and prints it, one op per line. After
// the run the test prints what the sequences reached (Coverage: prepares, lock timeouts,
// opens that found transactions in doubt, recoveries cut short, snapshot reads after later
// commits): a generator that stopped getting there would show.
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
#include <cstdio>
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
    // Transaction ids: mostly none or short ones that repeat (Recovery decides every in-doubt
    // transaction of an id at once), a few around the 512-byte limit.
    const auto tx_id = gen::weightedOneOf<std::string>(
        {{12, gen::just(std::string())},
         {6, gen::apply([](size_t n) { return std::string(n, 'i'); }, gen::inRange<size_t>(1, 4))},
         {2, gen::apply([](size_t n) { return std::string(n, 'i'); }, gen::inRange<size_t>(1, 16))},
         {1, gen::map(persy::model::Choice(510, 515),
                      [](int n) { return std::string(static_cast<size_t>(n), 'i'); })}});
    const auto segment = persy::model::WeightedIndex(persy::model::kSegmentNameCount,
                                                     persy::model::SegmentWeight);
    // Mostly ids seen or among the first three committed in the op's segment (so that
    // transactions meet on the same records, and on the locks of prepared ones); one in four
    // fabricated.
    const auto record = gen::weightedOneOf<int>(
        {{3, persy::model::Choice(0, 1000)},
         {3, persy::model::Choice(persy::model::kSegmentRecordBase,
                                  persy::model::kSegmentRecordBase + 3)},
         {2, persy::model::Choice(-64, 0)}});
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
        case OpKind::kSnapshotGet:
        case OpKind::kSnapshotRange:
          arg = index_args;
          break;
        case OpKind::kArmRecovery:
          // Mostly recoveries that complete; one in three cut short by a power-off, mostly
          // among the first decisions.
          arg = gen::apply(
              [](int way, int decisions, int power_off) {
                return persy::model::EncodeRecoveryPlan(persy::model::RecoveryPlan{
                    static_cast<persy::model::RecoveryWay>(way), decisions, power_off});
              },
              persy::model::Choice(0, 3), persy::model::Choice(0, 4096),
              gen::weightedOneOf<int>({{6, gen::just(0)},
                                       {2, persy::model::Choice(1, 16)},
                                       {1, persy::model::Choice(16, 64)}}));
          break;
        case OpKind::kSnapshotRead:
          arg = gen::apply(
              [](int kind, int limit) {
                return persy::model::EncodeSnapshotReadArgs(persy::model::SnapshotReadArgs{
                    static_cast<persy::model::SnapshotReadKind>(kind), limit});
              },
              persy::model::Choice(0, persy::model::kSnapshotReadKinds),
              gen::weightedOneOf<int>({{3, gen::just(0)}, {1, persy::model::Choice(1, 4)}}));
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

// The ops come in chunks: mostly one op, sometimes a contention: a transaction updates or
// deletes one of the first records committed in a segment and prepares, then another changes
// the same record and commits or prepares. Single ops meet on index keys often, but two
// transactions on one record, one of them prepared, come about once in 2,000 sequences.
template <>
struct Arbitrary<std::vector<persy::model::Op>> {
  static Gen<std::vector<persy::model::Op>> arbitrary() {
    using persy::model::Op;
    using persy::model::OpKind;
    const auto single = gen::map(gen::arbitrary<Op>(), [](Op op) { return std::vector<Op>{op}; });
    const auto contention = gen::apply(
        [](int a, int shift, int segment, int k, bool delete_first, bool delete_second,
           bool prepare_second) {
          const int b = (a + shift) % persy::model::kTxSlots;
          auto change = [&](int tx, bool del) {
            Op op;
            op.kind = del ? OpKind::kDelete : OpKind::kUpdate;
            op.tx = tx;
            op.segment = segment;
            op.record = persy::model::kSegmentRecordBase + k;
            op.bytes = persy::model::MakeBytes(8, static_cast<uint32_t>(tx));
            return op;
          };
          Op prepare;
          prepare.kind = OpKind::kPrepare;
          prepare.tx = a;
          Op end;
          end.kind = prepare_second ? OpKind::kPrepare : OpKind::kCommit;
          end.tx = b;
          return std::vector<Op>{change(a, delete_first), prepare, change(b, delete_second), end};
        },
        persy::model::Choice(0, persy::model::kTxSlots),
        persy::model::Choice(1, persy::model::kTxSlots),
        persy::model::WeightedIndex(persy::model::kSegmentNameCount, persy::model::SegmentWeight),
        persy::model::Choice(0, 3), gen::weightedElement<bool>({{3, false}, {1, true}}),
        gen::weightedElement<bool>({{3, false}, {1, true}}),
        gen::weightedElement<bool>({{3, false}, {1, true}}));
    return gen::weightedOneOf<std::vector<Op>>({{60, single}, {1, contention}});
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
        gen::set(&persy::model::Input::ops,
                 gen::map(gen::arbitrary<std::vector<std::vector<persy::model::Op>>>(),
                          [](const std::vector<std::vector<persy::model::Op>>& chunks) {
                            std::vector<persy::model::Op> ops;
                            for (const auto& chunk : chunks) {
                              ops.insert(ops.end(), chunk.begin(), chunk.end());
                            }
                            return ops;
                          })));
  }
};

}  // namespace rc

namespace persy::model {
namespace {

// The property; then what the sequences reached, so that a run shows it got where it should.
TEST(StateMachineTest, EngineBehavesAsTheModel) {
  Coverage total;
  int runs = 0;
  const bool passed = rc::check("the engine behaves as the model", [&](const Input& input) {
    ++runs;
    const absl::Status result = RunOps(OptionsOf(input), OpsOf(input), &total);
    if (!result.ok()) RC_FAIL(std::string(result.message()));
  });
  std::printf(
      "reached in %d sequences (shrinking included): %d commits, %d prepares, %d decisions of "
      "prepared handles, %d lock timeouts, %d commits, prepares or decisions of unknown outcome, "
      "opens finding transactions in doubt: %d Open, %d OpenWithRecover, %d Recover; %d "
      "recoveries cut short by a power-off, %d closes crashed, %d snapshot reads after a later "
      "commit\n",
      runs, total.commits, total.prepared, total.decided, total.lock_timeouts, total.uncertain,
      total.in_doubt_opens[0], total.in_doubt_opens[1], total.in_doubt_opens[2],
      total.recoveries_cut_short, total.closes_cut, total.older_snapshot_reads);
  EXPECT_TRUE(passed);
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

// ---- Fixed sequences: two-phase commit, recovery and snapshots ----

Op PreparedOp(OpKind kind, int tx) { return TxOp(kind, tx); }

Op ArmOp(RecoveryWay way, int decisions, int power_off = 0) {
  Op op;
  op.kind = OpKind::kArmRecovery;
  op.arg = EncodeRecoveryPlan(RecoveryPlan{way, decisions, power_off});
  return op;
}

Op BeginWithId(int tx, const std::string& id) {
  Op op = BeginOp(tx, Strategy::kLastWriterWins);
  op.bytes = id;
  return op;
}

Op RecordOp(OpKind kind, int tx, int record, const std::string& bytes = "") {
  Op op = TxOp(kind, tx);
  op.record = record;
  op.bytes = bytes;
  return op;
}

// A prepared transaction's locks: a commit and a prepare that need them time out, one that
// only inserts does not; after the decision the same change commits.
TEST(StateMachineTest, PreparedLocksThenDecision) {
  ExpectSameAsModel(
      IndexType::kU8, IndexType::kU8, ValueMode::kReplace,
      {BeginOp(0, Strategy::kLastWriterWins), RecordOp(OpKind::kInsert, 0, 0, "r"),
       TxOp(OpKind::kCommit, 0), RecordOp(OpKind::kUpdate, 1, 0, "held"),
       TxOp(OpKind::kPut, 1, 3, 3), PreparedOp(OpKind::kPrepare, 1),
       RecordOp(OpKind::kUpdate, 2, 0, "blocked"), TxOp(OpKind::kCommit, 2),
       TxOp(OpKind::kPut, 3, 3, 4), PreparedOp(OpKind::kPrepare, 3),
       RecordOp(OpKind::kInsert, 2, 0, "free"), TxOp(OpKind::kCommit, 2),
       PreparedOp(OpKind::kCommitPrepared, 1), PreparedOp(OpKind::kCommitPrepared, 1),
       RecordOp(OpKind::kUpdate, 2, 0, "after"), TxOp(OpKind::kCommit, 2)});
}

// Transactions left in doubt by a crash and by a close, decided each way of opening.
TEST(StateMachineTest, InDoubtTransactionsEachWayOfRecovering) {
  for (const RecoveryWay way :
       {RecoveryWay::kOpen, RecoveryWay::kOpenWithRecover, RecoveryWay::kRecover}) {
    // OpenWithRecover: commit the 1st, roll back the 2nd; Recover: roll back the 1st, commit
    // "b" (both of that id), a missing id, then Finish.
    const int decisions = way == RecoveryWay::kRecover ? 0b111010 : 0b01;
    for (const OpKind end : {OpKind::kCrash, OpKind::kReopen}) {
      Op last;
      last.kind = end;
      ExpectSameAsModel(
          IndexType::kU64, IndexType::kString, ValueMode::kCluster,
          {ArmOp(way, decisions), BeginWithId(0, "a"), RecordOp(OpKind::kInsert, 0, 0, "a"),
           TxOp(OpKind::kPut, 0, 1, 1), PreparedOp(OpKind::kPrepare, 0), BeginWithId(1, "b"),
           TxOp(OpKind::kCreateSegment, 1), TxOp(OpKind::kPut, 1, 2, 2),
           PreparedOp(OpKind::kPrepare, 1), BeginWithId(2, "b"),
           RecordOp(OpKind::kInsert, 2, 0, "b2"), PreparedOp(OpKind::kPrepare, 2), last,
           RecordOp(OpKind::kInsert, 0, 0, "after"), TxOp(OpKind::kCommit, 0)});
    }
  }
}

// Recovery cut short by the disk going off after 1 to 20 events, each way: what it decided
// stays decided, the next open decides the rest the same way.
TEST(StateMachineTest, RecoveryCutShortByAPowerOff) {
  for (const RecoveryWay way :
       {RecoveryWay::kOpen, RecoveryWay::kOpenWithRecover, RecoveryWay::kRecover}) {
    for (int power_off = 1; power_off <= 20; ++power_off) {
      Op crash;
      crash.kind = OpKind::kCrash;
      ExpectSameAsModel(
          IndexType::kU64, IndexType::kU64, ValueMode::kReplace,
          {ArmOp(way, 0b100110, power_off), BeginWithId(0, "a"),
           RecordOp(OpKind::kInsert, 0, 0, "a"), PreparedOp(OpKind::kPrepare, 0),
           BeginWithId(1, "b"), TxOp(OpKind::kPut, 1, 2, 2), PreparedOp(OpKind::kPrepare, 1),
           BeginWithId(2, "c"), TxOp(OpKind::kCreateIndex, 2, 0, 0, 5),
           PreparedOp(OpKind::kPrepare, 2), crash});
    }
  }
}

// Snapshots read the state they were taken in, while commits, prepared commits and drops go on.
TEST(StateMachineTest, SnapshotsKeepTheirState) {
  Op take;
  take.kind = OpKind::kTakeSnapshot;
  auto read = [](SnapshotReadKind kind, int segment = 0) {
    Op op;
    op.kind = OpKind::kSnapshotRead;
    op.segment = segment;
    op.arg = EncodeSnapshotReadArgs(SnapshotReadArgs{kind, 0});
    return op;
  };
  Op get;
  get.kind = OpKind::kSnapshotGet;
  get.key = 1;
  Op range;
  range.kind = OpKind::kSnapshotRange;
  ExpectSameAsModel(
      IndexType::kU8, IndexType::kU8, ValueMode::kCluster,
      {BeginOp(0, Strategy::kLastWriterWins), RecordOp(OpKind::kInsert, 0, 0, "v1"),
       TxOp(OpKind::kPut, 0, 1, 1), TxOp(OpKind::kCommit, 0), take,
       RecordOp(OpKind::kUpdate, 1, 0, "v2"), TxOp(OpKind::kPut, 1, 1, 2),
       PreparedOp(OpKind::kPrepare, 1), PreparedOp(OpKind::kCommitPrepared, 1),
       BeginOp(0, Strategy::kLastWriterWins), TxOp(OpKind::kDropSegment, 0),
       TxOp(OpKind::kDropIndex, 0), TxOp(OpKind::kCommit, 0), read(SnapshotReadKind::kRead),
       read(SnapshotReadKind::kScan), read(SnapshotReadKind::kListSegments),
       read(SnapshotReadKind::kExistsIndex), read(SnapshotReadKind::kListIndexes), get, range,
       TxOp(OpKind::kReadCommitted, 0), TxOp(OpKind::kGetCommitted, 0, 1)});
}

}  // namespace
}  // namespace persy::model
