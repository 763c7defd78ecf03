#include "crashsim/explorer.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"

namespace persy::crashsim {
namespace {

using model::Executor;
using model::ExecutorOptions;
using model::Op;
using model::OpKind;
using model::RecoveryPlan;
using model::RecoveryWay;

// The disk seed of index `damage` (each crash point is tried with the same ones).
uint64_t DiskSeed(const ExploreOptions& options, int damage) {
  return options.seed * 1000003 + static_cast<uint64_t>(damage) + 1;
}

// Where one run crashes: after the k-th I/O event of commit call `call`, which operation `op`
// of the workload makes (its first call), recovering with `plan`.
struct CrashPoint {
  int call = 0;
  size_t op = 0;
  uint64_t event = 1;
  int damage = 0;
  RecoveryPlan plan;
};

// How the recovery after crash point (call, event) decides the transactions in doubt: the three
// ways in turn, with decisions drawn from the point.
RecoveryPlan PlanFor(int call, uint64_t event, int recovery_cut) {
  RecoveryPlan plan;
  plan.way = static_cast<RecoveryWay>((static_cast<uint64_t>(call) + event) % 3);
  plan.decisions = static_cast<int>((static_cast<uint64_t>(call) * 2654435761u + event * 40503u) %
                                    (1 << 12));
  plan.power_off = recovery_cut;
  return plan;
}

std::string ReplayCommand(const ExploreOptions& options, int workload, const CrashPoint& point) {
  return absl::StrCat("tools/crashsim.sh --seed=", options.seed, " --ops=", options.ops,
                      " --tail=", options.tail, " --workload=", workload,
                      " --call=", point.call, " --event=", point.event,
                      " --damage=", point.damage, " --recovery-cut=", point.plan.power_off);
}

// The operations of one run: the workload up to the crashing operation, the crash, the tail.
std::vector<Op> CrashRunOps(const std::vector<Op>& workload, const CrashPoint& point, int tail) {
  std::vector<Op> ops(workload.begin(), workload.begin() + static_cast<long>(point.op));
  Op arm;
  arm.kind = OpKind::kArmRecovery;
  arm.arg = model::EncodeRecoveryPlan(point.plan);
  ops.push_back(arm);
  Op crash;
  crash.kind = OpKind::kCrashInNextCommit;
  crash.arg = static_cast<int>(point.event);
  ops.push_back(crash);
  const size_t end = std::min(workload.size(), point.op + 1 + static_cast<size_t>(tail));
  ops.insert(ops.end(), workload.begin() + static_cast<long>(point.op),
             workload.begin() + static_cast<long>(end));
  return ops;
}

// One crash run; sets *cut_short if the disk cut its recovery short.
absl::Status RunCrash(const ExploreOptions& options, int workload, const std::vector<Op>& ops,
                      const CrashPoint& point, ExploreStats* stats, bool* cut_short) {
  const std::vector<Op> run = CrashRunOps(ops, point, options.tail);
  if (options.verbose) {
    std::fprintf(stderr, "%s\n%s\n", ReplayCommand(options, workload, point).c_str(),
                 model::ToString(run).c_str());
  }
  ExecutorOptions executor_options;
  executor_options.seed = DiskSeed(options, point.damage);
  model::Coverage coverage;
  const absl::Status s = model::RunOps(executor_options, run, &coverage);
  ++stats->runs;
  stats->coverage.Add(coverage);
  *cut_short = coverage.recoveries_cut_short > 0;
  if (*cut_short) ++stats->recovery_cuts;
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat(
        "crash exploration: workload ", workload, ", commit call ", point.call, " (op ", point.op,
        "), power off after its event ", point.event, ", disk seed index ", point.damage,
        ", recovery cut after event ", point.plan.power_off, " (0: none): ", s.message(),
        "\nreplay: ", ReplayCommand(options, workload, point), "\noperations:\n",
        model::ToString(run)));
  }
  return absl::OkStatus();
}

