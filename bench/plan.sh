#!/usr/bin/env bash
# Plan-time benchmark: a plan of N copies (default 200) of the non-compliant fixture plan
# (fixtures/terraform/aws/noncompliant, 57 resources each), each copy a module instance of its
# own, so references resolve through module calls as in a large monorepo's plan. Prints the
# plan's size, attest plan's wall time and peak memory (release build), and Checkov's over the
# same plan when it is installed (scripts/install-test-deps.sh, or ATTEST_CHECKOV).
# Run by hand: bench/plan.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
swift build -c release --product attest >/dev/null
BIN="$(swift build -c release --show-bin-path)/attest"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 - "$N" "$WORK/plan.json" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
base = json.load(open("fixtures/terraform/aws/noncompliant/plan.json"))
changes, calls = [], {}
for i in range(n):
    prefix = f"module.copy{i}"
    for c in base["resource_changes"]:
        c = dict(c)
        c["address"] = f"{prefix}.{c['address']}"
        c["module_address"] = prefix + ("." + c["module_address"] if c.get("module_address") else "")
        changes.append(c)
    calls[f"copy{i}"] = {"source": "./copy", "expressions": {}, "module": base["configuration"]["root_module"]}
plan = dict(base)
plan["resource_changes"] = changes
plan["configuration"] = {"provider_config": base["configuration"]["provider_config"],
                         "root_module": {"module_calls": calls}}
json.dump(plan, open(out, "w"))
print(f"plan: {len(changes)} resource changes, {len(json.dumps(plan)) / 1e6:.1f} MB")
PY
/usr/bin/time -v "$BIN" plan "$WORK/plan.json" --fail-on never --format json --output "$WORK/report.json" --quiet 2>"$WORK/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt" | sed 's/^\s*/attest plan: /'
python3 -c "import json,sys,collections; r=json.load(open(sys.argv[1])); print('results:', len(r['results']), dict(collections.Counter(x['status'] for x in r['results'])))" "$WORK/report.json"
CHECKOV="${ATTEST_CHECKOV:-}"
for c in "$HOME/.cache/attest/checkov/bin/checkov" /opt/attest-checkov/bin/checkov; do [ -z "$CHECKOV" ] && [ -x "$c" ] && CHECKOV="$c"; done
if [ -n "$CHECKOV" ]; then
  /usr/bin/time -v "$CHECKOV" -f "$WORK/plan.json" --framework terraform_plan -o json --compact --skip-download --soft-fail \
    >"$WORK/checkov.json" 2>"$WORK/checkov-time.txt" || true
  grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/checkov-time.txt" | sed 's/^\s*/checkov: /'
fi
