#!/usr/bin/env python
"""Execute the book's notebooks with papermill, in pipeline order.

For each jupytext source ``notebooks/NN_name.py`` (in order of NN) this converts it to
a notebook, executes it with papermill in the ``book/`` folder (the working directory
the notebooks expect, and the one nbval uses when it re-runs them) and writes the
executed notebook to ``book/NN_name.ipynb``. Later notebooks read what earlier ones
wrote to ``artifacts/``, so ``--only`` assumes the earlier stages have run.

    python scripts/run_notebooks.py --profile full            # every notebook
    python scripts/run_notebooks.py --profile fast --only 04  # one notebook
    python scripts/run_notebooks.py --only 04 -p seed 1       # any other parameter

Executed notebooks keep their outputs; papermill's timestamps (notebook and cell
``metadata.papermill`` times, ``metadata.execution``) and the random cell ids are
replaced by stable values so that re-running gives readable diffs. Wall times go to
``benchmarks/book_timings_<profile>.json``.

The kernel is ``python3`` as seen from the Python running this script: run it with
the virtual environment's interpreter (``.venv/bin/python``) and the notebooks run
there too (jupyter_client swaps the kernelspec's ``python`` for ``sys.executable``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
BOOK = ROOT / "book"
BENCH = ROOT / "benchmarks"
DATA_ENV = "THINBRIDGE_DATA"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# notebook-level papermill metadata worth keeping (the rest is times and local paths)
KEEP_PAPERMILL = ("parameters",)
# The kernels inherit this environment (unless already set): no progress bars in the
# outputs, and a fixed str hash seed so that set/dict-of-set orders print the same
# each run. `make nbval` sets the same for the re-execution.
KERNEL_ENV = {"THINBRIDGE_PROGRESS": "0", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0"}
# Warnings name the kernel's temporary cell file (/tmp/ipykernel_<pid>/<hash>.py:<line>),
# which changes with every run; stored as <CELL>, exactly as .nbval_sanitize.cfg
# rewrites it, so that nbval still compares equal and re-runs give no diff.
IPYKERNEL_FILE = re.compile(r"(?:/[\w.-]+)*/ipykernel_\d+/\d+\.py(?::\d+)?")


def find_sources(only: list[str] | None) -> list[Path]:
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if not sources:
        sys.exit(f"run_notebooks: no notebook sources notebooks/NN_*.py under {SOURCES}")
    if not only:
        return sources
    wanted = set()
    for item in only:
        for key in item.split(","):
            key = key.strip().removesuffix(".py")
            hits = [s for s in sources if s.stem == key or s.stem[:2] == key.zfill(2)]
            if not hits:
                names = ", ".join(s.stem for s in sources)
                sys.exit(f"run_notebooks: --only {key!r} matches no notebook (have: {names})")
            wanted.update(hits)
    return [s for s in sources if s in wanted]


def parse_value(text: str):
    """papermill -p style: ints, floats, booleans, null and lists are typed; the rest stays text."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, (dict, dt.date)) else value


def stable_ids(cells) -> None:
    """Cell ids from a hash of the cell's type and source: the same cell keeps its id across runs."""
    seen: dict[str, int] = {}
    for cell in cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        cell["id"] = digest if n == 0 else f"{digest}-{n}"


