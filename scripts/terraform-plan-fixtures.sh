#!/usr/bin/env bash
# Regenerates fixtures/terraform/aws/<scenario>/plan.json, the Terraform plans `attest plan` is
# tested with, using real Terraform: `terraform init` from a provider filesystem mirror,
# `terraform plan -out`, `terraform show -json` (written as Terraform prints it, not reformatted).
# The lifecycle scenario is planned against state that `terraform apply` of lifecycle/before/
# creates in a moto_server this script starts (and stops). Terraform runs in a temporary copy of
# each scenario, so no .terraform directory, lock file, plan.out or state is left in the tree.
# See fixtures/terraform/README.md.
#
# Environment: TF_PLUGIN_MIRROR (default /opt/tf-plugins, must hold
# registry.terraform.io/hashicorp/aws/5.100.0/<os>_<arch>/), MOTO_PORT (default 4599).
# Usage: scripts/terraform-plan-fixtures.sh [scenario ...]   (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=$PWD/fixtures/terraform/aws
mirror=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}
port=${MOTO_PORT:-4599}
all=(compliant noncompliant modules unknowns iam lifecycle)
if [ $# -gt 0 ]; then scenarios=("$@"); else scenarios=("${all[@]}"); fi

command -v terraform > /dev/null || { echo "terraform not found" >&2; exit 1; }
[ -d "$mirror/registry.terraform.io/hashicorp/aws" ] || { echo "no AWS provider in $mirror" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/attest-tf-fixtures.XXXXXX")
moto=
cleanup() {
  if [ -n "$moto" ]; then
    kill "$moto" 2> /dev/null || true
    wait "$moto" 2> /dev/null || true
  fi
  rm -rf "$work"
  # Leftovers of terraform runs made by hand inside the fixture tree.
  find "$fixtures" \( -name .terraform -o -name .terraform.lock.hcl -o -name plan.out \
    -o -name 'terraform.tfstate*' -o -name .terraform.tfstate.lock.info \) -prune -exec rm -rf {} +
}
trap cleanup EXIT

# Only this CLI configuration, only the mirror; no credentials, profiles or endpoints from the
# caller's environment.
cat > "$work/terraformrc" << EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOF
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(AWS_|TF_)' || true)
export TF_CLI_CONFIG_FILE=$work/terraformrc TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

# tf DIR ARGS...: terraform in DIR, output to DIR/terraform.log, shown only when it fails.
tf() {
  local dir=$1
  shift
  if ! terraform -chdir="$dir" "$@" -no-color >> "$dir/terraform.log" 2>&1; then
    cat "$dir/terraform.log" >&2
    echo "terraform $1 failed in $dir" >&2
    exit 1
  fi
}

start_moto() {
  [ -n "$moto" ] && return
  command -v moto_server > /dev/null || { echo "moto_server not found" >&2; exit 1; }
  if (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
    echo "port $port is already in use; set MOTO_PORT" >&2
    exit 1
  fi
  moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
  moto=$!
  for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return; sleep 0.2; done
  cat "$work/moto.log" >&2
  echo "moto_server did not start on port $port" >&2
  exit 1
}

# validate SCENARIO: the plan has the top-level keys attest reads (and, for lifecycle, every
# action kind), and no path of this machine leaked into it.
validate() {
  python3 - "$fixtures/$1/plan.json" "$1" "$work" << 'PY'
import json, sys
path, scenario, work = sys.argv[1:]
text = open(path).read()
plan = json.loads(text)
for key in ("format_version", "resource_changes", "configuration"):
    assert key in plan, f"{path}: no {key}"
assert plan["resource_changes"], f"{path}: resource_changes is empty"
assert plan.get("errored") is False, f"{path}: errored plan"
assert work not in text, f"{path}: contains the temporary directory {work}"
actions = {tuple(r["change"]["actions"]) for r in plan["resource_changes"]}
if scenario == "lifecycle":
    for wanted in (("update",), ("no-op",), ("delete",), ("delete", "create")):
        assert wanted in actions, f"{path}: no {list(wanted)} action"
print(f"{scenario}: {len(plan['resource_changes'])} resource changes, actions "
      + ", ".join("+".join(a) for a in sorted(actions)))
PY
}

plan() {
  local name=$1 dir=$work/$1
  rm -rf "$dir"
  cp -R "$fixtures/$name" "$dir"
  rm -f "$dir/plan.json"
  case $name in
    lifecycle)
      start_moto
      rm -f "$dir/before/plan.json"
      tf "$dir/before" init -input=false
      tf "$dir/before" apply -input=false -auto-approve -var "endpoint=http://127.0.0.1:$port"
      cp "$dir/before/terraform.tfstate" "$dir/terraform.tfstate"
      tf "$dir" init -input=false
      tf "$dir" plan -input=false -out=plan.out -var "endpoint=http://127.0.0.1:$port"
      ;;
    *)
      tf "$dir" init -input=false
      tf "$dir" plan -input=false -out=plan.out
      ;;
  esac
  terraform -chdir="$dir" show -json plan.out > "$fixtures/$name/plan.json"
  validate "$name"
}

for name in "${scenarios[@]}"; do
  [ -d "$fixtures/$name" ] || { echo "no scenario $fixtures/$name" >&2; exit 1; }
  plan "$name"
done
