#!/usr/bin/env python
"""Execute the book's notebooks with papermill, in pipeline order, re-running only what is stale.

For each jupytext source ``notebooks/NN_name.py`` (in order of NN) this converts it to
a notebook, executes it with papermill in the ``book/`` folder (the working directory
the notebooks expect, and the one nbval uses when it re-runs them) and writes the
executed notebook to ``book/NN_name.ipynb``.

A chapter is executed only when something that can change its outputs changed since it
last ran here: its code or text, its parameters, the package modules it imports,
``requirements.txt``, the data, the ``artifacts/`` files it reads from an earlier chapter,
or its own outputs (``thinbridge/book/chapters.py`` declares what each reads and writes, and
explains the rules; ``artifacts/book_manifest.json`` records what ran). A chapter whose
code changed makes the chapters that read its outputs stale; one whose text alone changed
does not.

    python scripts/run_notebooks.py                            # the stale chapters (full profile)
    python scripts/run_notebooks.py --status                   # what is stale, and why; runs nothing
    python scripts/run_notebooks.py --force                    # every chapter
    python scripts/run_notebooks.py --only 07                  # the stale chapters 07 needs, then 07
    python scripts/run_notebooks.py --profile fast --only 04   # any profile
    python scripts/run_notebooks.py --only 04 -p seed 1        # any other parameter

Executed notebooks keep their outputs; papermill's timestamps (notebook and cell
``metadata.papermill`` times, ``metadata.execution``) and the random cell ids are
replaced by stable values so that re-running gives readable diffs. Each executed notebook
starts with a hidden cell that makes the package importable where it is not (Colab: clone
the repository named in ``_config.yml`` and install it; elsewhere: one line saying what to
run). Wall times go to ``benchmarks/book_timings_<profile>.json``.

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
import shutil
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
    """The sources named by ``--only`` (numbers or names), or every one, in order."""
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if not sources:
        sys.exit(f"run_notebooks: no notebook sources notebooks/NN_*.py under {SOURCES}")
    if not only:
        return sources
    wanted = set()
    for item in only:
        for key in item.split(","):
            key = key.strip().removesuffix(".py").removesuffix(".ipynb")
            hits = [s for s in sources if s.stem == key or s.stem[:2] == key.zfill(2)]
            if not hits:
                names = ", ".join(s.stem for s in sources)
                sys.exit(f"run_notebooks: --only {key!r} matches no notebook (have: {names})")
            wanted.update(hits)
    return [s for s in sources if s in wanted]


def repository() -> tuple[str, str]:
    """The book's repository and branch, from ``_config.yml`` (the one place they are set)."""
    import yaml

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text()).get("repository", {})
    return cfg["url"], cfg.get("branch", "main")


# The first cell of every executed notebook (hidden on the pages): where `thinbridge` is not
# importable, Colab clones the book's repository and installs it; anywhere else the notebook
# stops with one line saying what to run, not with a ModuleNotFoundError further down.
BOOTSTRAP = """\
# Makes the thinbridge package importable where it is not (hidden on the book's pages).
# Colab: clone the book's repository and install it. Elsewhere: say what to run.
import importlib.util, os, subprocess, sys

if importlib.util.find_spec("thinbridge") is None:
    REPO, REF, HOME = "{url}", "{branch}", "/content/thinbridge"
    if "google.colab" not in sys.modules:
        raise SystemExit(f"thinbridge is not installed for {{sys.executable}}: "
                         f"git clone {{REPO}} && cd thinbridge && make setup && make lab")
    if not os.path.isdir(HOME):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", REF, REPO, HOME], check=True)
    # the pinned requirements, with Colab's own torch (the default text encoder runs in numpy)
    with open(f"{{HOME}}/requirements.txt") as src, open("/tmp/thinbridge-req.txt", "w") as dst:
        dst.writelines(line for line in src if not line.startswith("torch=="))
    pip = [sys.executable, "-m", "pip", "install", "-q", "-r", "/tmp/thinbridge-req.txt", "-e", HOME]
    subprocess.run(pip, check=True)
    sys.path.insert(0, HOME)
    os.chdir(f"{{HOME}}/book")
    if "numpy" in sys.modules:
        raise SystemExit("thinbridge is installed: restart the session "
                         "(Runtime > Restart session) and run all cells again")
"""
BOOTSTRAP_TAG = "thinbridge-bootstrap"
# Appended to each staged notebook and removed from the executed one: which package modules
# the chapter imported (the manifest re-runs it when one of them changes).
MODULES_TAG = "thinbridge-modules"
MODULES_CELL = """\
import json, sys
print("<<modules>>" + json.dumps(sorted(
    m.__file__ for n, m in list(sys.modules.items())
    if (n == "thinbridge" or n.startswith("thinbridge.")) and getattr(m, "__file__", None))))
"""


