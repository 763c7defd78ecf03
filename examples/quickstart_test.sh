#!/usr/bin/env bash
# Runs the README example twice on a real file: the second run finds the segment already there
# (OpenOrCreate's init runs once), inserts a second record and indexes it under the same name.
set -euo pipefail
db="${TEST_TMPDIR:-$(mktemp -d)}/quickstart.persy"
first=$(examples/quickstart "$db")
second=$(examples/quickstart "$db")
[[ "$first" == "1.1 -> alice, 1 named alice" ]] || { echo "first run: $first"; exit 1; }
[[ "$second" == "1.2 -> alice, 2 named alice" ]] || { echo "second run: $second"; exit 1; }
echo "quickstart_test: 1 passed, 0 failed"
