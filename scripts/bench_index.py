#!/usr/bin/env python
"""Index builds (ChEMBL's standardiser against thinbridge's; processes; Dask workers) and search by index kind.

    nice -n 10 python scripts/bench_index.py     # artifacts/runs/scaffold_rich_noname -> benchmarks/index.{json,md}
    python scripts/bench_index.py --sizes 1e5,1e6 --build-n 2000     # a shorter run

What is measured (fixed seeds; every figure written by this script):

* **build throughput, real SMILES**: ``Retriever.build_index`` (read, ChEMBL parent
  standardisation, ECFP4, drug head, write; exact kind) on ``--build-n`` SMILES: the distinct
  structures of the shipped ChEMBL table, then randomised SMILES of them (distinct strings, so
  every row is standardised anew), in partitions of ``--build-chunk`` lines: in one process with
  ``chembl_structure_pipeline``'s own standardiser (the reference) and with thinbridge's
  (:mod:`thinbridge.chem.parent`), on 2 forked processes, and on a Dask ``LocalCluster`` of 1 and 2
  workers; every build's files are compared byte for byte with the first's. The cluster's
  start-up (workers started, thinbridge and the chemistry loaded) is measured separately and
  also reported subtracted;
* **search, synthetic analogues**: at each size, embeddings of analogues of the run's parent
  molecules (:mod:`thinbridge.testing.synthetic`: each keeps ~70% of one parent's fingerprint bits and
  ~30% of another's, embedded by the run's drug head), written as an index's embeddings file.
  For each kind (exact, hnsw, ivfpq; hnsw up to ``--hnsw-max``), in a fresh process (so that
  its peak memory is its own): build time at the defaults, bytes of the search structure,
  latency p50/p95 of one top-10 query (after 3 warm-up queries), recall@10 against exact search
  for text queries (mechanism texts of the run's data through the text encoder and head: the
  real use) and for the index's own molecules (as ``thinbridge index`` reports it), peak RSS,
  and RSS while searching. Exact search above 1 GiB of embeddings reads the file in blocks
  (memory stays at a block); its latency there is over ``--exact-queries-large`` queries.
  HNSW above ``--hnsw-max`` is not built: its figures are projected from the largest measured
  size and labelled so.

Run it niced on a shared machine; ~15 minutes on 2 cores, 10 GB of temporary disk at 10^7.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import thinbridge  # noqa: E402,F401  (first: pins the numerical kernels before numpy loads)
import numpy as np  # noqa: E402

K = 10
KINDS = ("exact", "hnsw", "ivfpq")


def log(msg: str) -> None:
    print(f"[bench_index] {msg}", file=sys.stderr, flush=True)


def pct(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=float)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "n": int(len(a))}


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM, which starts afresh with the program; getrusage's
    maximum would carry over the parent's from before exec)."""
    return _status_mb("VmHWM")


# ----------------------------------------------------------------------------------------------
# build throughput
# ----------------------------------------------------------------------------------------------
def shipped_structures() -> list[str]:
    """The distinct SMILES of the shipped ChEMBL table, in file order."""
    import csv

    from thinbridge._util.paths import shipped_data_path

    with open(shipped_data_path(ROOT), encoding="utf-8", newline="") as fh:
        return list(dict.fromkeys(r["canonical_smiles"] for r in csv.DictReader(fh, delimiter="\t")
                                  if r["canonical_smiles"]))


def cluster_startup(workers: int) -> float:
    """Seconds to start a LocalCluster of ``workers`` and have each load the chemistry (one
    molecule standardised and fingerprinted): what a build pays before its first partition."""
    from thinbridge.search.cluster import connect
    from thinbridge.features.drugs import ecfp4
    from thinbridge.chem.structures import standardise_batch

    t0 = time.perf_counter()
    with connect(workers=workers) as client:
        client.run(lambda: ecfp4([standardise_batch(["CCO"])[0][0]]).shape)
        return time.perf_counter() - t0


@contextmanager
def library_standardiser():
    """The build with ``chembl_structure_pipeline``'s own ``standardize_mol`` and ``get_parent_mol``
    (as published: they rebuild their patterns and objects for every molecule) in place of
    thinbridge's (:mod:`thinbridge.chem.parent`): the reference the speed-up is measured against."""
    from chembl_structure_pipeline import standardizer

    from thinbridge.chem import parent

    saved = parent.standardize_mol, parent.get_parent_mol
    parent.standardize_mol, parent.get_parent_mol = standardizer.standardize_mol, standardizer.get_parent_mol
    try:
        yield
    finally:
        parent.standardize_mol, parent.get_parent_mol = saved


