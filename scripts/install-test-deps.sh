#!/usr/bin/env bash
# Installs what the tests need besides Swift: moto_server (the AWS emulator) and boto3, which
# the tests use to seed it; DuckDB, which reads the evidence partitions as Athena would;
# py-ocsf-models, a third-party OCSF implementation that validates every evidence record and
# Detection Finding; jsonschema, which checks SARIF against the official schema;
# junitparser, which reads the JUnit report as a CI server would; PyJWT with cryptography, which
# the loopback Entra ID token endpoint verifies attest's client assertions with; google-auth, with
# which the loopback Google token endpoint verifies attest's service-account assertions, and
# gcplocal, the Google Cloud emulator behind it, and gcp-storage-emulator, a second Cloud Storage
# emulator the storage spec is also checked against; prometheus-client, whose
# parser reads the watch service's /metrics; Debian's chromium, the headless browser that
# opens the HTML report; and Checkov, whose verdicts over the Terraform plan fixtures the plan
# tests compare with attest's, in a virtual environment of its own (its pins would downgrade
# boto3 and botocore here).
# Does nothing when they are already present.
set -euo pipefail
checkov_venv="${HOME}/.cache/attest/checkov"
if [ ! -x "$checkov_venv/bin/checkov" ] && [ ! -x /opt/attest-checkov/bin/checkov ] && [ -z "${ATTEST_CHECKOV:-}" ]; then
  echo "installing checkov 3.3.30 into $checkov_venv for the plan tests" >&2
  mkdir -p "$(dirname "$checkov_venv")"
  python3 -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install --quiet 'checkov==3.3.30'
  "$checkov_venv/bin/checkov" --version >/dev/null || { echo "checkov does not run after installing it" >&2; exit 1; }
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian's package) for the HTML report tests" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || { echo "chromium is not on PATH after installing it" >&2; exit 1; }
fi
if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl (Debian's package), which makes the Azure tests' certificates" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openssl >/dev/null \
    || { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openssl >/dev/null; }
  command -v openssl >/dev/null 2>&1 || { echo "openssl is not on PATH after installing it" >&2; exit 1; }
fi
if command -v moto_server >/dev/null 2>&1 && python3 -c "import moto, boto3, flask, flask_cors, duckdb, py_ocsf_models, jsonschema, junitparser, prometheus_client, jwt, cryptography, google.auth, gcplocal, gcp_storage_emulator" >/dev/null 2>&1; then
  exit 0
fi
echo "installing moto[server], duckdb, py-ocsf-models, jsonschema, junitparser, prometheus-client, PyJWT, google-auth, gcplocal and gcp-storage-emulator for the tests" >&2
python3 -m pip install --quiet 'moto[server]>=5.1,<6' boto3 'duckdb>=1.1' 'py-ocsf-models>=0.10,<0.11' 'jsonschema>=4.18,<5' \
  'junitparser>=3.1,<4' 'prometheus-client>=0.20,<1' 'PyJWT[crypto]>=2.8,<3' 'google-auth>=2.30,<3' 'gcplocal==0.1.0' \
  'gcp-storage-emulator==2026.7.19'
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH after installing moto[server]" >&2; exit 1; }
