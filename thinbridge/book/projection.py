"""What screening 10^9 molecules would take: a projection from costs measured on this machine.

Nothing here measures. :func:`build_time`, :func:`storage` and :func:`exact_search_time` scale
the per-molecule and per-query costs that ``scripts/bench_index.py`` measured (written to
``benchmarks/index.json``) to a library of ``n`` molecules, under the assumptions each table
states in its ``basis`` column: a projection, to be read as an order of magnitude.
"""
from __future__ import annotations

import json
from pathlib import Path

BILLION = 10**9


def load_benchmark(path: str | Path) -> dict:
    """``benchmarks/index.json`` as written by ``scripts/bench_index.py``."""
    return json.loads(Path(path).read_text())


def per_worker_rate(bench: dict) -> float:
    """Molecules a second one Dask worker embedded (real SMILES, cluster start-up subtracted)."""
    one = next(r for r in bench["build"]["results"] if r.get("workers") == 1)
    return float(one["molecules_per_s_after_startup"])


def build_time(bench: dict, n: int = BILLION, workers=(1, 10, 100, 1000)):
    """Hours and days to standardise, fingerprint and embed ``n`` molecules on ``workers`` Dask
    workers, each as fast as the one measured here, the work split evenly (no start-up, no
    stragglers, no shared-file-system limit)."""
    import pandas as pd

    rate = per_worker_rate(bench)
    hours = [n / (w * rate) / 3600 for w in workers]
    return pd.DataFrame({"workers": list(workers), "hours": hours, "days": [h / 24 for h in hours],
                         "basis": f"{rate:.0f} molecules/s per worker (measured, 1 worker), x workers"})


def _largest(bench: dict, kind: str, measured_only: bool = True) -> dict:
    rows = [s for s in bench["search"] if s["kind"] == kind and (s["measured"] or not measured_only)]
    return max(rows, key=lambda s: s["n"])


def storage(bench: dict, n: int = BILLION):
    """Terabytes each index kind needs for ``n`` molecules: the float32 embeddings, the ids table
    and the search structure, each at the bytes per molecule measured here (at the largest size
    measured for that kind). Every kind keeps the embeddings (ivfpq re-scores from them)."""
    import pandas as pd

    emb = 4 * int(bench["run"]["dim"])
    ids = float(bench["build"]["ids_tsv_bytes_per_molecule"])
    rows = []
    for kind in ("exact", "hnsw", "ivfpq"):
        s = _largest(bench, kind)
        structure = 0.0 if kind == "exact" else float(s["bytes_per_molecule"])
        rows.append({"kind": kind, "embeddings TB": emb * n / 1e12, "ids TB": ids * n / 1e12,
                     "search structure TB": structure * n / 1e12, "total TB": (emb + ids + structure) * n / 1e12,
                     "basis": f"bytes per molecule measured at {s['n']:,}" if kind != "exact"
                              else f"{emb} bytes (float32 x {emb // 4}) a molecule"})
    return pd.DataFrame(rows)


def exact_search_time(bench: dict, n: int = BILLION, workers=(1, 10, 100, 1000)):
    """Seconds for one exact query over ``n`` molecules when ``workers`` machines each scan their
    share: the per-molecule scan time measured at the largest exact size, times n / workers."""
    import pandas as pd

    s = _largest(bench, "exact")
    per_molecule_s = s["latency_ms"]["p50"] / 1e3 / s["n"]
    return pd.DataFrame({"workers": list(workers), "seconds per query": [per_molecule_s * n / w for w in workers],
                         "basis": f"p50 {s['latency_ms']['p50']:.0f} ms at {s['n']:,} (measured), "
                                  "x (n / workers) / measured size"})


def structure_build_time(bench: dict, n: int = BILLION):
    """Hours to build each approximate structure over ``n`` molecules on one thread (as thinbridge
    builds it): the build time per molecule at the largest size measured, times n (HNSW: times
    n log n, each insertion being a graph search). A lower bound for ivfpq, whose default lists
    grow with sqrt(n) and make each assignment dearer."""
    import math

    import pandas as pd

    rows = []
    for kind in ("hnsw", "ivfpq"):
        s = _largest(bench, kind)
        grow = n / s["n"] * (math.log(n) / math.log(s["n"]) if kind == "hnsw" else 1.0)
        scale = "n log n" if kind == "hnsw" else "n"
        rows.append({"kind": kind, "hours": s["build_s"] * grow / 3600,
                     "basis": f"{s['build_s']:.0f} s at {s['n']:,} (measured), x {scale}"})
    return pd.DataFrame(rows)