ENGINES = ({"processes": 1, "standardiser": "library"}, {"processes": 1}, {"processes": 2}, {"workers": 1},
           {"workers": 2})


def _label(engine: dict) -> str:
    if "workers" in engine:
        return f"Dask LocalCluster, {engine['workers']} worker(s)"
    n = engine["processes"]
    which = ("chembl_structure_pipeline's standardiser" if engine.get("standardiser") == "library"
             else "thinbridge's standardiser")
    return f"this machine, {n} process{'es' if n > 1 else ''}, {which}"


def bench_build(r, n: int, seed: int, folder: Path, chunk_size: int, repeat: int = 2) -> dict:
    """Each engine ``repeat`` times (the fastest kept: on a shared machine the slower runs measure
    other work), with its cluster start-up measured before each Dask build. Every build's files
    are compared with the first one's (the same files whatever the engine)."""
    from bench_query import library_smiles

    structures = shipped_structures()
    lib = folder / "library.smi"
    lib.write_text("".join(f"{s} m{i}\n" for i, s in enumerate(library_smiles(structures, n, seed))))
    results, reference = [], None
    for engine in ENGINES:
        label = _label(engine)
        runs = []
        for i in range(repeat):
            log(f"build: {n} SMILES, {label} ({i + 1} of {repeat})")
            startup = cluster_startup(engine["workers"]) if "workers" in engine else 0.0
            kw = {k: v for k, v in engine.items() if k != "standardiser"}
            with library_standardiser() if engine.get("standardiser") == "library" else nullcontext():
                b = r.build_index(lib, folder / "index", kind="exact", chunk_size=chunk_size, show_progress=False,
                                  **kw)
            files = {f: (folder / "index" / f).read_bytes() for f in ("ids.tsv", "embeddings.safetensors")}
            reference = reference or files
            runs.append({"seconds": b["seconds"], "startup_s": startup, "same_files": files == reference})
        best = min(runs, key=lambda x: x["seconds"] - x["startup_s"])
        results.append({"engine": label, **engine, **best, "all_runs": runs,
                        "same_files_as_first": all(x["same_files"] for x in runs),
                        "molecules_per_s": b["count"] / best["seconds"],
                        "molecules_per_s_after_startup": b["count"] / (best["seconds"] - best["startup_s"]),
                        "indexed": b["count"], "skipped": b["skipped"], "partitions": b["partitions"]})
    rate = {_label(e): x["molecules_per_s_after_startup"] for e, x in zip(ENGINES, results)}
    ref = rate[_label(ENGINES[0])]
    return {"rows": n, "chunk_size": b["chunk_size"], "repeat": repeat,
            "input": f"{len(structures)} distinct SMILES of the shipped ChEMBL table, then distinct randomised SMILES "
                     "of them (RDKit MolToRandomSmilesVect)",
            "results": results,
            "ids_tsv_bytes_per_molecule": (folder / "index" / "ids.tsv").stat().st_size / b["count"],
            "speedup_over_library_standardiser": {label: v / ref for label, v in rate.items()},
            "speedup_2_workers_after_startup": rate[_label({"workers": 2})] / rate[_label({"workers": 1})]}


# ----------------------------------------------------------------------------------------------
# search, one kind at one size, in a fresh process
# ----------------------------------------------------------------------------------------------
def measure(kind: str, emb_path: Path, queries_path: Path, truth_path: Path, n_queries: int, tmp: Path) -> dict:
    """Build ``kind`` over the embeddings file (defaults), then time, measure recall and memory."""
    from thinbridge.search import ann
    from thinbridge.search.embeddings import EmbeddingsFile

    emb = EmbeddingsFile.open(emb_path)
    queries, truth = np.load(queries_path), np.load(truth_path)
    out: dict = {"kind": kind, "n": len(emb), "measured": True}
    if kind == "exact":
        def search(q):
            rows, _ = emb.top_k(q[None, :], K)
            return rows[0]
        out.update(build_s=0.0, index_bytes=emb.nbytes, params={}, recall_at_10_own=1.0,
                   scan="blocks read from the file" if emb.nbytes > 1 << 30 else "one product over the memory map")
    else:
        params = ann.default_params(kind, len(emb), emb.dim)
        t0 = time.perf_counter()
        index = ann.build(kind, emb, params)
        out["build_s"] = time.perf_counter() - t0
        ann.write(index, tmp / ann.ANN_FILE)
        out.update(index_bytes=(tmp / ann.ANN_FILE).stat().st_size, params=params,
                   recall_at_10_own=ann.recall_at_k(index, params, emb)["recall"])

        def search(q):
            return ann.search(index, params, emb, q, K)[0]
    for q in queries[:3]:
        search(q)
    ms, found = [], 0
    for q, want in zip(queries[:n_queries], truth):
        t = time.perf_counter()
        rows = search(q)
        ms.append((time.perf_counter() - t) * 1e3)
        found += len(set(rows.tolist()) & set(want.tolist()))
    out.update(latency_ms=pct(ms), recall_at_10_text=found / (K * len(ms)), rss_searching_mb=rss_mb(),
               peak_rss_mb=peak_rss_mb(), bytes_per_molecule=out["index_bytes"] / len(emb))
    return out


