// Property: the engine behaves as the reference model, for any sequence of operations of the
// vocabulary (ops.h), with transactions interleaved in up to four slots, crashes at any point
// of a commit, I/O errors, and reopens.
//
// Method. RapidCheck generates a disk seed, an engine configuration (small or default page
// cache and checkpoint threshold, default strategy) and a sequence of operations; the executor
// (executor.h) runs it on the model and on the engine over a simulated disk and reports the
// first difference. RapidCheck then shrinks the sequence and prints it, one op per line.
//
// Runs 500 sequences of up to 100 operations in `bazel test` (the env of the target), with a
// fresh seed each run; RapidCheck prints it ("Using configuration: seed=N").
// Replay:   bazel test //model:state_machine_test --test_env=RC_PARAMS="seed=N max_success=500 max_size=100"
//           (or the `reproduce=` string a failure prints)
// Deep run: bazel build //model:state_machine_test &&
//           RC_PARAMS="max_success=20000 max_size=100" bazel-bin/model/state_machine_test

#include <cstdint>
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
  bool prelude = false;           // starts with Prelude() (ops.h)
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
  std::vector<Op> ops = input.prelude ? Prelude() : std::vector<Op>();
  ops.insert(ops.end(), input.ops.begin(), input.ops.end());
  return ops;
}

void showValue(const Input& input, std::ostream& os) {
  const std::vector<Op> ops = OpsOf(input);
  os << "disk seed " << input.seed << (input.small_cache ? ", 64 KiB cache" : "")
     << (input.small_journal ? ", 16 KiB checkpoint threshold" : "") << ", default strategy "
     << StrategyName(static_cast<Strategy>(input.default_strategy)) << ", " << ops.size()
     << " ops" << (input.prelude ? " (0-3: the prelude)" : "") << ":\n"
     << ToString(ops);
}

// An index in [0, n) drawn with weights `weight(i)`; shrinks towards 0.
rc::Gen<int> WeightedIndex(int n, int (*weight)(int)) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += weight(i);
  return rc::gen::map(rc::gen::inRange(0, total), [n, weight](int pick) {
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
         {1, gen::apply([](size_t n) { return std::string(n, 'i'); },
                        gen::inRange<size_t>(510, 515))}});
    const auto segment = persy::model::WeightedIndex(persy::model::kSegmentNameCount,
                                                     persy::model::SegmentWeight);
    // Mostly ids seen; one in four fabricated.
    const auto record = gen::weightedOneOf<int>(
        {{3, gen::inRange(0, 1000)}, {1, gen::inRange(-64, 0)}});
    const auto too_big = gen::weightedOneOf<int>({{60, gen::just(0)}, {1, gen::just(1)}});
    const auto tx = persy::model::WeightedIndex(persy::model::kTxSlots, persy::model::TxSlotWeight);

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
          arg = gen::inRange(0, 4);
          op_bytes = tx_id;
          break;
        case OpKind::kInsert:
        case OpKind::kUpdate:
          arg = too_big;
          op_bytes = bytes;
          break;
        case OpKind::kScan:
        case OpKind::kScanCommitted:
          arg = gen::weightedOneOf<int>({{3, gen::just(0)}, {1, gen::inRange(1, 4)}});
          break;
        case OpKind::kCrashInNextCommit:
          arg = gen::inRange(1, 64);
          break;
        case OpKind::kInjectIoError:
          arg = gen::inRange(0, 512);
          break;
        default:
          break;
      }
      return gen::apply(
          [k](int t, int s, int r, std::string b, int a) { return Op{k, t, s, r, std::move(b), a}; },
          tx, segment, record, op_bytes, arg);
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
        gen::set(&persy::model::Input::small_cache),
        gen::set(&persy::model::Input::small_journal),
        gen::set(&persy::model::Input::default_strategy, gen::inRange(0, 3)),
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

}  // namespace
}  // namespace persy::model
