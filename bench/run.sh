#!/usr/bin/env bash
# Benchmark: attest and Prowler scanning the same moto-hosted account, in the same run.
# Usage: bench/run.sh [N]   (N extra users/roles, and per region buckets/groups/volumes; default 100)
# Reports wall time, peak memory and the API calls each tool made (counted from moto's own log).
# Both collect and evaluate their checks (attest: every built-in control).
# Prowler is used when `prowler` (or $PROWLER) is installed; it is not a dependency of attest.
# LATENCY_MS=50 puts a loopback proxy in front of moto that answers every request 50 ms later,
# as a cloud region's round trip does (bench/latency_proxy.py): call count and concurrency then
# decide the time.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
port=${PORT:-5098}
work=$(mktemp -d)
# ATTEST_BIN compares another build (an earlier commit's, say) on the same account.
attest_bin=${ATTEST_BIN:-.build/release/attest}
[ -n "${ATTEST_BIN:-}" ] || swift build -c release --product attest >/dev/null
MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; sleep 1; kill -9 $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
python3 Tests/Support/moto/seed.py "http://127.0.0.1:$port" > /dev/null
python3 bench/seed_scale.py "http://127.0.0.1:$port" "$n"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
regions=us-east-1,eu-west-1
if [ -n "${LATENCY_MS:-}" ]; then
  proxy_port=$((port + 1))
  python3 bench/latency_proxy.py "$proxy_port" "http://127.0.0.1:$port" "$LATENCY_MS" &
  proxy=$!
  trap 'kill $moto $proxy 2>/dev/null || true; sleep 1; kill -9 $moto 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$proxy_port) 2>/dev/null && break; sleep 0.2; done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port"
  echo "every response delayed ${LATENCY_MS} ms (bench/latency_proxy.py)"
fi

requests() { grep -cE '"(GET|POST|PUT|HEAD|DELETE) ' "$work/moto.log" || true; }

measure() { # name, command...
  local name=$1; shift
  local before; before=$(requests)
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/$name.out" 2> "$work/$name.err" || true
  local after; after=$(requests)
  read -r wall kb < <(tail -n 1 "$work/time")
  printf '%-8s wall %6.2f s   peak RSS %6d MiB   API calls %6d\n' "$name" "$wall" $((kb / 1024)) $((after - before))
}

measure attest "$attest_bin" scan aws --regions "$regions" --format json --output "$work/attest.json" --quiet
python3 - "$work/attest.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["scan"]["stats"]
print(f"attest   {s['resources']} resources, {s['edges']} edges, {s['errors']} errors, {s['calls']} calls (its own count)")
c = d.get("controls")
if c:
    b = c["by_status"]
    print(f"attest   {c['evaluated']} controls, {c['results']} results: {b['pass']} pass, {b['fail']} fail, {b['error']} error, {b['not_applicable']} n/a")
PY
prowler=${PROWLER:-$(command -v prowler || true)}
if [ -n "$prowler" ]; then
  measure prowler "$prowler" aws --region us-east-1 eu-west-1 --service iam s3 ec2 kms cloudtrail rds \
    --output-formats json-ocsf --output-directory "$work/prowler" --no-banner
  echo "prowler  $(cat "$work"/prowler/*.ocsf.json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo '?') findings"
else
  echo "prowler  not installed (pip install prowler, or set PROWLER=/path/to/prowler) — skipped"
fi
echo "outputs in $work"