def measure_in_child(kind: str, emb_path: Path, queries: Path, truth: Path, n_queries: int, tmp: Path) -> dict:
    cmd = [sys.executable, __file__, "--measure", kind, "--emb", str(emb_path), "--text-queries", str(queries),
           "--truth", str(truth), "--n-queries", str(n_queries), "--tmp", str(tmp)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode:
        raise RuntimeError(f"measuring {kind}: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def projected_hnsw(at: dict, n: int) -> dict:
    """HNSW at ``n`` from the measurement ``at`` a smaller size: build time per molecule grows with
    log n (each insertion is a graph search), bytes and memory per molecule stay; not measured."""
    grow = n / at["n"] * np.log(n) / np.log(at["n"])
    return {"kind": "hnsw", "n": n, "measured": False, "build_s": at["build_s"] * grow,
            "index_bytes": at["bytes_per_molecule"] * n, "bytes_per_molecule": at["bytes_per_molecule"],
            "peak_rss_mb": at["peak_rss_mb"] * n / at["n"], "params": at["params"],
            "basis": f"projected from the measurement at {at['n']:,}: build time x (n log n ratio), "
                     "bytes and memory x (n ratio); latency and recall not projected"}


def bench_search(r, sizes: list[int], n_queries: int, large_queries: int, hnsw_max: int, seed: int,
                 tmp: Path) -> list[dict]:
    from thinbridge.testing import synthetic

    texts = sorted(r.pairs["mechanism_of_action"].unique())
    rng = np.random.default_rng(seed)
    queries = r.embed_texts([texts[i] for i in rng.choice(len(texts), size=min(n_queries, len(texts)), replace=False)])
    np.save(tmp / "queries.npy", queries)
    parents = synthetic.parent_bits(r.molecules["parent_smiles"].tolist())
    out = []
    for n in sizes:
        log(f"synthetic analogues: {n:,}")
        emb_path = tmp / f"emb_{n}.safetensors"
        t0 = time.perf_counter()
        emb = synthetic.write_embeddings(emb_path, synthetic.analogue_embeddings(r.heads, parents, n, seed=seed + 1),
                                         r.dim)
        made = time.perf_counter() - t0
        log(f"exact top-10 of {len(queries)} text queries (the truth for recall)")
        truth, scores = emb.top_k(queries, K)
        np.save(tmp / "truth.npy", truth)
        own = np.sort(rng.choice(n, size=200, replace=False))
        _, own_scores = emb.top_k(emb.take(own), 2)
        geometry = {"text_best_score_mean": float(scores[:, 0].mean()),
                    "text_10th_score_mean": float(scores[:, -1].mean()),
                    "own_nearest_other_score_mean": float(own_scores[:, 1].mean())}
        q_exact = n_queries if emb.nbytes <= 1 << 30 else large_queries
        for kind in KINDS:
            if kind == "hnsw" and n > hnsw_max:
                measured = [x for x in out if x["kind"] == "hnsw" and x["measured"]]
                if measured:
                    out.append(projected_hnsw(measured[-1], n))
                continue
            log(f"{kind} at {n:,}")
            res = measure_in_child(kind, emb_path, tmp / "queries.npy", tmp / "truth.npy",
                                   q_exact if kind == "exact" else n_queries, tmp)
            res.update(synthetic_seconds=made, **geometry)
            out.append(res)
            shown = ("build_s", "latency_ms", "recall_at_10_text", "recall_at_10_own", "peak_rss_mb")
            log(f"  {json.dumps({k: res[k] for k in shown})}")
        emb_path.unlink()
    return out


# ----------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "artifacts" / "runs" / "scaffold_rich_noname"))
    ap.add_argument("--data", default=None, help="the run's prepared data folder (default: the one it records)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks"))
    ap.add_argument("--build-n", type=int, default=3000)
    ap.add_argument("--build-chunk", type=int, default=250, help="lines per partition in the build benchmark")
    ap.add_argument("--sizes", default="1e5,1e6,1e7")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--exact-queries-large", type=int, default=10,
                    help="exact-search latency queries where the embeddings are read in blocks (over 1 GiB)")
    ap.add_argument("--hnsw-max", type=float, default=1e6, help="largest size HNSW is built at (slow: one thread)")
    ap.add_argument("--tmp", default=None, help="temporary folder (10 GB at 10^7)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measure", choices=KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--emb", help=argparse.SUPPRESS)
    ap.add_argument("--text-queries", help=argparse.SUPPRESS)
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    ap.add_argument("--n-queries", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.measure:
        print(json.dumps(measure(a.measure, Path(a.emb), Path(a.text_queries), Path(a.truth), a.n_queries,
                                 Path(a.tmp))))
        return 0

    from thinbridge import __version__
    from thinbridge._util.errors import UserError
    from thinbridge._util.progress import set_progress
    from thinbridge.search.retrieval import Retriever

    set_progress(False)
    t_start, load_start = time.perf_counter(), os.getloadavg()
    try:
        r = Retriever.load(a.run, a.data)
        r.pairs
    except UserError as e:
        print(f"bench_index: error: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_index_", dir=a.tmp) as tmp:
        build = bench_build(r, a.build_n, a.seed, Path(tmp), a.build_chunk)
        search = bench_search(r, [int(float(x)) for x in a.sizes.split(",")], a.queries, a.exact_queries_large,
                              int(a.hnsw_max), a.seed, Path(tmp))
    import faiss

    res = {
        "schema": "thinbridge-bench-index-1",
        "thinbridge_version": __version__,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(), "numpy": np.__version__, "faiss": faiss.__version__,
                    "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9,
                    "load_average_1min_at_start_end": [round(load_start[0], 2), round(os.getloadavg()[0], 2)]},
        "run": {"path": str(Path(a.run).resolve()), "model_sha256": r.model_sha256, "dim": r.dim},
        "seed": a.seed, "k": K,
        "queries": {"text": a.queries, "texts": "mechanism_of_action strings sampled from the run's data",
                    "own": "200 of the index's own molecules (thinbridge.search.ann.recall_at_k)"},
        "synthetic": "analogues of the run's parent molecules (thinbridge.testing.synthetic), embedded by its drug head",
        "build": build,
        "search": search,
        "seconds_total": time.perf_counter() - t_start,
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "index.md").write_text(markdown(res))
    log(f"wrote {out / 'index.json'} and {out / 'index.md'} ({res['seconds_total']:.0f} s)")
    return 0


def _mb(x: float) -> str:
    return f"{x / 2**20:,.0f}" if x >= 2**20 else f"{x / 2**20:.2f}"


def markdown(res: dict) -> str:
    m, b = res["machine"], res["build"]
    lines = [
        "# Index builds and search by index kind",
        "",
        f"Written by `scripts/bench_index.py` (seed {res['seed']}, top-{res['k']}) on {m['cpu_count']} CPU cores, "
        f"{m['memory_gb']:.0f} GB, {m['platform']}, numpy {m['numpy']}, faiss {m['faiss']} (one OpenMP thread, as "
        f"thinbridge runs it); 1-minute load average {m['load_average_1min_at_start_end'][0]} at the start and "
        f"{m['load_average_1min_at_start_end'][1]} at the end (above {m['cpu_count']}: other work shared the cores). "
        f"Total {res['seconds_total'] / 60:.0f} min.",
        "",
        "## Build throughput (measured, real SMILES)",
        "",
        f"`Retriever.build_index` (read, ChEMBL parent standardisation, ECFP4, drug head, write; exact) on "
        f"{b['rows']:,} SMILES ({b['input']}), partitions of {b['chunk_size']} lines; each engine run "
        f"{b['repeat']} times, the fastest shown (all runs in `index.json`).",
        "",
        "| engine | wall s | cluster start-up s | molecules/s | molecules/s after start-up | against the library's "
        "standardiser | same files |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for x in b["results"]:
        lines.append(f"| {x['engine']} | {x['seconds']:.1f} | {x['startup_s']:.1f} | {x['molecules_per_s']:.0f} "
                     f"| {x['molecules_per_s_after_startup']:.0f} "
                     f"| {b['speedup_over_library_standardiser'][x['engine']]:.1f}x "
                     f"| {'yes' if x['same_files_as_first'] else '**no**'} |")
    lines += [
        "",
        "The first row standardises with `chembl_structure_pipeline`'s own `standardize_mol` and `get_parent_mol`, "
        "which rebuild their salt and solvent patterns and an `Uncharger` for every molecule; the others with "
        "`thinbridge.chem.parent` (the same rules with those built once per process; `tests/test_parent.py` checks the "
        "same parents). \"Same files\": `ids.tsv` and `embeddings.safetensors` byte for byte equal to the first "
        "row's. "
        f"2 Dask workers against 1, after start-up: {b['speedup_2_workers_after_startup']:.2f}x (2 cores, shared "
        f"with the scheduler and this process). `ids.tsv` holds {b['ids_tsv_bytes_per_molecule']:.0f} bytes a "
        "molecule.",
        "",
        "## Search by index kind (synthetic analogues)",
        "",
        f"Embeddings: {res['synthetic']}. Queries: {res['queries']['text']} {res['queries']['texts']} (text recall); "
        f"{res['queries']['own']} (own recall, as `thinbridge index` reports it). Latency: one query, top-10, "
        "embedding the query not included (p50 16 ms, `benchmarks/query.md`).",
        "",
        "| molecules | kind | measured | build s | structure MB | bytes/molecule | latency p50 / p95 ms "
        "| recall@10 text | recall@10 own | peak RSS MB | RSS searching MB |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in res["search"]:
        if s["measured"]:
            lat = f"{s['latency_ms']['p50']:.2f} / {s['latency_ms']['p95']:.2f} (n={s['latency_ms']['n']})"
            lines.append(f"| {s['n']:,} | {s['kind']} | yes | {s['build_s']:.1f} | {_mb(s['index_bytes'])} "
                         f"| {s['bytes_per_molecule']:.0f} | {lat} | {s['recall_at_10_text']:.3f} "
                         f"| {s['recall_at_10_own']:.3f} | {s['peak_rss_mb']:,.0f} | {s['rss_searching_mb']:,.0f} |")
        else:
            lines.append(f"| {s['n']:,} | {s['kind']} | **projected** | ~{s['build_s']:,.0f} "
                         f"| ~{_mb(s['index_bytes'])} | {s['bytes_per_molecule']:.0f} | not measured | not measured "
                         "| not measured "
                         f"| ~{s['peak_rss_mb']:,.0f} | not measured |")
    params = {s["kind"]: s["params"] for s in res["search"] if s["measured"] and s["params"]}
    lines += [
        "",
        "* **Structure MB**: exact, the float32 embeddings; hnsw and ivfpq, the FAISS file (`ann.faiss`). The "
        "approximate kinds keep the float32 embeddings beside it (ivfpq re-scores its candidates from them; "
        "every kind prints exact cosine scores).",
        "* **Exact** above 1 GiB of embeddings reads the file in blocks of 65,536 rows per query (RSS stays low, "
        "the time is a full read from the page cache); at and below, one product over the memory-mapped file.",
        "* **Projected** rows were not built here (HNSW adds one vector at a time on one thread); their figures "
        "come from the largest measured HNSW as the row says, and are estimates.",
        "* Parameters (the defaults) at the largest size each kind was measured: "
        + "; ".join(f"{k}: " + ", ".join(f"{p} {v}" for p, v in ps.items() if p != "seed") for k, ps in params.items())
        + ".",
        _geometry_note(res["search"]),
        "",
    ]
    return "\n".join(lines)


def _geometry_note(search: list[dict]) -> str:
    """Where text queries sit against the molecules (measured scores at the largest size), and
    how often text recall fell below own recall."""
    s = [x for x in search if x["measured"]][-1]
    approx = [x for x in search if x["measured"] and x["kind"] != "exact"]
    lower = [x for x in approx if x["recall_at_10_text"] < x["recall_at_10_own"]]
    which = ", ".join(f"{x['kind']} at {x['n']:,}" for x in lower) or "none"
    return (f"* Where the queries sit (at {s['n']:,}): a text query's best cosine averages "
            f"{s['text_best_score_mean']:.2f} and its 10th {s['text_10th_score_mean']:.2f}; a molecule's nearest "
            f"other molecule {s['own_nearest_other_score_mean']:.2f}. Text queries sit away from the molecules, "
            f"with many near-ties among their best hits; text recall is below own recall in {len(lower)} of the "
            f"{len(approx)} approximate rows ({which}). "
            "The recall `thinbridge index` reports is the own one.")


if __name__ == "__main__":
    sys.exit(main())
