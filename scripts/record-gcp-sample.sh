#!/usr/bin/env bash
# Re-records fixtures/gcp/sample-project (the recording `attest demo --cloud gcp` replays) from the
# seeded Google Cloud estate (fixtures/gcp/seeded.py) served by the test peer
# (Tests/Support/gcp/gcp_peer.py, which needs gcplocal and google-auth: scripts/install-test-deps.sh).
# Run it after changing the seeded estate or a spec, then run the GCP demo test.
#
# Usage: scripts/record-gcp-sample.sh [path/to/attest]   (default: swift build's debug binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${1:-$ROOT/.build/debug/attest}
[ -x "$BIN" ] || { echo "no attest binary at $BIN (run swift build)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'kill "${PEER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A throwaway service-account key and its certificate, which the peer verifies assertions with.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/key.pem" 2>/dev/null
openssl req -x509 -key "$WORK/key.pem" -subj "/CN=recorder" -days 1 -out "$WORK/cert.pem" 2>/dev/null
python3 fixtures/gcp/seeded.py "$WORK/seeded.json"
python3 - "$WORK" "$ROOT" <<'PY'
import json, sys
work, root = sys.argv[1], sys.argv[2]
email = "attest-recorder@seed-project.iam.gserviceaccount.com"
key = {"type": "service_account", "project_id": "seed-project", "private_key_id": "recorder1",
       "private_key": open(work + "/key.pem").read(), "client_email": email,
       "token_uri": "https://oauth2.googleapis.com/token"}
json.dump(key, open(work + "/key.json", "w"))
config = json.load(open(work + "/seeded.json"))
config.pop("projects", None)
config.update({"client_email": email, "key_id": "recorder1", "cert_pem": open(work + "/cert.pem").read(),
               "page_size": 1000, "discovery_dir": root + "/../shared/vectors/gcp/discovery"})
json.dump(config, open(work + "/config.json", "w"))
PY
python3 Tests/Support/gcp/gcp_peer.py "$WORK/config.json" > "$WORK/peer.out" 2> "$WORK/peer.err" &
PEER=$!
for _ in $(seq 100); do grep -q READY "$WORK/peer.out" 2>/dev/null && break; sleep 0.2; done
PORT=$(awk '/READY/{print $2}' "$WORK/peer.out")
[ -n "$PORT" ] || { cat "$WORK/peer.err" >&2; exit 1; }
E=http://127.0.0.1:$PORT
# The APIs the peer tells apart by a /_api/<api>/ prefix (DemoCommand.gcpOverriddenAPIs replays the same).
OVERRIDES=()
for api in sqladmin cloudkms logging monitoring container bigquery dns orgpolicy serviceusage cloudasset essentialcontacts; do
  OVERRIDES+=("CLOUDSDK_API_ENDPOINT_OVERRIDES_${api^^}=$E/_api/$api/")
done
rm -rf fixtures/gcp/sample-project
status=0
env -i PATH="$PATH" HOME=/nonexistent GOOGLE_APPLICATION_CREDENTIALS="$WORK/key.json" ATTEST_GCP_ENDPOINT="$E" \
  "${OVERRIDES[@]}" "$BIN" scan gcp --record fixtures/gcp/sample-project --quiet --no-evidence --no-history > /dev/null || status=$?
# 1: the estate's findings, as expected; anything else is a failure to record.
[ "$status" -le 1 ] || { echo "the recording scan exited $status" >&2; exit 1; }
echo "recorded $(find fixtures/gcp/sample-project -type f | wc -l) responses into fixtures/gcp/sample-project"
