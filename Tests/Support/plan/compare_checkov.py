#!/usr/bin/env python3
"""Compares attest's plan verdicts with Checkov's over the same Terraform plan.

    compare_checkov.py --controls controls --attest attest.json --checkov checkov.json \
        --differences docs/checkov-differences.tsv [--plan plan.json]

--attest, --checkov and --plan may be repeated (one of each per plan, in the same order), so that
one run covers every fixture and an explanation that matches none of them is reported as stale.

attest.json is attest's JSON report (`results`: control, resource, status). checkov.json is the
output of `checkov -f plan.json --framework terraform_plan -o json --compact --skip-download`
(NOT --quiet: with it the JSON report leaves out every passed check). It is one report object,
or a list of them when several frameworks ran; a run that found no resources prints a bare
summary object, which counts as no verdicts.

A control's `equivalents.checkov` lists the Checkov checks that together judge what it judges:
Checkov's verdict on a resource is FAILED when any of them failed it and PASSED when at least one
passed it and none failed. Checkov names a resource by its Terraform address, as attest does; a
check that judges a split resource (aws_s3_bucket_policy, aws_security_group_rule,
aws_network_acl_rule, ...) is attributed to the resource attest judges when --plan gives the plan
the verdicts came from (the split resource's reference to its parent; a trail's bucket; the VPC
of a default security group), and a Checkov verdict on aws_instance.x counts for the volumes attest
makes from its blocks (aws_instance.x.root_block_device[0]).

For each resource both tools judged: attest pass with Checkov FAILED, or attest fail with Checkov
PASSED, is a disagreement; it is explained when a line of the differences file (tab-separated,
header `control	checkov	address	reason`; checkov and address may be `*`; the address is
attest's or the one Checkov named) matches it. attest unknown, not_applicable, error or excepted
is not compared. A resource judged by one tool only is listed, not counted as a failure.

Exit status: 0 when every disagreement is explained and every explanation still matches one;
1 otherwise; 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict

COMPARED = {"pass", "fail"}

# Checkov judges the first type; attest judges the second (the resource it merges into), found
# through the named argument: "up" (the split resource references its parent).
UP = [
    ("aws_s3_bucket_policy", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_public_access_block", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_acl", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_versioning", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_logging", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_server_side_encryption_configuration", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_object_lock_configuration", "bucket", ("aws_s3_bucket",)),
    ("aws_s3_bucket_ownership_controls", "bucket", ("aws_s3_bucket",)),
    ("aws_security_group_rule", "security_group_id", ("aws_security_group", "aws_default_security_group")),
    ("aws_vpc_security_group_ingress_rule", "security_group_id", ("aws_security_group", "aws_default_security_group")),
    ("aws_vpc_security_group_egress_rule", "security_group_id", ("aws_security_group", "aws_default_security_group")),
    ("aws_network_acl_rule", "network_acl_id", ("aws_network_acl", "aws_default_network_acl")),
    ("aws_iam_role_policy", "role", ("aws_iam_role",)),
    ("aws_iam_user_policy", "user", ("aws_iam_user",)),
    ("aws_iam_group_policy", "group", ("aws_iam_group",)),
    ("aws_kms_key_policy", "key_id", ("aws_kms_key",)),
]
# "down": attest judges the first type by a resource it references (a trail by its bucket, a
# default security group by its VPC), and Checkov judges that referenced resource.
DOWN = [
    ("aws_cloudtrail", "s3_bucket_name", ("aws_s3_bucket",)),
    ("aws_default_security_group", "vpc_id", ("aws_vpc",)),
]
VALUE_KEYS = ("id", "bucket", "name", "arn")
UP_PAIRS = {(child, parent) for child, _, parents in UP for parent in parents}


class InputError(Exception):
    pass


# ---------------------------------------------------------------- controls


def unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def parse_list(rest: str, following: list[str]) -> list[str]:
    """A YAML flow list (`[a, b]`) on the line, or a block list on the lines after it."""
    rest = rest.split(" #", 1)[0].strip()
    if rest.startswith("["):
        inner = rest[1:rest.rindex("]")] if "]" in rest else rest[1:]
        return [unquote(x) for x in inner.split(",") if x.strip()]
    if rest:
        return [unquote(rest)]
    out = []
    for line in following:
        m = re.match(r"^\s+-\s+(.*?)\s*(#.*)?$", line)
        if not m:
            break
        out.append(unquote(m.group(1)))
    return out


def load_controls(root: str) -> dict[str, list[str]]:
    """Control id → its Checkov equivalents (only controls that have the key)."""
    controls: dict[str, list[str]] = {}
    if not os.path.isdir(root):
        raise InputError(f"{root}: not a directory of controls")
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
            cid = None
            checkov = None
            in_equivalents = False
            for i, line in enumerate(lines):
                m = re.match(r"^id:\s*(.+?)\s*$", line)
                if m:
                    cid = unquote(m.group(1))
                if re.match(r"^equivalents:\s*$", line):
                    in_equivalents = True
                    continue
                if in_equivalents:
                    if line and not line.startswith(" "):
                        in_equivalents = False
                        continue
                    m = re.match(r"^\s+checkov:(.*)$", line)
                    if m:
                        checkov = parse_list(m.group(1), lines[i + 1:])
            if cid and checkov is not None:
                controls[cid] = checkov
    return controls


# ---------------------------------------------------------------- reports


def load_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: {e}") from e


def load_attest(path: str) -> dict[tuple[str, str], str]:
    """(control, address) → status; several results for one pair: fail wins, then pass."""
    doc = load_json(path)
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise InputError(f"{path}: no results list (is this attest's JSON report?)")
    rank = {"fail": 0, "error": 1, "unknown": 2, "pass": 3, "excepted": 4, "not_applicable": 5}
    out: dict[tuple[str, str], str] = {}
    for r in results:
        if not isinstance(r, dict) or not r.get("resource") or not r.get("control"):
            continue
        key = (r["control"], r["resource"])
        status = r.get("status", "")
        if key not in out or rank.get(status, 9) < rank.get(out[key], 9):
            out[key] = status
    return out


def load_checkov(path: str) -> dict[str, list[tuple[str, str]]]:
    """check id → [(address, PASSED|FAILED|SKIPPED)]."""
    doc = load_json(path)
    reports = doc if isinstance(doc, list) else [doc]
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for report in reports:
        if not isinstance(report, dict):
            raise InputError(f"{path}: not a Checkov JSON report")
        results = report.get("results")
        if results is None:
            if "passed" in report and "failed" in report:  # a bare summary: nothing was scanned
                continue
            raise InputError(f"{path}: a report without results")
        if "failed_checks" in results and "passed_checks" not in results:
            raise InputError(f"{path}: no passed_checks: run Checkov without --quiet, which leaves them out of the JSON report")
        for key, verdict in (("passed_checks", "PASSED"), ("failed_checks", "FAILED"), ("skipped_checks", "SKIPPED")):
            for c in results.get(key) or []:
                address = c.get("resource_address") or c.get("resource")
                if c.get("check_id") and address:
                    out[c["check_id"]].append((address, verdict))
    return out


# ---------------------------------------------------------------- plan relations

MODULE_RE = re.compile(r'module\.([A-Za-z0-9_-]+)(?:\[(?:"[^"]*"|[0-9]+)\])?')
REF_RE = re.compile(r'^([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_-]*)(\[(?:"[^"]*"|[0-9]+)\])?')


def config_resources(module: dict, path: tuple[str, ...], out: dict) -> None:
    for r in module.get("resources") or []:
        out[(path, r.get("address"))] = r.get("expressions") or {}
    for name, call in (module.get("module_calls") or {}).items():
        config_resources(call.get("module") or {}, path + (name,), out)


def type_of(address: str) -> str:
    """The resource type in an address (`module.a["x"].aws_s3_bucket.b[0]` → aws_s3_bucket)."""
    rest = address
    while True:
        m = MODULE_RE.match(rest)
        if not m or not rest[m.end():].startswith("."):
            break
        rest = rest[m.end() + 1:]
    m = REF_RE.match(rest[5:] if rest.startswith("data.") else rest)
    return m.group(1) if m else ""


def index_text(index) -> str:
    if index is None:
        return ""
    return f"[{json.dumps(index)}]" if isinstance(index, str) else f"[{index}]"


def plan_relations(path: str) -> dict[str, set[str]]:
    """Address → the addresses a Checkov verdict on it also counts for."""
    plan = load_json(path)
    expressions: dict = {}
    config_resources((plan.get("configuration") or {}).get("root_module") or {}, (), expressions)
    instances = []
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode") != "managed":
            continue
        module_address = rc.get("module_address", "")
        instances.append({
            "address": rc["address"], "type": rc.get("type"), "name": rc.get("name"), "index": rc.get("index"),
            "module_address": module_address, "module_path": tuple(MODULE_RE.findall(module_address)),
            "values": (rc.get("change") or {}).get("after") or {},
        })
    by_config: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for inst in instances:
        by_config[(inst["module_address"], f'{inst["type"]}.{inst["name"]}')].append(inst)

    def targets(inst: dict, attribute: str, types: tuple[str, ...]) -> list[str]:
        found: list[str] = []
        expr = expressions.get((inst["module_path"], f'{inst["type"]}.{inst["name"]}'), {}).get(attribute)
        refs = (expr.get("references") or []) if isinstance(expr, dict) else []
        for ref in refs:
            m = REF_RE.match(ref)
            if not m or m.group(1) not in types:
                continue
            candidates = by_config.get((inst["module_address"], f"{m.group(1)}.{m.group(2)}"), [])
            if m.group(3):
                chosen = [c for c in candidates if index_text(c["index"]) == m.group(3)]
            elif len(candidates) == 1:
                chosen = candidates
            else:  # for_each/count over the same keys: the parent with the child's own key
                chosen = [c for c in candidates if c["index"] == inst["index"]]
            if len(chosen) == 1:
                found.append(chosen[0]["address"])
                break
        if not found:
            value = inst["values"].get(attribute)
            if isinstance(value, str) and value:
                for other in instances:
                    if other["type"] in types and any(other["values"].get(k) == value for k in VALUE_KEYS):
                        found.append(other["address"])
        return found

    related: dict[str, set[str]] = defaultdict(set)
    up = {t: (a, p) for t, a, p in UP}
    down = {t: (a, p) for t, a, p in DOWN}
    for inst in instances:
        if inst["type"] in up:
            attribute, types = up[inst["type"]]
            for parent in targets(inst, attribute, types):
                related[inst["address"]].add(parent)
        if inst["type"] in down:
            attribute, types = down[inst["type"]]
            for target in targets(inst, attribute, types):
                related[target].add(inst["address"])
    # Transitively: a bucket policy's verdict reaches the bucket, and through it the trail.
    closed: dict[str, set[str]] = {}
    for start in list(related):
        seen: set[str] = set()
        pending = [start]
        while pending:
            for nxt in related.get(pending.pop(), ()):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    pending.append(nxt)
        closed[start] = seen
    return closed


# ---------------------------------------------------------------- differences


def load_differences(path: str) -> list[dict]:
    if not os.path.exists(path):
        raise InputError(f"{path}: no such differences file")
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0].split("\t") != ["control", "checkov", "address", "reason"]:
        raise InputError(f"{path}: the first line must be the header control<TAB>checkov<TAB>address<TAB>reason")
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 4 or not all(c.strip() for c in cols):
            raise InputError(f"{path}:{n}: expected 4 non-empty tab-separated columns")
        rows.append({"line": n, "control": cols[0].strip(), "checkov": cols[1].strip(),
                     "address": cols[2].strip(), "reason": cols[3].strip(), "used": 0})
    return rows


def explanation(rows: list[dict], control: str, checks: set[str], addresses: set[str]) -> dict | None:
    for row in rows:
        if row["control"] != control:
            continue
        if row["checkov"] != "*" and row["checkov"] not in checks:
            continue
        if row["address"] != "*" and row["address"] not in addresses:
            continue
        return row
    return None


# ---------------------------------------------------------------- comparison


def compare(controls, pairs, rows):
    counts = defaultdict(int)
    # The Terraform types attest judges for each control, over every plan: a Checkov verdict on
    # another type that is linked to none of them is out of the control's scope.
    judged_types: dict[str, set[str]] = defaultdict(set)
    for _, attest, _, _ in pairs:
        for (control, address) in attest:
            judged_types[control].add(type_of(address))
    lines = {"unexplained": [], "explained": [], "not_compared": [], "one_tool": [], "agreements": []}
    for label, attest, checkov, related in pairs:
        prefix = f"[{label}] " if len(pairs) > 1 else ""
        for control, checks in sorted(controls.items()):
            if not checks:
                continue
            judged = {addr: st for (c, addr), st in attest.items() if c == control}
            verdicts: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # attest address → (check, address, verdict)
            checkov_only: list[str] = []
            for check in checks:
                for address, verdict in checkov.get(check, []):
                    targets = {address} | related.get(address, set())
                    targets |= {a for a in judged if a.startswith(address + ".")}  # aws_instance.x → its volumes
                    hit = [t for t in targets if t in judged]
                    if not hit:
                        checkov_only.append(f"{address} ({check} {verdict})")
                    for t in hit:
                        verdicts[t].append((check, address, verdict))
            types = judged_types.get(control, set())
            in_scope = [x for x in checkov_only if not types or type_of(x.split(" (")[0]) in types
                        or any((type_of(x.split(" (")[0]), t) in UP_PAIRS for t in types)]
            counts["out_of_scope"] += len(checkov_only) - len(in_scope)
            checkov_only = in_scope
            attest_only = []
            for address, status in sorted(judged.items()):
                vs = verdicts.get(address)
                if not vs:
                    attest_only.append(f"{address} ({status})")
                    continue
                failed = [v for v in vs if v[2] == "FAILED"]
                passed = [v for v in vs if v[2] == "PASSED"]
                combined = "FAILED" if failed else "PASSED" if passed else "SKIPPED"
                detail = ", ".join(f"{c} {v}" + ("" if a == address else f" on {a}") for c, a, v in vs)
                if status not in COMPARED or combined == "SKIPPED":
                    counts["not_compared"] += 1
                    why = f"attest: {status}" if status not in COMPARED else "checkov: skipped"
                    lines["not_compared"].append(f"{prefix}{control} {address}: not compared ({why}; checkov: {detail})")
                    continue
                if (status == "pass") == (combined == "PASSED"):
                    counts["agreements"] += 1
                    lines["agreements"].append(f"{prefix}{control} {address}: attest {status}, checkov {combined} ({detail})")
                    continue
                implicated = failed if combined == "FAILED" else passed
                row = explanation(rows, control, {v[0] for v in implicated}, {address} | {v[1] for v in implicated})
                text = f"{prefix}{control} {address}: attest {status}, checkov {combined} ({detail})"
                if row:
                    row["used"] += 1
                    counts["explained"] += 1
                    lines["explained"].append(f"{text}\n      explained (line {row['line']}): {row['reason']}")
                else:
                    counts["unexplained"] += 1
                    lines["unexplained"].append(text)
            if attest_only:
                lines["one_tool"].append(f"{prefix}{control} [{', '.join(checks)}]: attest only: {'; '.join(attest_only)}")
            if checkov_only:
                lines["one_tool"].append(f"{prefix}{control} [{', '.join(checks)}]: checkov only: {'; '.join(sorted(checkov_only))}")
    return counts, lines


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--controls", required=True, help="the controls directory")
    p.add_argument("--attest", required=True, action="append", help="attest's JSON report (repeatable)")
    p.add_argument("--checkov", required=True, action="append", help="Checkov's JSON report (repeatable, same order)")
    p.add_argument("--plan", action="append", default=[], help="the plan JSON they judged (optional, repeatable)")
    p.add_argument("--differences", required=True, help="the TSV of explained differences")
    p.add_argument("--label", action="append", default=[], help="a name for each plan in the output")
    p.add_argument("--verbose", action="store_true", help="list the agreements too")
    args = p.parse_args(argv)
    if len(args.attest) != len(args.checkov) or (args.plan and len(args.plan) != len(args.attest)):
        print("give as many --checkov (and --plan, if any) as --attest", file=sys.stderr)
        return 2
    try:
        controls = load_controls(args.controls)
        rows = load_differences(args.differences)
        pairs = []
        for i, (a, c) in enumerate(zip(args.attest, args.checkov)):
            label = args.label[i] if i < len(args.label) else os.path.basename(os.path.dirname(os.path.abspath(c))) or c
            related = plan_relations(args.plan[i]) if args.plan else {}
            pairs.append((label, load_attest(a), load_checkov(c), related))
    except InputError as e:
        print(f"compare_checkov: {e}", file=sys.stderr)
        return 2

    invalid = []
    for row in rows:
        if row["control"] not in controls or not controls[row["control"]]:
            invalid.append(f"line {row['line']}: {row['control']} has no checkov equivalents")
        elif row["checkov"] != "*" and row["checkov"] not in controls[row["control"]]:
            invalid.append(f"line {row['line']}: {row['checkov']} is not an equivalent of {row['control']}")

    counts, lines = compare(controls, pairs, rows)
    stale = [f"line {r['line']}: {r['control']}\t{r['checkov']}\t{r['address']}" for r in rows if not r["used"]]

    with_checks = sum(1 for v in controls.values() if v)
    print(f"controls with Checkov equivalents: {with_checks}; plans: {len(pairs)}")
    print(f"agreements: {counts['agreements']}, disagreements explained: {counts['explained']}, "
          f"unexplained: {counts['unexplained']}, not compared: {counts['not_compared']}")
    if counts["out_of_scope"]:
        print(f"({counts['out_of_scope']} Checkov verdicts on resource types a control does not judge, and not linked to one it judged, are left out)")
    sections = [
        ("UNEXPLAINED disagreements", lines["unexplained"]),
        ("stale explanations (they match no disagreement)", stale),
        ("invalid explanations", invalid),
        ("explained disagreements", lines["explained"]),
        ("not compared", lines["not_compared"]),
        ("judged by one tool", lines["one_tool"]),
    ] + ([("agreements", lines["agreements"])] if args.verbose else [])
    for title, items in sections:
        if items:
            print(f"\n{title} ({len(items)}):")
            for item in items:
                print(f"  {item}")
    return 1 if counts["unexplained"] or stale or invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
