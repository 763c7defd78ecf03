// Systematic crash exploration: every crash point of a workload, not a random sample.
//
// A workload is a sequence of the shared operation vocabulary (model/ops.h): the prelude, then
// `ops` operations decoded from bytes drawn from the seed, without the vocabulary's own
// crashes, injected errors and recovery plans (the explorer places those). A dry run of it on
// the executor (model/executor.h: the reference model beside the engine on a simulated disk,
// every result compared) finds its commit calls (Commit, Prepare, the decision of a prepared
// transaction, the drop of an undecided handle, and the Close of a Reopen, which writes the
// journal's pages home) and counts each one's I/O events. Then, for every call c and every k
// from 1 to its events (k = events: just after its last event, so after it returned; a call
// without I/O is crashed after it, k = 1), a run replays the workload up to the operation of
// c, turns the disk off after the k-th event of c, crashes it with the damage of a disk seed
// (unsynced writes lost, torn or kept), recovers, goes on with the next `tail` operations, and
// ends with a clean reopen. The executor compares what recovery
// finds with the model: every call that returned OK is there, every call cut short is either
// there or not, entirely, and the file passes the integrity check. The recovery after each
// crash decides the transactions left in doubt in one of the three ways (Persy::Open,
// OpenWithRecover, Recover), in turn. With `cut_recovery`, every crash point is also explored
// with the recovery itself cut at each of its I/O events, then recovered again.
//
// Every run is determined by (seed, workload, call, k, disk seed, recovery cut): a failure
// names them, with the command that replays that one run.
//
// Thread-safety: Explore is safe to call from several threads at once (each call has its own
// disks).

#ifndef CRASHSIM_EXPLORER_H_
#define CRASHSIM_EXPLORER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/executor.h"
#include "model/ops.h"

namespace persy::crashsim {

struct ExploreOptions {
  uint64_t seed = 1;       // the workloads' bytes and the disk seeds
  int workloads = 1;       // workloads 0 .. workloads - 1
  int ops = 60;            // decoded operations per workload, after the prelude
  int damage_seeds = 1;    // disk seeds (crash damage) tried at each crash point
  int tail = 8;            // operations run after each recovery (then a clean reopen)
  bool cut_recovery = false;
  // One run only, to replay a failure: its workload, call, k, disk seed index and recovery cut
  // (0: none). `only_workload` set means all of them are.
  std::optional<int> only_workload;
  int only_call = 0;
  uint64_t only_event = 1;
  int only_damage = 0;
  int only_recovery_cut = 0;
  bool verbose = false;  // print each run's operations
};

struct ExploreStats {
  int workloads = 0;
  int commit_calls = 0;    // in the dry runs
  int crash_points = 0;    // (call, k) pairs
  int runs = 0;            // crash points times disk seeds, plus the runs cutting recovery
  int recovery_cuts = 0;   // runs whose recovery the disk cut short
  model::Coverage coverage;  // summed over the runs
};

// The workload `index` of `options` (deterministic).
std::vector<model::Op> Workload(const ExploreOptions& options, int index);

// Explores as `options` says, adding to `*stats`. Returns OK if every run agreed with the
// model; else kInternal with the run, its replay command and its operations. Errors:
// kInvalidArgument for options out of range, kInternal for a difference.
absl::Status Explore(const ExploreOptions& options, ExploreStats* stats);

}  // namespace persy::crashsim

#endif  // CRASHSIM_EXPLORER_H_
