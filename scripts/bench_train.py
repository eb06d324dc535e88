"""Benchmark: one `thinbridge train` with default options on the prepared shared data.

Measures wall time of (a) `thinbridge prepare` from the raw file and (b) `thinbridge train`
with defaults, first with a cold feature cache and then with it warm (the issue's target is
"under two minutes with features cached"). Writes benchmarks/train.json. Run it with
`make benchmark` or `python scripts/bench_train.py [--input PATH]`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None, help="mechanism table (default: $THINBRIDGE_DATA or the shipped data/chembl_moa/chembl_moa.tsv)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "train.json"))
    a = ap.parse_args()
    exe = [sys.executable, "-m", "thinbridge.cli"]
    work = Path(tempfile.mkdtemp(prefix="thinbridge-bench-"))
    try:
        data = work / "data"
        prep = exe + ["prepare", "--out", str(data), "-q"] + (["--input", a.input] if a.input else [])
        t_prep = timed(prep)
        train = exe + ["train", "--data", str(data), "--out", str(work / "run"), "-q"]
        t_cold = timed(train)
        t_warm = timed(train)
        metrics = json.loads((work / "run" / "metrics.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    g = metrics["test"]["text_to_drug"]["global"]
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "seconds": {"prepare": round(t_prep, 1), "train_cold_cache": round(t_cold, 1),
                    "train_warm_cache": round(t_warm, 1)},
        "target_seconds_train_warm_cache": 120,
        "within_target": t_warm < 120,
        "defaults_test_text_to_drug_global": {"R@1": g["R@1"], "MRR": g["MRR"]},
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["seconds"]), f"-> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
