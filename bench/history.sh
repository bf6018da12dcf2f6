#!/usr/bin/env bash
# Scan history benchmark: records two synthetic scans of N resources (default 100,000; two
# results each), a hundredth of the resources changed in between, then diffs them. Prints the
# time to record each scan and to diff, and the database's size. Run by hand: bench/history.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
swift build -c release --product attest >/dev/null
BIN="$(swift build -c release --show-bin-path)/attest"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
/usr/bin/time -v "$BIN" history bench --resources "$N" --history "$WORK/history.sqlite" 2>"$WORK/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt" | sed 's/^\s*/process /'
