// The crash explorer's command line (crashsim/explorer.h): explores every crash point of the
// workloads of a seed and prints what it reached, or the first difference from the model with
// the command that replays it. Run through tools/crashsim.sh.
//
// Usage: explore [--seed=N] [--workloads=N] [--ops=N] [--damage-seeds=N] [--tail=N]
//                [--cut-recovery] [--verbose]
//        explore --seed=N --ops=N --tail=N --workload=W --call=C --event=K --damage=D
//                --recovery-cut=J     (one run: a failure's replay)
// Exit status: 0 no difference, 1 a difference, 2 bad usage.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "crashsim/explorer.h"

namespace {

constexpr char kUsage[] =
    "usage: explore [--seed=N] [--workloads=N] [--ops=N] [--damage-seeds=N] [--tail=N]\n"
    "               [--cut-recovery] [--verbose]\n"
    "       explore ... --workload=W --call=C --event=K --damage=D --recovery-cut=J\n";

// Parses "--name=value" into *value; returns whether `arg` is that flag, and sets *bad if its
// value is not a number.
bool NumberFlag(const char* arg, const char* name, long long* value, bool* bad) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  char* end = nullptr;
  *value = std::strtoll(arg + n + 1, &end, 10);
  if (end == arg + n + 1 || *end != '\0' || *value < 0) *bad = true;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  persy::crashsim::ExploreOptions options;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    long long v = 0;
    bool bad = false;
    if (NumberFlag(arg, "--seed", &v, &bad)) {
      options.seed = static_cast<uint64_t>(v);
    } else if (NumberFlag(arg, "--workloads", &v, &bad)) {
      options.workloads = static_cast<int>(v);
    } else if (NumberFlag(arg, "--ops", &v, &bad)) {
      options.ops = static_cast<int>(v);
    } else if (NumberFlag(arg, "--damage-seeds", &v, &bad)) {
      options.damage_seeds = static_cast<int>(v);
    } else if (NumberFlag(arg, "--tail", &v, &bad)) {
      options.tail = static_cast<int>(v);
    } else if (NumberFlag(arg, "--workload", &v, &bad)) {
      options.only_workload = static_cast<int>(v);
      options.workloads = std::max(options.workloads, static_cast<int>(v) + 1);
    } else if (NumberFlag(arg, "--call", &v, &bad)) {
      options.only_call = static_cast<int>(v);
    } else if (NumberFlag(arg, "--event", &v, &bad)) {
      options.only_event = static_cast<uint64_t>(v);
    } else if (NumberFlag(arg, "--damage", &v, &bad)) {
      options.only_damage = static_cast<int>(v);
      options.damage_seeds = std::max(options.damage_seeds, static_cast<int>(v) + 1);
    } else if (NumberFlag(arg, "--recovery-cut", &v, &bad)) {
      options.only_recovery_cut = static_cast<int>(v);
    } else if (std::strcmp(arg, "--cut-recovery") == 0) {
      options.cut_recovery = true;
    } else if (std::strcmp(arg, "--verbose") == 0) {
      options.verbose = true;
    } else {
      bad = true;
    }
    if (bad) {
      std::fprintf(stderr, "explore: bad argument %s\n%s", arg, kUsage);
      return 2;
    }
  }
  persy::crashsim::ExploreStats stats;
  const absl::Status s = persy::crashsim::Explore(options, &stats);
  if (absl::IsInvalidArgument(s)) {
    std::fprintf(stderr, "explore: %s\n%s", std::string(s.message()).c_str(), kUsage);
    return 2;
  }
  const persy::model::Coverage& c = stats.coverage;
  std::printf(
      "crash exploration (seed %llu): %d workloads of %d operations, %d commit calls, %d crash "
      "points, %d runs (%d disk seeds each), %d recoveries cut short, %d closes crashed; reached "
      "%d commits, %d prepares, %d decisions, %d outcomes unknown, %d opens finding "
      "transactions in doubt\n",
      static_cast<unsigned long long>(options.seed), stats.workloads, options.ops,
      stats.commit_calls, stats.crash_points, stats.runs, options.damage_seeds,
      stats.recovery_cuts, c.closes_cut, c.commits, c.prepared, c.decided, c.uncertain,
      c.in_doubt_opens[0] + c.in_doubt_opens[1] + c.in_doubt_opens[2]);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("no difference from the model\n");
  return 0;
}
