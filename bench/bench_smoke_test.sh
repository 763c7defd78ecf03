#!/usr/bin/env bash
# Runs a benchmark binary for a few iterations of each benchmark: it must run them all without
# an error. Speed is measured by hand (docs/benchmarks.md), never here.
set -euo pipefail
bench="$1"
export BENCH_DIR="${TEST_TMPDIR:-$(mktemp -d)}"
out=$("$bench" --benchmark_min_time=0.001 --benchmark_format=csv 2>&1) || { echo "$out"; exit 1; }
if grep -q ",true," <<<"$out"; then echo "$out"; exit 1; fi  # error_occurred
runs=$(grep -c '^"BM_' <<<"$out" || true)
[[ "$runs" -ge 8 ]] || { echo "expected 8 benchmarks, ran $runs:"; echo "$out"; exit 1; }
echo "bench smoke: $runs benchmarks ran, 0 failed"
