#!/usr/bin/env bash
# Control engine benchmark: every control over a synthetic inventory of N resources (default
# 1,000,000) made by copying the recorded sample account, one copy per account. Prints wall time,
# evaluations per second and peak memory. Run by hand: bench/controls.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
swift build -c release --product attest >/dev/null
BIN="$(swift build -c release --show-bin-path)/attest"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$BIN" demo --no-controls --format json --output "$WORK/sample.json" --quiet >/dev/null
/usr/bin/time -v "$BIN" controls bench --inventory "$WORK/sample.json" --resources "$N" 2>"$WORK/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt" | sed 's/^\s*/process /'
