#!/usr/bin/env bash
# The whole test suite: every test, then again under ASan with UBSan, then under TSan the tests
# that start threads.
#
#   tools/test.sh           all three runs (what CI runs)
#   tools/test.sh --quick   the plain configuration only
#
# ASan and UBSan run together, in one build (--config=asan --config=ubsan: their flags add up,
# -fsanitize=address -fsanitize=undefined), as many projects run them; each of the two configs
# also works alone. One build less saves about 3 minutes of CI, as every configuration compiles
# what it tests anew.
#
# TSan checks how threads share memory and locks, which a test of one thread gives it little to
# check, so the TSan run takes the tests tagged "threads" (the engine starts no thread of its
# own: every other test runs one) and builds only what they need, which leaves out the model
# and the crash explorer. The guard below fails the run if an untagged test's sources start a
# thread. `bazel test --config=tsan //...` runs every test under TSan and stays green too
# (docs/testing.md).
# Extra arguments after the flag go to every `bazel test` (e.g. --test_filter=...).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

configs=(default asan+ubsan tsan)
if [[ "${1:-}" == "--quick" ]]; then
  configs=(default)
  shift
fi

# Every test that starts threads carries the tag "threads", or TSan would not see it: the
# sources of the untagged tests and of everything of the project's they depend on start none.
# (<thread> alone is no sign: std::this_thread, which the engine's group commit uses, starts
# nothing; std::thread and std::jthread are matched where they are named.)
untagged='tests(//...) except attr(tags, "[\[ ]threads[,\]]", tests(//...))'
sources=$(bazel query --noshow_progress "let t = ${untagged} in labels(srcs, deps(\$t)) + labels(hdrs, deps(\$t))" |
  sed -n 's|^//||; s|:|/|; s|^/||; /^@/d; p')
status=0
starting=$(grep -lE 'std::(j)?thread|std::async|pthread_create|#include <future>|->Thread(s|Range)\(' \
  /dev/null ${sources}) || status=$?
if [[ $status -eq 0 ]]; then
  echo "these files start threads, but the tests built from them lack tags = [\"threads\"]:" >&2
  echo "${starting}" >&2
  exit 1
elif [[ $status -ne 1 ]]; then
  echo "the check for threads could not read the tests' sources" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
times=()
for config in "${configs[@]}"; do
  flags=()
  if [[ "$config" != default ]]; then
    IFS=+ read -ra names <<<"$config"
    for name in "${names[@]}"; do flags+=(--config="$name"); done
  fi
  if [[ "$config" == tsan ]]; then flags+=(--test_tag_filters=threads --build_tests_only); fi
  echo "=== bazel test ${flags[*]} //... (${config}) ==="
  start=$SECONDS
  bazel test "${flags[@]}" //... "$@" 2>&1 | tee "$log"
  times+=("${config} $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s")
  # Bazel's summary: "Executed A out of N tests: N tests pass." (set -o pipefail keeps failures)
  n=$(sed -n 's/.*out of \([0-9]*\) tests\?: .* pass.*/\1/p' "$log" | tail -1)
  passed=$((passed + ${n:-0}))
done
echo "=== all configurations passed: ${configs[*]} ==="
for t in "${times[@]}"; do echo "  ${t}"; done
echo "test targets: ${passed} passed, 0 failed"
