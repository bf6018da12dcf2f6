#!/usr/bin/env bash
# Re-records fixtures/aws/sample-account, the account `attest demo` scans offline:
# starts moto_server, seeds it with Tests/Support/moto/seed.py, and scans it with --record.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-5099}
out=fixtures/aws/sample-account
swift build -c debug --product attest
MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
python3 Tests/Support/moto/seed.py "http://127.0.0.1:$port" > /dev/null
rm -rf "$out"
AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=AKIAATTESTDEMO000001 \
  AWS_SECRET_ACCESS_KEY=attest/demo/secret/key/not/a/real/credential AWS_CONFIG_FILE=/dev/null \
  AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  .build/debug/attest scan aws --regions us-east-1,eu-west-1 --record "$out" --quiet > /dev/null
echo "recorded $(find "$out" -name '*.json' | wc -l) responses into $out ($(du -sh "$out" | cut -f1))"