// The dry run: for each commit call, the operation that makes it (the first call of an
// operation only: CrashInNextCommit arms the next call) and its I/O events.
struct Call {
  size_t op = 0;
  uint64_t events = 0;
};
absl::Status DryRun(const ExploreOptions& options, const std::vector<Op>& ops,
                    std::vector<Call>* calls) {
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(ExecutorOptions{
      .seed = DiskSeed(options, 0)});
  if (!executor.ok()) return executor.status();
  for (size_t i = 0; i < ops.size(); ++i) {
    const size_t before = (*executor)->commit_call_events().size();
    if (absl::Status s = (*executor)->Apply(ops[i]); !s.ok()) {
      return absl::InternalError(absl::StrCat("the dry run (no crash), op ", i, " ",
                                              model::ToString(ops[i]), ": ", s.message(),
                                              "\noperations:\n", model::ToString(ops)));
    }
    const std::vector<uint64_t>& events = (*executor)->commit_call_events();
    if (events.size() > before) calls->push_back(Call{i, events[before]});
  }
  return absl::OkStatus();
}

absl::Status ExploreWorkload(const ExploreOptions& options, int workload, ExploreStats* stats) {
  const std::vector<Op> ops = Workload(options, workload);
  std::vector<Call> calls;
  if (absl::Status s = DryRun(options, ops, &calls); !s.ok()) return s;
  ++stats->workloads;
  stats->commit_calls += static_cast<int>(calls.size());
  // A replay (only_workload set) runs the one point the only_ options name.
  const bool replay = options.only_workload.has_value();
  for (int c = 0; c < static_cast<int>(calls.size()); ++c) {
    if (replay && c != options.only_call) continue;
    // k = events: the disk goes off just after the call's last event, when it has returned or
    // is about to. A call without I/O (a commit that only read) is crashed after, with k = 1.
    const uint64_t last = std::max<uint64_t>(1, calls[c].events);
    for (uint64_t k = 1; k <= last; ++k) {
      if (replay && k != options.only_event) continue;
      ++stats->crash_points;
      for (int d = 0; d < options.damage_seeds; ++d) {
        if (replay && d != options.only_damage) continue;
        const int first_cut = replay ? options.only_recovery_cut : 0;
        const int last_cut = replay ? options.only_recovery_cut : options.cut_recovery ? 63 : 0;
        for (int cut = first_cut; cut <= last_cut; ++cut) {
          const CrashPoint point{c, calls[c].op, k, d, PlanFor(c, k, cut)};
          bool cut_short = false;
          if (absl::Status s = RunCrash(options, workload, ops, point, stats, &cut_short);
              !s.ok()) {
            return s;
          }
          // A recovery that finished before its cut: later cuts would not cut it either.
          if (cut > 0 && !cut_short) break;
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Op> Workload(const ExploreOptions& options, int index) {
  std::mt19937_64 rng(options.seed * 7919 + static_cast<uint64_t>(index));
  std::vector<Op> ops = model::Prelude(index % model::kIndexSpecCount);
  // DecodeOps takes about two to four bytes an operation; draw until there are enough.
  std::vector<uint8_t> bytes;
  std::vector<Op> decoded;
  while (static_cast<int>(decoded.size()) < options.ops && bytes.size() < 1 << 16) {
    for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<uint8_t>(rng()));
    decoded.clear();
    for (const Op& op : model::DecodeOps(bytes.data(), bytes.size())) {
      // The explorer places the crashes, and the recovery plans that go with them.
      if (op.kind == OpKind::kCrash || op.kind == OpKind::kCrashInNextCommit ||
          op.kind == OpKind::kInjectIoError || op.kind == OpKind::kArmRecovery) {
        continue;
      }
      decoded.push_back(op);
    }
  }
  if (static_cast<int>(decoded.size()) > options.ops) decoded.resize(options.ops);
  ops.insert(ops.end(), decoded.begin(), decoded.end());
  return ops;
}

absl::Status Explore(const ExploreOptions& options, ExploreStats* stats) {
  if (options.workloads < 1 || options.ops < 0 || options.damage_seeds < 1 || options.tail < 0 ||
      options.ops > 200 || options.only_event < 1 || options.only_recovery_cut < 0 || options.only_recovery_cut > 63) {
    return absl::InvalidArgumentError("crash exploration: an option is out of range");
  }
  for (int w = 0; w < options.workloads; ++w) {
    if (options.only_workload.has_value() && w != *options.only_workload) continue;
    if (absl::Status s = ExploreWorkload(options, w, stats); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace persy::crashsim