def bootstrap_source() -> str:
    url, branch = repository()
    return BOOTSTRAP.format(url=url, branch=branch)


def stage(src: Path, dest: Path) -> None:
    """The source as a notebook, with the bootstrap cell first and the module probe last."""
    import jupytext
    import nbformat

    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    boot = nbformat.v4.new_code_cell(bootstrap_source(), metadata={"tags": ["remove-cell", BOOTSTRAP_TAG]})
    probe = nbformat.v4.new_code_cell(MODULES_CELL, metadata={"tags": ["remove-cell", MODULES_TAG]})
    nb.cells = [boot, *nb.cells, probe]
    nbformat.write(nb, dest)


def imported_modules(path: Path) -> list[str]:
    """The package files the executed notebook imported (relative to the root), from its probe cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if MODULES_TAG in cell.metadata.get("tags", []):
            for out in cell.get("outputs", []):
                text = out.get("text", "")
                if "<<modules>>" in text:
                    files = json.loads(text.split("<<modules>>", 1)[1].splitlines()[0])
                    rel = []
                    for f in files:
                        try:
                            rel.append(Path(f).resolve().relative_to(ROOT).as_posix())
                        except ValueError:
                            pass  # installed elsewhere: not this checkout's code
                    return sorted(rel)
    return []


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
    nb.cells = [c for c in nb.cells if MODULES_TAG not in c.metadata.get("tags", [])]
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
        + ("; some entries come from earlier runs (only the stale or asked-for chapters ran), see their dates" if partial else ""),
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    write_teaching_table(profile, record)
    return out


def write_teaching_table(profile: str, record: dict) -> Path:
    """``benchmarks/book_timings_<profile>.md``: each chapter's minutes and what must run before it,
    from the timings and thinbridge/book/chapters.py (book/reproduce.md includes the full profile's)."""
    from thinbridge.book import chapters as C

    m = record["machine"]
    lines = [
        f"| chapter | time ({profile} profile) | feature cache at start | runs first, when stale |",
        "|---|---:|---|---|",
    ]
    for c in C.CHAPTERS:
        row = record["notebooks"].get(c.name, {})
        sec = row.get("seconds")
        ups = ", ".join(u.number for u in C.upstream(c)) or "nothing (runs alone)"
        shown = "" if sec is None else (f"{sec:.0f} s" if sec < 90 else f"{sec / 60:.1f} min")
        lines.append(f"| {{doc}}`{c.name}` | {shown} | "
                     f"{row.get('feature_cache_at_start', '')} | {ups} |")
    lines.append("")
    lines.append(f"Measured by `scripts/run_notebooks.py` on {m['processor']} ({m['cpu_count']} cores), "
                 f"Python {m['python']}; dates per chapter in `benchmarks/book_timings_{profile}.json`.")
    out = BENCH / f"book_timings_{profile}.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def data_file(params: dict) -> Path | None:
    """The data table the chapters read: ``data_path`` (relative to book/), ``$THINBRIDGE_DATA``, or the shipped one."""
    if params.get("data_path"):
        return (BOOK / str(params["data_path"])).resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    shipped = ROOT / "data" / "chembl_moa" / "chembl_moa.tsv"
    return shipped if shipped.is_file() else None


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    import thinbridge.book as B  # no heavy imports: plans before any kernel starts
    from thinbridge.book import chapters as C

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=B.PROFILES, default="full",
                    help="passed to every notebook as the `profile` parameter (default: full)")
    ap.add_argument("--only", action="append", metavar="NN",
                    help="run these notebooks (by number or name; repeatable or comma-separated), after "
                         "the stale earlier chapters whose outputs they read")
    ap.add_argument("--force", action="store_true",
                    help="execute every chapter asked for (and, with --only, its prerequisites), stale or not")
    ap.add_argument("--status", action="store_true",
                    help="print which chapters are stale and why, then stop (runs nothing)")
    ap.add_argument("--data", metavar="PATH", default=os.environ.get(DATA_ENV) or None,
                    help=f"ChEMBL mechanism table, passed as `data_path` (default: ${DATA_ENV}; "
                         "unset: the shipped data/chembl_moa/chembl_moa.tsv)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="any other notebook parameter, as papermill -p (repeatable)")
    ap.add_argument("--timeout", type=int, default=None,
                    help="per-cell timeout in seconds (default: none)")
    args = ap.parse_args(argv)

    params: dict = {"profile": args.profile}
    if args.data:
        data = Path(args.data).expanduser().resolve()
        if not data.is_file():
            sys.exit(f"run_notebooks: data file not found: {data}")
        # relative to book/ (the notebooks' working directory under papermill and
        # nbval), so that no absolute path of this machine lands in the notebooks
        params["data_path"] = os.path.relpath(data, BOOK)
    extra = {name: parse_value(value) for name, value in args.parameter}
    if "profile" in extra:  # -p profile fast is --profile fast (it also names the timings file)
        args.profile = params["profile"] = str(extra.pop("profile"))
    try:  # a misspelt value stops here, in the chapters' own words, before any chapter runs
        B.check_parameters(known_only=True, **params, **extra)
    except B.ParameterError as e:
        sys.exit(f"run_notebooks: {e}")
    data = data_file(params)
    boot = C.sha256_bytes(bootstrap_source().encode())

    chapters = C.CHAPTERS
    names = [c.name for c in chapters]
    sources = {s.stem: s for s in find_sources(None)}
    unknown = sorted(set(sources) - set(names))
    if unknown:
        sys.exit(f"run_notebooks: notebooks/{unknown[0]}.py is not declared in thinbridge/book/chapters.py (CHAPTERS)")
    wanted = [s.stem for s in find_sources(args.only)]
    # -p parameters go to the chapters asked for (all, without --only); the earlier chapters
    # that --only runs first get the defaults, as the chapters asked for expect them
    run_params = {n: {**params, **(extra if n in wanted else {})} for n in names}
    # what decides a chapter's outputs besides its files: parameters, the first cell, the runner
    keys = {n: {**p, "_bootstrap": boot} for n, p in run_params.items()}
    manifest = C.load_manifest(ROOT)
    stale = C.plan(ROOT, manifest, keys, data, chapters, force=args.force and not args.only)
    by = C.by_name(chapters)
    if args.only:
        need = {u.name for w in wanted for u in C.upstream(by[w], chapters)}
        todo = [n for n in names if n in wanted or (n in need and (args.force or n in stale))]
        for n in wanted:
            stale.setdefault(n, ["asked for (--only)"])
    else:
        todo = [n for n in names if n in stale]

    if args.status:
        for n in names:
            mark = "stale " if n in stale else "ok    "
            print(f"{mark} {n}" + (f": {'; '.join(stale[n])}" if n in stale else ""))
        print(f"run_notebooks: {len(todo)} of {len(names)} chapter(s) would run: {', '.join(todo) or 'none'}")
        return 0
    if not todo:
        print("run_notebooks: every chapter is up to date (--status says why; --force re-runs)", flush=True)
        return 0

    import thinbridge  # noqa: F401  pins CPU kernels and threads in os.environ; the kernels inherit it

    # one book build at a time: a second one (two `make book` at once) stops here, naming this one
    try:
        with B.lock_artifacts(ROOT, "make book (scripts/run_notebooks.py)"):
            return run_chapters(args, todo, names, stale, wanted, by, sources, manifest, keys, data,
                                run_params, params, extra)
    except thinbridge.UserError as e:
        sys.exit(f"run_notebooks: {e}")


def run_chapters(args, todo, names, stale, wanted, by, sources, manifest, keys, data, run_params, params,
                 extra) -> int:
    """Execute the chapters in ``todo`` (``main`` holds the lock on ``artifacts/``)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from thinbridge.book import chapters as C

    BOOK.mkdir(exist_ok=True)
    for k, value in KERNEL_ENV.items():
        os.environ.setdefault(k, value)
    shown = " ".join(f"{k}={v!r}" for k, v in {**params, **extra}.items())
    print(f"run_notebooks: {len(todo)} of {len(names)} notebook(s) to run ({', '.join(todo)}), {shown}, "
          f"python {sys.executable}", flush=True)

    timings: dict[str, float] = {}
    caches = feature_cache_state()
    with tempfile.TemporaryDirectory(prefix="thinbridge-nb-") as tmp:
        for name in todo:
            chapter = by[name]
            reasons = stale.get(name, [])
            # planned because an earlier chapter was to run: look again now that it has (a chapter
            # whose outputs came out the same leaves the ones that read them up to date)
            if not args.force and name not in (wanted if args.only else ()):
                if not C.why_stale(chapter, ROOT, manifest, keys[name], data):
                    print(f"    skip  {name}: what it reads came out unchanged", flush=True)
                    continue
            src = sources[name]
            staged = Path(tmp) / f"{name}.ipynb"
            stage(src, staged)
            out = BOOK / f"{name}.ipynb"
            rel_src, rel_out = src.relative_to(ROOT), out.relative_to(ROOT)
            manifest.pop(name, None)  # a failed or interrupted run leaves it stale
            C.save_manifest(ROOT, manifest)
            before = (C.inputs_of(chapter, ROOT, keys[name], data, []), C.package_hashes(ROOT))
            # what it writes is made anew: a chapter that reads its own earlier output as a cache
            # (the scaffolds) recomputes it with the code as it is now
            for spec in chapter.writes:
                target = ROOT / spec
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.is_file():
                    target.unlink()
            t0 = time.perf_counter()
            try:
                pm.execute_notebook(
                    str(staged), str(out),
                    parameters=run_params[name],
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
                print("        later notebooks were not run; git checkout book/ restores the committed ones",
                      file=sys.stderr)
                finish(timings, args.profile, names, caches)
                return 1
            except Exception as err:  # kernel died, timeout, bad parameters...
                seconds = time.perf_counter() - t0
                print(f"FAILED  {rel_src} after {seconds:.1f} s: {type(err).__name__}: {err}",
                      file=sys.stderr)
                if out.exists():
                    print(f"        whatever papermill saved is in {rel_out}", file=sys.stderr)
                print("        later notebooks were not run; git checkout book/ restores the committed ones",
                      file=sys.stderr)
                finish(timings, args.profile, names, caches)
                return 1
            seconds = time.perf_counter() - t0
            timings[name] = seconds
            modules = imported_modules(out)
            if not modules:
                print(f"          warning: {name}: no package module of {ROOT} recorded (is thinbridge "
                      "installed from another checkout?); its package code is not tracked", flush=True)
            warnings = clean(out)
            manifest[name] = C.record(chapter, ROOT, keys[name], data, modules, before)
            C.save_manifest(ROOT, manifest)
            why = "; ".join(reasons)
            print(f"{seconds:8.1f} s  {rel_src} -> {rel_out}  ({why})", flush=True)
            for w in warnings:
                print(f"          warning: {rel_out}: {w}", flush=True)

    finish(timings, args.profile, names, caches)
    return 0


def finish(timings: dict, profile: str, names: list[str], caches: str) -> None:
    """Write the timings of the chapters that ran (also when a later one failed)."""
    if timings:
        partial = set(timings) != set(names)
        out = write_timings(profile, timings, partial, caches)
        print(f"{sum(timings.values()):8.1f} s  total; timings in {out.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nrun_notebooks: interrupted; the chapter that was running stays stale (make status), "
              "the ones before it are recorded", file=sys.stderr)
        sys.exit(130)
