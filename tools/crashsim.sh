#!/usr/bin/env bash
# The project's main job: the crash simulation. For now it demonstrates the simulated disk
# (write, sync, crash, show what survived); the engine's crash exploration will run here.
#   tools/crashsim.sh [--seed=N]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
bazel run //crashsim:demo -- "$@"
