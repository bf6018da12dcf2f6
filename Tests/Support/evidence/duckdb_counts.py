#!/usr/bin/env python3
"""Count evidence records per (framework, requirement, compliance.status) with DuckDB.

Usage: python3 duckdb_counts.py EVIDENCE_ROOT

Reads EVIDENCE_ROOT/framework=*/requirement=*/year=*/month=*/day=*/*.jsonl
(hive partitioned, newline-delimited OCSF Compliance Finding records) and
prints a JSON list, sorted by framework, requirement, status:
  [{"framework": ..., "requirement": ..., "status": ..., "count": n}, ...]
"status" is the record's compliance.status string (null if absent).

Notes:
  * Only the `compliance` column is read (as DuckDB JSON), so heterogeneous
    nested fields elsewhere (resources[].data, unmapped, evidences, ...) can
    never break schema inference.
  * hive_types_autocast=false keeps every partition value a VARCHAR
    (otherwise year=2026 becomes BIGINT; DuckDB 2.0 keeps "01" and "1.10"
    as VARCHAR but do not rely on that).
  * No matching files -> prints [] (DuckDB would raise "No files found").
"""

import json
import os
import sys

import duckdb

QUERY = """
SELECT framework,
       requirement,
       json_extract_string(compliance, '$.status') AS status,
       count(*) AS count
FROM read_json(
       ?,
       format = 'newline_delimited',
       records = true,
       columns = {'compliance': 'JSON'},
       hive_partitioning = true,
       hive_types_autocast = false,
       union_by_name = true,
       maximum_object_size = 268435456
     )
GROUP BY ALL
ORDER BY framework, requirement, status NULLS LAST
"""


def main(argv):
    if len(argv) != 2:
        print("usage: duckdb_counts.py EVIDENCE_ROOT", file=sys.stderr)
        return 2
    root = argv[1].rstrip("/") or "/"
    if not os.path.isdir(root):
        print(f"not a directory: {root}", file=sys.stderr)
        return 2
    pattern = os.path.join(root, "framework=*", "requirement=*", "year=*",
                           "month=*", "day=*", "*.jsonl")
    con = duckdb.connect()
    try:
        rows = con.execute(QUERY, [pattern]).fetchall()
    except duckdb.IOException as exc:
        if "No files found" in str(exc):
            rows = []
        else:
            raise
    out = [{"framework": f, "requirement": r, "status": s, "count": int(c)}
           for f, r, s, c in rows]
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