def merge_streams(outputs: list) -> list:
    """Consecutive stdout (or stderr) outputs as one: how a kernel happened to flush a print is
    not part of the result, and re-runs then give the same notebook, not a chunking diff."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = prev["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def clean(path: Path) -> list[str]:
    """Strip volatile metadata from an executed notebook in place; return warnings."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    nb.metadata["papermill"] = {k: pm[k] for k in KEEP_PAPERMILL if k in pm}
    nb.metadata.pop("jupytext", None)  # the executed copy is not paired with the source
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]  # kept in the .ipynb, not shown on the page
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell["outputs"] = merge_streams(cell.get("outputs", []))
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = IPYKERNEL_FILE.sub("<CELL>", out["text"])
    stable_ids(nb.cells)
    nbformat.validate(nb)
    nbformat.write(nb, path)

    # outputs are results and stay as they are; absolute paths of this machine in
    # them make the notebook differ between checkouts, so name them for the author
    # (ipykernel cell files in warnings were replaced by <CELL> above)
    local = {p for p in (str(ROOT), str(Path.home())) if p not in ("", "/")}
    warnings = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        blob = json.dumps(cell.get("outputs", []))
        for p in sorted(local):
            if p + "/" in blob or p + "\\\\" in blob:
                warnings.append(f"code cell {i} prints a local absolute path ({p}/...)")
                break
    return warnings


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "processor": cpu or platform.machine(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def feature_cache_state() -> str:
    """``cold`` when no frozen features are cached yet (a first run), else ``warm``."""
    cache = ROOT / "artifacts" / "data" / "cache"
    return "warm" if cache.is_dir() and any(cache.glob("*.safetensors")) else "cold"


def write_timings(profile: str, timings: dict[str, float], partial: bool, caches: str = "") -> Path:
    BENCH.mkdir(exist_ok=True)
    out = BENCH / f"book_timings_{profile}.json"
    today = dt.date.today().isoformat()
    notebooks = {}
    if partial and out.is_file():
        try:
            notebooks = json.loads(out.read_text()).get("notebooks", {})
        except (ValueError, AttributeError):
            notebooks = {}
    for name, seconds in timings.items():
        notebooks[name] = {"seconds": round(seconds, 1), "date": today, "feature_cache_at_start": caches}
    notebooks = dict(sorted(notebooks.items()))
    record = {
        "profile": profile,
        "date": today,
        "notebooks": notebooks,
        "total_seconds": round(sum(v["seconds"] for v in notebooks.values()), 1),
        "machine": machine(),
        "note": "wall time of papermill executing each notebook (scripts/run_notebooks.py); feature_cache_at_start: "
                "whether the run that timed it began with no cached frozen features (cold) or some (warm)"
        + ("; some entries come from earlier runs (--only), see their dates" if partial else ""),
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["full", "fast"], default="full",
                    help="passed to every notebook as the `profile` parameter (default: full)")
    ap.add_argument("--only", action="append", metavar="NN",
                    help="run only these notebooks, by number or name (repeatable or comma-separated)")
    ap.add_argument("--data", metavar="PATH", default=os.environ.get(DATA_ENV) or None,
                    help=f"ChEMBL mechanism table, passed as `data_path` (default: ${DATA_ENV}; "
                         "unset: the shipped data/chembl_moa/chembl_moa.tsv)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="any other notebook parameter, as papermill -p (repeatable)")
    ap.add_argument("--timeout", type=int, default=None,
                    help="per-cell timeout in seconds (default: none)")
    args = ap.parse_args(argv)

    import jupytext
    import nbformat
    import papermill as pm

    import thinbridge  # noqa: F401  pins CPU kernels and threads in os.environ; the kernels inherit it
    from papermill.exceptions import PapermillExecutionError

    params: dict = {"profile": args.profile}
    if args.data:
        data = Path(args.data).expanduser().resolve()
        if not data.is_file():
            sys.exit(f"run_notebooks: data file not found: {data}")
        # relative to book/ (the notebooks' working directory under papermill and
        # nbval), so that no absolute path of this machine lands in the notebooks
        params["data_path"] = os.path.relpath(data, BOOK)
    for name, value in args.parameter:
        params[name] = parse_value(value)

    sources = find_sources(args.only)
    BOOK.mkdir(exist_ok=True)
    for key, value in KERNEL_ENV.items():
        os.environ.setdefault(key, value)
    shown = " ".join(f"{k}={v!r}" for k, v in params.items())
    print(f"run_notebooks: {len(sources)} notebook(s), {shown}, python {sys.executable}", flush=True)

    timings: dict[str, float] = {}
    caches = feature_cache_state()
    with tempfile.TemporaryDirectory(prefix="thinbridge-nb-") as tmp:
        for src in sources:
            nb = jupytext.read(src)
            nb.metadata["kernelspec"] = dict(KERNELSPEC)
            staged = Path(tmp) / f"{src.stem}.ipynb"
            nbformat.write(nb, staged)
            out = BOOK / f"{src.stem}.ipynb"
            rel_src, rel_out = src.relative_to(ROOT), out.relative_to(ROOT)
            t0 = time.perf_counter()
            try:
                pm.execute_notebook(
                    str(staged), str(out),
                    parameters=params,
                    kernel_name="python3",
                    language="python",
                    cwd=str(BOOK),
                    progress_bar=False,
                    log_output=False,
                    request_save_on_cell_execute=False,
                    execution_timeout=args.timeout,
                )
            except PapermillExecutionError as err:
                seconds = time.perf_counter() - t0
                print(f"FAILED  {rel_src} after {seconds:.1f} s: cell {err.exec_count}: "
                      f"{err.ename}: {err.evalue}", file=sys.stderr)
                print(f"        the partially executed notebook, with the traceback, is {rel_out}",
                      file=sys.stderr)
                print("        later notebooks were not run", file=sys.stderr)
                return 1
            except Exception as err:  # kernel died, timeout, bad parameters...
                seconds = time.perf_counter() - t0
                print(f"FAILED  {rel_src} after {seconds:.1f} s: {type(err).__name__}: {err}",
                      file=sys.stderr)
                if out.exists():
                    print(f"        whatever papermill saved is in {rel_out}", file=sys.stderr)
                print("        later notebooks were not run", file=sys.stderr)
                return 1
            seconds = time.perf_counter() - t0
            timings[src.stem] = seconds
            warnings = clean(out)
            print(f"{seconds:8.1f} s  {rel_src} -> {rel_out}", flush=True)
            for w in warnings:
                print(f"          warning: {rel_out}: {w}", flush=True)

    partial = bool(args.only)
    out = write_timings(args.profile, timings, partial, caches)
    print(f"{sum(timings.values()):8.1f} s  total; timings in {out.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
