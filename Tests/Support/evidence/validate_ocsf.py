#!/usr/bin/env python3
"""Validate attest evidence JSONL files against the OCSF Compliance Finding model.

Usage: python3 validate_ocsf.py FILE_OR_DIR...

Every *.jsonl file (directories are walked recursively; any path containing
"/_scans/" is skipped) is read line by line; each non-blank line must be one
JSON object that validates with py_ocsf_models' ComplianceFinding (class_uid
2003, OCSF 1.5.0 in py-ocsf-models 0.10.x).

The pydantic models are lenient (no `extra="forbid"`, class_uid/category_uid
have defaults, `cloud` is not a ComplianceFinding field), so on top of the
model validation this script checks:
  * class_uid, category_uid, type_uid, activity_id, time present in the raw JSON
  * class_uid == 2003, category_uid == 2, type_uid == class_uid*100+activity_id
  * time is an integer epoch in milliseconds
  * compliance.status, if present, is a string
  * cloud, if present, has a string provider (OCSF cloud profile)

Validation runs in pydantic strict mode (JSON input), so e.g. "4" for an
integer field or 1.5 for an int is rejected.

Prints one JSON object to stdout:
  {"files": n, "records": n, "invalid": [{"file", "line", "error"}, ...]}
(at most 20 invalid entries listed; "invalid_total" gives the full count)
and exits 1 if any record is invalid (or no input path exists), else 0.
Only the Python stdlib and py_ocsf_models (with its pydantic) are needed.
"""

import json
import os
import sys

try:
    from pydantic import ValidationError
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
except ImportError as exc:  # pragma: no cover
    print(json.dumps({"error": f"py_ocsf_models not importable: {exc}"}))
    sys.exit(2)

MAX_LISTED = 20
CLASS_UID = 2003
CATEGORY_UID = 2
# epoch milliseconds between 2001-09-09 and 5138-11-16
MS_MIN, MS_MAX = 10**12, 10**14


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def short_error(exc):
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(p) for p in e.get("loc", ()))
            parts.append(f"{loc}: {e.get('msg')}")
        more = exc.error_count() - 5
        if more > 0:
            parts.append(f"(+{more} more)")
        return "; ".join(parts)
    return str(exc)


def check_record(line):
    """Return None if valid, otherwise an error string."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc}"
    if not isinstance(obj, dict):
        return "record is not a JSON object"

    for key in ("class_uid", "category_uid", "type_uid", "activity_id", "time"):
        if key not in obj:
            return f"{key}: missing"
    class_uid, category_uid = obj["class_uid"], obj["category_uid"]
    type_uid, activity_id, t = obj["type_uid"], obj["activity_id"], obj["time"]
    if not is_int(class_uid) or class_uid != CLASS_UID:
        return f"class_uid: expected {CLASS_UID}, got {class_uid!r}"
    if not is_int(category_uid) or category_uid != CATEGORY_UID:
        return f"category_uid: expected {CATEGORY_UID}, got {category_uid!r}"
    if not is_int(activity_id) or not is_int(type_uid) or type_uid != class_uid * 100 + activity_id:
        return (f"type_uid: expected class_uid*100+activity_id = "
                f"{class_uid}*100+{activity_id!r}, got {type_uid!r}")
    if not is_int(t) or not (MS_MIN <= t < MS_MAX):
        return f"time: expected integer epoch milliseconds, got {t!r}"

    try:
        ComplianceFinding.model_validate_json(line, strict=True)
    except ValidationError as exc:
        return short_error(exc)
    except Exception as exc:  # defensive: never crash on one bad record
        return f"{type(exc).__name__}: {exc}"

    comp = obj.get("compliance")
    if isinstance(comp, dict) and "status" in comp and not isinstance(comp["status"], str):
        return f"compliance.status: expected string, got {comp['status']!r}"
    if "cloud" in obj:
        return check_cloud(obj["cloud"])
    return None


def check_cloud(cloud):
    """OCSF 1.5 cloud object (cloud profile): provider is required; the rest is
    type-checked only. Deliberately not py_ocsf_models' Cloud model, whose
    Account makes `name` required although OCSF only recommends it."""
    if not isinstance(cloud, dict):
        return "cloud: expected object"
    if not isinstance(cloud.get("provider"), str) or not cloud["provider"]:
        return "cloud.provider: required non-empty string"
    for key in ("region", "zone"):
        if key in cloud and not isinstance(cloud[key], str):
            return f"cloud.{key}: expected string"
    acct = cloud.get("account")
    if acct is not None:
        if not isinstance(acct, dict):
            return "cloud.account: expected object"
        for key in ("uid", "name", "type"):
            if key in acct and not isinstance(acct[key], str):
                return f"cloud.account.{key}: expected string"
        if "type_id" in acct and not is_int(acct["type_id"]):
            return "cloud.account.type_id: expected integer"
    return None


def iter_files(paths, missing):
    for p in paths:
        if os.path.isfile(p):
            if p.endswith(".jsonl") and "/_scans/" not in os.path.abspath(p):
                yield p
            elif not p.endswith(".jsonl"):
                # explicitly named non-.jsonl file: still validate it
                yield p
        elif os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                if "/_scans/" in os.path.join(root, ""):
                    dirs[:] = []
                    continue
                dirs[:] = [d for d in dirs if d != "_scans"]
                for name in sorted(files):
                    if name.endswith(".jsonl"):
                        yield os.path.join(root, name)
        else:
            missing.append(p)


def main(argv):
    if len(argv) < 2:
        print("usage: validate_ocsf.py FILE_OR_DIR...", file=sys.stderr)
        return 2
    n_files = n_records = n_invalid = 0
    invalid = []
    missing = []
    for path in iter_files(argv[1:], missing):
        n_files += 1
        try:
            fh = open(path, "r", encoding="utf-8")
        except OSError as exc:
            n_invalid += 1
            if len(invalid) < MAX_LISTED:
                invalid.append({"file": path, "line": 0, "error": f"cannot open: {exc}"})
            continue
        with fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                n_records += 1
                err = check_record(line)
                if err is not None:
                    n_invalid += 1
                    if len(invalid) < MAX_LISTED:
                        invalid.append({"file": path, "line": lineno, "error": err})
    for p in missing:
        n_invalid += 1
        if len(invalid) < MAX_LISTED:
            invalid.append({"file": p, "line": 0, "error": "no such file or directory"})
    out = {"files": n_files, "records": n_records, "invalid": invalid}
    if n_invalid > len(invalid):
        out["invalid_total"] = n_invalid
    print(json.dumps(out))
    return 1 if n_invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
