#!/usr/bin/env bash
# The project's main job: systematic crash exploration of the engine against the reference model
# (crashsim/explorer.h). Every I/O event of every commit, prepare and decision of each workload
# is a crash point: the disk goes off there, is crashed with a seed's damage, and the recovery
# (itself cut at each of its events) must agree with the model.
#
#   tools/crashsim.sh                 the default run: 10 workloads of 100 operations, 2 disk
#                                     seeds per crash point, recoveries cut (a few minutes)
#   tools/crashsim.sh --seed=N ...    other flags go to the explorer (crashsim/explore_main.cc):
#                                     --workloads --ops --damage-seeds --tail --cut-recovery
#                                     --verbose, and the replay flags a failure prints
#   tools/crashsim.sh --demo [--seed=N]   the simulated disk alone: write, crash, what survived
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
if [[ "${1:-}" == "--demo" ]]; then
  shift
  exec bazel run //crashsim:demo -- "$@"
fi
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
  args=(--seed="$(date +%s)" --workloads=10 --ops=100 --damage-seeds=2 --cut-recovery)
fi
bazel build --config=opt //crashsim:explore
exec bazel-bin/crashsim/explore "${args[@]}"
