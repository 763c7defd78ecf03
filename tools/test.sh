#!/usr/bin/env bash
# The whole test suite: every test, then again under ASan with UBSan, and under TSan.
#
#   tools/test.sh           all three runs (what CI runs)
#   tools/test.sh --quick   the plain configuration only
#
# ASan and UBSan run together, in one build (--config=asan --config=ubsan: their flags add up,
# -fsanitize=address -fsanitize=undefined), as many projects run them; each of the two configs
# also works alone. One build less saves about 3 minutes of CI, as every configuration compiles
# everything anew.
# Extra arguments after the flag go to every `bazel test` (e.g. --test_filter=...).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

configs=(default asan+ubsan tsan)
if [[ "${1:-}" == "--quick" ]]; then
  configs=(default)
  shift
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
for config in "${configs[@]}"; do
  echo "=== bazel test //... (${config}) ==="
  flags=()
  if [[ "$config" != default ]]; then
    IFS=+ read -ra names <<<"$config"
    for name in "${names[@]}"; do flags+=(--config="$name"); done
  fi
  bazel test "${flags[@]}" //... "$@" 2>&1 | tee "$log"
  # Bazel's summary: "Executed A out of N tests: N tests pass." (set -o pipefail keeps failures)
  n=$(sed -n 's/.*out of \([0-9]*\) tests\?: .* pass.*/\1/p' "$log" | tail -1)
  passed=$((passed + ${n:-0}))
done
echo "=== all configurations passed: ${configs[*]} ==="
echo "test targets: ${passed} passed, 0 failed"
