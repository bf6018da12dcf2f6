#!/usr/bin/env bash
# Installs what the tests need besides Swift: moto_server (the AWS emulator) and boto3, which
# the tests use to seed it. Does nothing when they are already present.
set -euo pipefail
if command -v moto_server >/dev/null 2>&1 && python3 -c "import moto, boto3, flask, flask_cors" >/dev/null 2>&1; then
  exit 0
fi
echo "installing moto[server] for the tests" >&2
python3 -m pip install --quiet 'moto[server]>=5.1,<6' boto3
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH after installing moto[server]" >&2; exit 1; }
