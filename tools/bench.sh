#!/usr/bin/env bash
# The commit benchmark (bench/commit_bench.cc) as docs/benchmarks.md records it: -c opt,
# repetitions interleaved at random so that a drift of the disk's latency falls on every
# benchmark alike, medians, and the ratios issue 5 sets targets for.
#
#   tools/bench.sh                 5 interleaved repetitions of at least 1 s each (about 2 min)
#   tools/bench.sh --repetitions=9 more repetitions
# $BENCH_DIR picks the directory of the benchmark's files (default /tmp): put it on the disk to
# measure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

repetitions=5
for arg in "$@"; do
  case "$arg" in
    --repetitions=*) repetitions="${arg#*=}" ;;
    *) echo "usage: tools/bench.sh [--repetitions=N]" >&2; exit 2 ;;
  esac
done

bazel build --config=opt //bench:commit_bench
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
BENCH_DIR="${BENCH_DIR:-/tmp}" bazel-bin/bench/commit_bench --benchmark_min_time=1 \
  --benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true --benchmark_format=csv >"$csv"

# Columns: name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,...
awk -F, '
  /_median"/ {
    name = $1; gsub(/"/, "", name); sub(/\/real_time/, "", name); sub(/_median$/, "", name)
    real[name] = $3; rate[name] = $7
  }
  END {
    n = split("BM_RawSync BM_Commit/threads:1 BM_Commit/threads:2 BM_Commit/threads:4 " \
              "BM_Commit/threads:8 BM_Commit/threads:16 BM_CommitNoGather/threads:2 " \
              "BM_CommitNoGather/threads:8", order, " ")
    one = "BM_Commit/threads:1"
    printf "%-30s %10s %11s  %s\n", "benchmark (median)", "latency", "per second", "ratio"
    for (i = 1; i <= n; ++i) {
      b = order[i]
      if (!(b in real)) { print "missing: " b; bad = 1; continue }
      if (b == "BM_RawSync") ratio = ""
      else if (b == one) ratio = sprintf("%.2fx the raw sync'"'"'s latency (target: at most 1.2)", real[b] / real["BM_RawSync"])
      else ratio = sprintf("%.2fx one thread'"'"'s rate", rate[b] / rate[one])
      if (b == "BM_Commit/threads:8") ratio = ratio " (target: at least 4)"
      printf "%-30s %7.1f us %11.0f  %s\n", b, real[b] / 1000, rate[b], ratio
    }
    exit bad
  }' "$csv"
