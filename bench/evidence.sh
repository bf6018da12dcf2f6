#!/usr/bin/env bash
# Evidence benchmark: evaluates every control over a synthetic inventory (copies of the recorded
# sample account), writes the first N results (default 1,000,000) as evidence into a temporary
# store, then verifies it. Prints write and verify time, records, size on disk, peak memory.
# Needs about 20 GB of free disk for 1,000,000 results. Run by hand: bench/evidence.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
swift build -c release --product attest >/dev/null
BIN="$(swift build -c release --show-bin-path)/attest"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$BIN" demo --no-controls --format json --output "$WORK/sample.json" --quiet >/dev/null
# The sample account gives about 3.98 results per resource.
RESOURCES=$(( N * 100 / 397 + 1000 ))
/usr/bin/time -v "$BIN" controls bench --inventory "$WORK/sample.json" --resources "$RESOURCES" \
  --evidence "$WORK/evidence" --evidence-results "$N" 2>"$WORK/time.txt"
du -sh "$WORK/evidence" | sed 's/^/on disk: /'
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt" | sed 's/^\s*/process /'
