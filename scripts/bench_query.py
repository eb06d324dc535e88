#!/usr/bin/env python
"""Query latency and index build throughput of thinbridge retrieval, with a NumPy baseline.

    python scripts/bench_query.py     # artifacts/runs/scaffold_rich_noname -> benchmarks/query.{json,md}
    python scripts/bench_query.py --run RUN --queries 50 --build-n 5000

What is measured (all in one process, fixed seeds, figures written by this script only):

* **text encoding**: one query text -> bridge embedding (sentence encoder + text head),
  per query, over ``--encode-queries`` mechanism texts sampled from the run's data;
* **index build, full pipeline, real SMILES**: the whole ``thinbridge index`` pipeline (read,
  standardise to the ChEMBL parent, ECFP4, drug head, write) on ``--build-n`` real
  structures: the run's parent molecules, then randomised SMILES of them (RDKit
  ``MolToRandomSmilesVect``; distinct strings, so every row is standardised and fingerprinted
  anew) up to the count;
* **index build, head + write, synthetic fingerprints**: for every index size (10^4, 10^5,
  10^6), measured, not extrapolated: the stages that need no chemistry, as ``build_index``
  runs them, chunk by chunk (4096 rows): the drug head (``Retriever.encode_drug``) on
  synthetic 2048-bit uint8 fingerprints (~50 bits set per row, seeded; generated outside the
  timing, one chunk at a time, so memory stays at a chunk) and the float32 embeddings written
  with the index's own ``Float32Writer`` into a temporary folder (page cache, no fsync, as
  in ``build_index``). The full pipeline at 10^5 and 10^6 is given only as an estimate
  (size / the measured full-pipeline rate), labelled as such;
* **search**: top-10 of ``emb @ q`` by ``thinbridge.search.retrieval.top_k`` (argpartition + sort of
  10) against the baseline ``np.argsort`` of the full score vector, for indexes of 10^4
  (the index built above: real embeddings), 10^5 and 10^6 molecules (synthetic unit vectors,
  float32, 256-d: search cost does not depend on where the vectors came from);
* **end to end**: ``Retriever.search_text(query, k=10, index=...)`` on the real 10^4 index
  (``--e2e-queries`` queries).

The machine's 1-minute load average is recorded at the start and the end: on a shared
machine the absolute figures move with other work, the side-by-side comparisons less so.
Under ~3 minutes on 2 idle cores; the real index build (standardisation) dominates.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import thinbridge  # noqa: E402,F401  (first: pins the numerical kernels before numpy loads)
import numpy as np  # noqa: E402

K = 10


def log(msg: str) -> None:
    print(f"[bench_query] {msg}", file=sys.stderr, flush=True)


def pct(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=float)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()),
            "n": int(len(a))}


def timed(fn, items, desc: str) -> list[float]:
    from thinbridge._util.progress import progress

    out = []
    for x in progress(items, desc=desc, leave=False):
        t = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1e3)
    return out


def library_smiles(parents: list[str], n: int, seed: int) -> list[str]:
    """``parents`` first, then distinct randomised SMILES of them, ``n`` in all."""
    from rdkit import Chem

    out, seen = list(parents[:n]), set(parents[:n])
    mols = [Chem.MolFromSmiles(s) for s in parents]
    rnd = 0
    while len(out) < n:
        rnd += 1
        for i, m in enumerate(mols):
            for s in Chem.MolToRandomSmilesVect(m, 1, randomSeed=seed * 1_000_003 + rnd * 10_007 + i):
                if s not in seen:
                    seen.add(s)
                    out.append(s)
            if len(out) >= n:
                break
        if rnd > 50:
            raise RuntimeError("could not make enough distinct SMILES")
    return out


def synthetic(n: int, dim: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    emb = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - s), dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        emb[s:s + len(x)] = x
    return emb


def bench_head_write(r, n: int, dim: int, folder: Path, seed: int, chunk: int = 4096,
                     bits: int = 50) -> dict:
    """Drug head + float32 write, as ``build_index`` runs them, on ``n`` synthetic fingerprints.

    Each chunk: ``bits`` random positions (with replacement, so a few rows have fewer) of a
    uint8 ``(chunk, in_features)`` array are set (untimed), then ``r.encode_drug`` and
    ``Float32Writer.write`` are timed; ``close`` (the header) counts as write time.
    One untimed warm-up chunk goes through the head first.
    """
    from thinbridge._util.progress import progress
    from thinbridge.search.embeddings import HEADER_RESERVE
    from thinbridge.search.index import INDEX_EMBEDDINGS, INDEX_FORMAT
    from thinbridge.search.embeddings import Float32Writer

    n_bits = r.heads.in_features["drug"]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / INDEX_EMBEDDINGS
    r.encode_drug(np.zeros((min(chunk, n), n_bits), dtype=np.uint8))  # warm-up, untimed
    writer = Float32Writer(path, dim)
    t_gen = t_head = t_write = 0.0
    set_bits = 0
    try:
        for s in progress(range(0, n, chunk), desc=f"head+write n={n}", leave=False):
            m = min(chunk, n - s)
            t = time.perf_counter()
            fp = np.zeros((m, n_bits), dtype=np.uint8)
            fp[np.arange(m)[:, None], rng.integers(0, n_bits, size=(m, bits))] = 1
            set_bits += int(fp.sum(dtype=np.int64))
            t1 = time.perf_counter()
            emb = r.encode_drug(fp)
            t2 = time.perf_counter()
            writer.write(emb)
            t3 = time.perf_counter()
            t_gen, t_head, t_write = t_gen + (t1 - t), t_head + (t2 - t1), t_write + (t3 - t2)
            del fp, emb
        t = time.perf_counter()
        writer.close({"format": INDEX_FORMAT, "model_sha256": r.model_sha256, "count": n, "dim": dim})
        t_write += time.perf_counter() - t
    except BaseException:
        writer.abort()
        raise
    size = path.stat().st_size
    path.unlink()
    if writer.n != n or size != 8 + HEADER_RESERVE + n * dim * 4:
        raise RuntimeError(f"head + write benchmark: wrote {writer.n} rows, {size} bytes for n={n}")
    seconds = t_head + t_write
    return {"n": int(n), "stages": "drug head + float32 write (Float32Writer)",
            "input": f"synthetic {n_bits}-bit uint8 fingerprints, ~{bits} bits set per row "
                     f"(mean {set_bits / n:.1f}), seed {seed}",
            "chunk_size": chunk, "seconds": seconds, "head_s": t_head, "write_s": t_write,
            "molecules_per_s": n / seconds, "bytes_written": int(size),
            "untimed_fingerprint_generation_s": t_gen, "measured": True}


def bench_search(emb: np.ndarray, qs: np.ndarray, desc: str) -> dict:
    from thinbridge.search.retrieval import top_k

    def ours(q):
        return top_k(emb @ q, K)

    def baseline(q):
        return np.argsort(emb @ q)[::-1][:K]

    from thinbridge._util.progress import progress

    for q in qs[:3]:  # warm-up
        ours(q), baseline(q)
    agree = all(set(ours(q).tolist()) == set(baseline(q).tolist()) for q in qs[:10])
    t_ours, t_base = [], []
    for q in progress(qs, desc=desc, leave=False):  # interleaved, so that load from elsewhere hits both alike
        for fn, acc in ((ours, t_ours), (baseline, t_base)):
            t = time.perf_counter()
            fn(q)
            acc.append((time.perf_counter() - t) * 1e3)
    a, b = pct(t_ours), pct(t_base)
    return {"n": int(len(emb)), "index_mb": emb.nbytes / 2**20, "top_k_ms": a, "baseline_ms": b,
            "speedup_p50": b["p50"] / a["p50"], "same_top10_as_baseline": bool(agree)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "artifacts" / "runs" / "scaffold_rich_noname"),
                    help="trained run folder (default: the scaffold-split bridge that `make book` trains)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks"), help="folder for query.json and query.md")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--encode-queries", type=int, default=30, help="queries for the text encoding timing")
    ap.add_argument("--e2e-queries", type=int, default=30, help="queries for the end-to-end search_text timing")
    ap.add_argument("--build-n", type=int, default=10_000)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--processes", type=int, default=None, help="index build processes (default: CPU count)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    import torch

    from thinbridge import __version__
    from thinbridge._util.errors import UserError
    from thinbridge.config import CHUNK_SIZE
    from thinbridge.search.index import Index
    from thinbridge.search.retrieval import Retriever

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    rng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)
    try:
        log(f"loading {a.run}")
        r = Retriever.load(a.run)
        pairs = r.pairs
    except UserError as e:
        print(f"bench_query: error: {e}", file=sys.stderr)
        return 2
    texts = sorted(pairs["mechanism_of_action"].unique())
    queries = [texts[i] for i in rng.choice(len(texts), size=min(a.queries, len(texts)), replace=False)]
    r.embed_texts(queries[:2])  # load the text model outside the timings

    log(f"text encoding: {min(a.encode_queries, len(queries))} single queries")
    enc_ms = timed(lambda q: r.embed_texts([q]), queries[:a.encode_queries], "encode")
    qs = r.embed_texts(queries)

    parents = r.molecules["parent_smiles"].tolist()
    lib = library_smiles(parents, a.build_n, a.seed)
    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_query_") as tmp:
        src = Path(tmp) / "library.smi"
        src.write_text("".join(f"{s} m{i}\n" for i, s in enumerate(lib)))
        log(f"index build: {len(lib)} SMILES ({len(set(parents))} molecules, the rest randomised SMILES of them)")
        b = r.build_index(src, Path(tmp) / "index", processes=a.processes, show_progress=True)
        build = {"label": "full pipeline, real SMILES", "measured": True,
                 "stages": "read, standardise (ChEMBL parent), ECFP4, drug head, write (Retriever.build_index)",
                 "rows": b["rows_read"], "indexed": b["count"], "skipped": b["skipped"], "seconds": b["seconds"],
                 "molecules_per_s": b["count"] / b["seconds"], "workers": b["processes"], "chunk_size": CHUNK_SIZE,
                 "input": f"{len(set(parents))} parent molecules of the run's data, then distinct randomised SMILES "
                          "of them (RDKit MolToRandomSmilesVect)"}
        index = Index.load(Path(tmp) / "index")

        log(f"end to end: Retriever.search_text(query, k=10, index=<{len(index)} index>), {a.e2e_queries} queries")
        r.search_text(queries[0], k=K, index=index)
        e2e_ms = timed(lambda q: r.search_text(q, k=K, index=index), queries[:a.e2e_queries], "search_text")

        search, head_write, estimates = [], [], []
        for i, n in enumerate(int(float(x)) for x in a.sizes.split(",")):
            log(f"index build, head + write: {n} synthetic fingerprints")
            hw = bench_head_write(r, n, r.dim, Path(tmp) / f"head_write_{n}", a.seed + 100 + i, CHUNK_SIZE)
            hw["label"] = "head + write, synthetic fingerprints"
            head_write.append(hw)
            same = n == build["indexed"]
            estimates.append({"n": n, "label": "full pipeline, real SMILES (measured above)" if same
                              else "ESTIMATE of the full pipeline (not measured)",
                              "seconds": b["seconds"] if same else n / build["molecules_per_s"],
                              "basis": "Retriever.build_index on the real SMILES above" if same else
                                       f"n / the measured full-pipeline rate on {build['indexed']:,} real SMILES "
                                       f"({build['molecules_per_s']:.0f} molecules/s, {build['workers']} "
                                       "worker(s)); assumes the rate stays flat with size",
                              "measured": same})
            if n == len(index):
                emb, source = index.embeddings, "real (the index built above)"
            elif n < len(index):
                emb, source = np.ascontiguousarray(index.embeddings[:n]), "real (first rows of the index built above)"
            else:
                log(f"synthetic index of {n} unit vectors")
                emb, source = synthetic(n, r.dim, a.seed + 1), "synthetic unit vectors (seeded)"
            log(f"search: {n} molecules x {len(qs)} queries")
            s = bench_search(emb, qs, f"n={n}")
            s["embeddings"] = source
            search.append(s)
            del emb

    res = {
        "schema": "thinbridge-bench-query-2",
        "thinbridge_version": __version__,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(), "numpy": np.__version__, "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(),
                    "load_average_1min_at_start_end": [round(load_start[0], 2), round(os.getloadavg()[0], 2)]},
        "run": {"path": str(Path(a.run).resolve()), "model_sha256": r.model_sha256},
        "seed": a.seed, "k": K, "queries": len(queries),
        "query_texts": "mechanism_of_action strings sampled from the run's data",
        "text_encoding_ms": pct(enc_ms),
        "search_text_end_to_end_ms": {**pct(e2e_ms), "index_size": int(len(index))},
        "index_build": {
            "full_pipeline_real_smiles": build,
            "head_write_synthetic_fingerprints": head_write,
            "full_pipeline_estimate": estimates,
        },
        "search": search,
        "seconds_total": time.perf_counter() - t_start,
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "query.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "query.md").write_text(markdown(res))
    log(f"wrote {out / 'query.json'} and {out / 'query.md'} ({res['seconds_total']:.0f} s)")
    print(markdown(res))
    return 0


def markdown(res: dict) -> str:
    ib, enc, e2e = res["index_build"], res["text_encoding_ms"], res["search_text_end_to_end_ms"]
    b = ib["full_pipeline_real_smiles"]
    m = res["machine"]
    lines = [
        "# Query latency and index build throughput",
        "",
        f"Written by `scripts/bench_query.py` (seed {res['seed']}, top-{res['k']}; search over {res['queries']} "
        f"queries, encoding and end to end over the first {enc['n']} and {e2e['n']}) on "
        f"{m['cpu_count']} CPU cores, {m['platform']}, numpy {m['numpy']}, torch {m['torch']}; "
        f"1-minute load average {m['load_average_1min_at_start_end'][0]} at the start and "
        f"{m['load_average_1min_at_start_end'][1]} at the end (above {m['cpu_count']} means other work shared "
        "the cores).",
        "",
        "## Search",
        "",
        "| index size | index MB | top-k (argpartition) p50 / p95 ms | baseline (full argsort) p50 / p95 ms "
        "| speed-up p50 | embeddings |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for s in res["search"]:
        lines.append(
            f"| {s['n']:,} | {s['index_mb']:.0f} | {s['top_k_ms']['p50']:.2f} / {s['top_k_ms']['p95']:.2f} "
            f"| {s['baseline_ms']['p50']:.2f} / {s['baseline_ms']['p95']:.2f} | {s['speedup_p50']:.1f}x "
            f"| {s['embeddings']} |")
    lines += [
        "",
        f"* Text encoding of one query (sentence encoder + text head): p50 {enc['p50']:.1f} ms, "
        f"p95 {enc['p95']:.1f} ms.",
        f"* `Retriever.search_text` end to end on the {e2e['index_size']:,}-molecule index (encode, search, "
        f"table): p50 {e2e['p50']:.1f} ms, p95 {e2e['p95']:.1f} ms.",
        "",
        "## Index build",
        "",
        f"**Full pipeline, real SMILES (measured):** read, ChEMBL parent standardisation, ECFP4, drug head, "
        f"write (`Retriever.build_index`) on {b['rows']:,} SMILES with {b['workers']} worker process(es): "
        f"{b['seconds']:.1f} s, **{b['molecules_per_s']:.0f} molecules/s**. Input: {b['input']}.",
        "",
        "| index size | head + write, synthetic fingerprints: s (measured) | drug head s | write s "
        "| head + write molecules/s | full pipeline s |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for hw, est in zip(ib["head_write_synthetic_fingerprints"], ib["full_pipeline_estimate"]):
        full = (f"{b['seconds']:,.1f} (measured, real SMILES)" if est["measured"]
                else f"~{est['seconds']:,.0f} (estimate, not measured)")
        lines.append(f"| {hw['n']:,} | {hw['seconds']:.2f} | {hw['head_s']:.2f} | {hw['write_s']:.2f} "
                     f"| {hw['molecules_per_s']:,.0f} | {full} |")
    hw0 = ib["head_write_synthetic_fingerprints"][0] if ib["head_write_synthetic_fingerprints"] else None
    lines += [
        "",
        "* **Head + write, synthetic fingerprints** (measured at every size): only the stages that need no "
        "chemistry, run as `build_index` runs them, in chunks of "
        f"{hw0['chunk_size'] if hw0 else ''} rows: the drug head (`Retriever.encode_drug`) and the float32 "
        "write with the index's own `Float32Writer` into a temporary folder (page cache, no fsync). "
        "Input: synthetic 2048-bit uint8 fingerprints, ~50 bits set per row (seeded per size), generated "
        "chunk by chunk outside the timing (memory stays at one chunk). Standardisation, "
        "ECFP4 and the ids table are not in these figures.",
        "* **Full pipeline** at sizes other than the real build is an **estimate**: size / the measured "
        "full-pipeline rate above (assumes the rate stays flat; standardisation and ECFP4, which dominate, "
        "are per molecule). Search timings at sizes beyond the real index use synthetic embeddings.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
