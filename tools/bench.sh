#!/usr/bin/env bash
# The commit benchmark (bench/commit_bench.cc) as docs/benchmarks.md records it, with the ratios
# issue 5 sets targets for.
#
#   tools/bench.sh              9 rounds (about 2 minutes)
#   tools/bench.sh --rounds=N   N rounds
#
# This disk's latency drifts, and jumps between levels a few seconds apart, so a ratio of two
# benchmarks run minutes apart says little. Each round runs every benchmark once (-c opt, at
# least 0.5 s each, in random order), the ratios are taken within the round, and what is
# printed is the median over the rounds: of each benchmark's figures, and of each ratio.
# $BENCH_DIR picks the directory of the benchmark's files (default /tmp): put it on the disk to
# measure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

rounds=9
for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds="${arg#*=}" ;;
    *) echo "usage: tools/bench.sh [--rounds=N]" >&2; exit 2 ;;
  esac
done

bazel build --config=opt //bench:commit_bench
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
for ((round = 1; round <= rounds; ++round)); do
  echo "round $round of $rounds" >&2
  BENCH_DIR="${BENCH_DIR:-/tmp}" bazel-bin/bench/commit_bench --benchmark_min_time=0.5 \
    --benchmark_enable_random_interleaving=true --benchmark_format=csv 2>/dev/null |
    sed -n "s/^\"\\(BM_[^\"]*\\)\",/$round,\\1,/p" >>"$csv"
done

# Lines: round,name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,...
awk -F, -v rounds="$rounds" '
  function median(a, n,    i, j, t) {  # sorts a[1..n]
    for (i = 2; i <= n; ++i) for (j = i; j > 1 && a[j - 1] > a[j]; --j) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    name = $2; sub(/\/real_time/, "", name)
    real[$1, name] = $4; rate[$1, name] = $8
  }
  END {
    n = split("BM_RawSync BM_Commit/threads:1 BM_Commit/threads:2 BM_Commit/threads:4 " \
              "BM_Commit/threads:8 BM_Commit/threads:16 BM_CommitNoGather/threads:2 " \
              "BM_CommitNoGather/threads:8", order, " ")
    one = "BM_Commit/threads:1"; raw = "BM_RawSync"
    printf "medians of %d rounds\n", rounds
    printf "%-28s %10s %11s  %s\n", "benchmark", "latency", "per second", "ratio, within each round"
    for (i = 1; i <= n; ++i) {
      b = order[i]; k = 0
      for (r = 1; r <= rounds; ++r) {
        if (!((r, b) in real)) { print "missing: " b " in round " r; bad = 1; continue }
        ++k; lat[k] = real[r, b]; per[k] = rate[r, b]
        q[k] = b == one ? real[r, b] / real[r, raw] : rate[r, b] / rate[r, one]
      }
      if (k == 0) continue
      m_lat = median(lat, k); m_per = median(per, k); m_q = median(q, k)
      lo = q[1]; hi = q[k]
      if (b == raw) note = ""
      else if (b == one) note = sprintf("%.2fx the raw sync'"'"'s latency (%.2f to %.2f; target: at most 1.2)", m_q, lo, hi)
      else note = sprintf("%.2fx one thread'"'"'s rate (%.2f to %.2f)", m_q, lo, hi)
      if (b == "BM_Commit/threads:8") note = note " (target: at least 4)"
      printf "%-28s %7.1f us %11.0f  %s\n", b, m_lat / 1000, m_per, note
    }
    exit bad
  }' "$csv"
