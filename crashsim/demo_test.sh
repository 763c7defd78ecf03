#!/usr/bin/env bash
# The demo must run, keep synced data for many seeds, and print the same story for one seed.
set -euo pipefail
demo="crashsim/demo"
for seed in 1 2 3 4 5 6 7 8 9 10; do
  out=$("$demo" --seed=$seed)
  grep -q "synced data intact" <<<"$out" || { echo "seed $seed: $out"; exit 1; }
done
[[ "$("$demo" --seed=7)" == "$("$demo" --seed=7)" ]] || { echo "seed 7 is not reproducible"; exit 1; }
if "$demo" --bogus 2>/dev/null; then echo "bad flag accepted"; exit 1; fi
echo "demo_test: 1 passed, 0 failed"
