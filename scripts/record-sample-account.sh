#!/usr/bin/env bash
# Re-records fixtures/aws/sample-account, the account `attest demo` scans offline:
# starts moto (Tests/Support/moto/server.py: moto_server plus the few calls moto does not emulate),
# seeds it with Tests/Support/moto/seed.py and every area module (--areas), and scans it with --record.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-5099}
out=fixtures/aws/sample-account
swift build -c debug --product attest
MOTO_IAM_LOAD_MANAGED_POLICIES=true python3 Tests/Support/moto/server.py -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
python3 Tests/Support/moto/seed.py "http://127.0.0.1:$port" --areas > /dev/null
rm -rf "$out"
AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=AKIAATTESTDEMO000001 \
  AWS_SECRET_ACCESS_KEY=attest/demo/secret/key/not/a/real/credential AWS_CONFIG_FILE=/dev/null \
  AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  .build/debug/attest scan aws --regions us-east-1,eu-west-1 --record "$out" --no-controls --no-evidence --quiet > /dev/null
# moto leaves the root user out of the credential report; AWS always lists it first. Add the row
# AWS would give for a root user whose password was never used and that has no access keys and no
# MFA, so that every root-user control can judge in the demo.
python3 - "$out" <<'PY'
import base64, glob, json, re, sys
for path in glob.glob(f"{sys.argv[1]}/iam/*/GetCredentialReport-*.json"):
    fixture = json.load(open(path))
    body = fixture["response"]["body"]
    content = re.search(r"<Content>([^<]*)</Content>", body).group(1)
    lines = base64.b64decode(content).decode().split("\n")
    if any(line.startswith("<root_account>,") for line in lines):
        continue
    account = re.search(r"arn:aws:iam::(\d{12}):user/", lines[1]).group(1)
    columns = lines[0].split(",")
    root = {c: "N/A" for c in columns}
    root.update({
        "user": "<root_account>", "arn": f"arn:aws:iam::{account}:root",
        "user_creation_time": "2024-01-15T09:30:00+00:00", "password_enabled": "not_supported",
        "password_last_used": "no_information", "password_last_changed": "not_supported",
        "password_next_rotation": "not_supported", "mfa_active": "false",
        "access_key_1_active": "false", "access_key_2_active": "false",
        "cert_1_active": "false", "cert_2_active": "false",
    })
    lines.insert(1, ",".join(root[c] for c in columns))
    patched = base64.b64encode("\n".join(lines).encode()).decode()
    fixture["response"]["body"] = body.replace(content, patched)
    json.dump(fixture, open(path, "w"), indent=2, sort_keys=True, separators=(",", " : "))
PY
# moto leaves EncryptionKeyType out of ListBackupVaults; AWS always gives it. A vault made without
# a key of the customer's is encrypted with a key AWS holds: give those vaults AWS_OWNED_KMS_KEY, and
# the ones with a customer key CUSTOMER_MANAGED_KMS_KEY, so the vault key control judges in the demo.
python3 - "$out" <<'PY'
import glob, json, sys
for path in glob.glob(f"{sys.argv[1]}/backup/*/*.json"):
    fixture = json.load(open(path))
    if fixture["request"].get("path") != "/backup-vaults/":
        continue
    body = json.loads(fixture["response"]["body"])
    for vault in body.get("BackupVaultList", []):
        vault.setdefault("EncryptionKeyType", "CUSTOMER_MANAGED_KMS_KEY" if vault.get("EncryptionKeyArn") else "AWS_OWNED_KMS_KEY")
    fixture["response"]["body"] = json.dumps(body)
    json.dump(fixture, open(path, "w"), indent=2, sort_keys=True, separators=(",", " : "))
PY
echo "recorded $(find "$out" -name '*.json' | wc -l) responses into $out ($(du -sh "$out" | cut -f1))"
