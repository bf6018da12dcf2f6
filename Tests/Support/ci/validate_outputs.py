#!/usr/bin/env python3
"""Read attest's CI outputs with their real consumers and print what they saw as JSON.

Usage:
  validate_outputs.py sarif FILE SCHEMA   jsonschema (the official SARIF 2.1.0 schema)
  validate_outputs.py junit FILE          junitparser
  validate_outputs.py ocsf FILE           py-ocsf-models DetectionFinding (class 2004), strict
  validate_outputs.py csv FILE            the csv module

Exits 1 when the file does not validate (the error is printed), else 0.
"""

import collections
import csv
import json
import sys


def sarif(path, schema_path):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        print(json.dumps({"error": "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])}))
        return 1
    run = doc["runs"][0]
    rules = run["tool"]["driver"].get("rules", [])
    results = run.get("results", [])
    fingerprints = [tuple(sorted(r.get("partialFingerprints", {}).items())) for r in results]
    out = {
        "version": doc["version"],
        "rules": len(rules),
        "rule_ids": [r["id"] for r in rules],
        "rules_with_help": sum(1 for r in rules if r.get("help", {}).get("text")),
        "results": len(results),
        "levels": collections.Counter(r.get("level", "warning") for r in results),
        "suppressed": sum(1 for r in results if r.get("suppressions")),
        "suppression_justifications": [s["justification"] for r in results for s in r.get("suppressions", [])],
        "rule_index_ok": all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results if "ruleIndex" in r),
        "fingerprints_unique": len(set(fingerprints)) == len(fingerprints),
        "uris": [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results],
        "lines": [r["locations"][0]["physicalLocation"].get("region", {}).get("startLine") for r in results],
        "notifications": len(run["invocations"][0].get("toolExecutionNotifications", [])),
        "execution_successful": run["invocations"][0]["executionSuccessful"],
        "category": run.get("automationDetails", {}).get("id"),
    }
    print(json.dumps(out))
    return 0


def junit(path):
    import junitparser

    xml = junitparser.JUnitXml.fromfile(path)
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    cases = failures = errors = skipped = 0
    failure_texts = {}
    skipped_messages = []
    names = collections.Counter()
    for suite in suites:
        for case in suite:
            cases += 1
            names[(case.classname, case.name)] += 1
            for r in case.result:
                if isinstance(r, junitparser.Failure):
                    failures += 1
                    failure_texts.setdefault(case.classname, r.text or "")
                elif isinstance(r, junitparser.Error):
                    errors += 1
                elif isinstance(r, junitparser.Skipped):
                    skipped += 1
                    skipped_messages.append(r.message or "")
        if int(suite.tests) != len(list(suite)):
            print(json.dumps({"error": f"suite {suite.name}: tests={suite.tests} but {len(list(suite))} cases"}))
            return 1
    print(json.dumps({
        "suites": len(suites), "cases": cases, "failures": failures, "errors": errors, "skipped": skipped,
        "unique_cases": all(n == 1 for n in names.values()), "failure_texts": failure_texts,
        "skipped_messages": skipped_messages,
    }))
    return 0


def ocsf(path):
    from pydantic import ValidationError
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    with open(path, encoding="utf-8") as f:
        findings = json.load(f)
    if not isinstance(findings, list):
        print(json.dumps({"error": "not a JSON array"}))
        return 1
    statuses = collections.Counter()
    for i, obj in enumerate(findings):
        if obj.get("class_uid") != 2004 or obj.get("category_uid") != 2:
            print(json.dumps({"error": f"finding {i}: class_uid {obj.get('class_uid')}, category_uid {obj.get('category_uid')}"}))
            return 1
        if obj.get("type_uid") != obj["class_uid"] * 100 + obj.get("activity_id", -1):
            print(json.dumps({"error": f"finding {i}: type_uid {obj.get('type_uid')}"}))
            return 1
        try:
            model = DetectionFinding.model_validate_json(json.dumps(obj), strict=True)
        except ValidationError as exc:
            print(json.dumps({"error": f"finding {i}: {exc.errors()[:3]}"}))
            return 1
        statuses[model.status_id.name] += 1
    print(json.dumps({
        "findings": len(findings), "statuses": statuses,
        "with_remediation": sum(1 for f in findings if f.get("remediation", {}).get("desc")),
        "controls": sorted({f["unmapped"]["attest"]["control"] for f in findings}),
    }))
    return 0


def csv_file(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    print(json.dumps({
        "rows": len(rows), "columns": list(rows[0].keys()) if rows else [],
        "statuses": collections.Counter(r["status"] for r in rows),
        "excepted_owners": sorted({r["exception_owner"] for r in rows if r["status"] == "excepted"}),
    }))
    return 0


def main(argv):
    kind = argv[1]
    if kind == "sarif":
        return sarif(argv[2], argv[3])
    if kind == "junit":
        return junit(argv[2])
    if kind == "ocsf":
        return ocsf(argv[2])
    if kind == "csv":
        return csv_file(argv[2])
    print(f"unknown kind {kind}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
