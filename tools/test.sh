#!/usr/bin/env bash
# The whole test suite: every test, then again under ASan, UBSan and TSan.
#
#   tools/test.sh           all four configurations (what CI runs)
#   tools/test.sh --quick   the plain configuration only
# Extra arguments after the flag go to every `bazel test` (e.g. --test_filter=...).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

configs=(default asan ubsan tsan)
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
  [[ "$config" == default ]] || flags=(--config="$config")
  bazel test "${flags[@]}" //... "$@" 2>&1 | tee "$log"
  # Bazel's summary: "Executed A out of N tests: N tests pass." (set -o pipefail keeps failures)
  n=$(sed -n 's/.*out of \([0-9]*\) tests\?: .* pass.*/\1/p' "$log" | tail -1)
  passed=$((passed + ${n:-0}))
done
echo "=== all configurations passed: ${configs[*]} ==="
echo "test targets: ${passed} passed, 0 failed"
