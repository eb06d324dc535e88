#!/usr/bin/env python
"""Time and peak memory of ``thinbridge prepare`` as the table grows: writes ``benchmarks/prepare.json``.

The tables are the shipped ChEMBL mechanism table repeated until they have the number of rows
asked for, each copy's molecule ids made unique (``CHEMBL25`` becomes ``CHEMBL25_r2`` in the
second copy), so rows grow while the distinct structures (standardised once each) stay the
shipped table's. Each size runs ``thinbridge prepare`` in a fresh process, which reports its own
peak resident memory (``getrusage``: ``ru_maxrss`` of itself, and of its standardising worker
processes, which it forks). The machine's load average is recorded (cores may be shared).

    python scripts/bench_prepare.py                      # 3,482 (the shipped table), 50,000 and 200,000 rows
    python scripts/bench_prepare.py --rows 3482 20000    # other sizes
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "chembl_moa" / "chembl_moa.tsv"
CHILD = """
import resource, sys, time
t0 = time.perf_counter()
from thinbridge.data.pairs import prepare
res = prepare(sys.argv[1], sys.argv[2], show_progress=False)
seconds = time.perf_counter() - t0
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(seconds, own, workers, res.report["pairs"], res.report["rows_merged"])
"""


def repeated_table(rows: int, path: Path) -> Path:
    """The shipped table repeated to ``rows`` rows, molecule ids unique per copy."""
    with open(SHIPPED, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        header, table = reader.fieldnames, list(reader)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, header, delimiter="\t", lineterminator="\n")
        w.writeheader()
        for i in range(rows):
            copy, row = divmod(i, len(table))
            r = dict(table[row])
            if copy:
                r["molecule_chembl_id"] = f"{r['molecule_chembl_id']}_r{copy + 1}"
            w.writerow(r)
    return path


def measure(rows: int, tmp: Path) -> dict:
    table = repeated_table(rows, tmp / f"table_{rows}.tsv")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "THINBRIDGE_PROGRESS": "0"}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", CHILD, str(table), str(tmp / f"out_{rows}")], capture_output=True,
                         text=True, env=env, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    seconds, own, workers, pairs, merged = res.stdout.split()
    return {"rows": rows, "table_bytes": table.stat().st_size, "seconds_prepare": round(float(seconds), 2),
            "seconds_process": round(wall, 2), "peak_rss_mib": round(int(own) / 1024, 1),
            "peak_rss_worker_mib": round(int(workers) / 1024, 1), "pairs": int(pairs), "rows_merged": int(merged)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[3482, 50_000, 200_000])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "prepare.json"))
    a = ap.parse_args(argv)
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="thinbridge-bench-prepare-") as tmp:
        for n in a.rows:
            r = measure(n, Path(tmp))
            print(json.dumps(r), flush=True)
            results.append(r)
    base = results[0]
    for r in results[1:]:
        dr = r["rows"] - base["rows"]
        r["extra_mib_per_10k_rows"] = round((r["peak_rss_mib"] - base["peak_rss_mib"]) / dr * 10_000, 2) if dr else None
    record = {
        "what": "thinbridge prepare on the shipped table repeated (ids unique per copy), one fresh process per size",
        "results": results,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(a.out).write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
