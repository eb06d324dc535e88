"""The book's chapters, what each reads and writes, and which of them are out of date.

``make book`` re-executes a notebook only when something that can change its outputs
changed since it last ran. What a chapter depends on is declared here, in one place
(:data:`CHAPTERS`): the files under ``artifacts/`` (or elsewhere in the project) that it
reads and writes. Everything else is found, not declared:

- its **code** and its **prose** (the code and markdown cells of ``notebooks/NN_*.py``,
  hashed apart: a prose-only edit re-executes the chapter, so that the page shows it, but
  cannot change what it writes, so it does not make later chapters stale);
- its **parameters** (profile, data path, every ``-p``; the ``THINBRIDGE_*`` environment);
- the **package modules** it imported, as recorded from the kernel when it last ran
  (``thinbridge/**/*.py`` files: an edit to ``training/grid.py`` re-runs the chapters that train, not
  chapter 1);
- ``requirements.txt``, the **data** table it read, and the files it declares it reads;
- its own **outputs**: a missing or altered output, or executed notebook, makes it stale.

What ran, with the hash of every input and output, is kept in ``artifacts/book_manifest.json``
(beside the outputs it describes: a fresh clone, or ``make clean-artifacts``, has none, and
runs every chapter). Hashing rather than timestamps: a file rewritten with the same bytes is
unchanged, and a clone or checkout (which resets times) does not re-run anything.

Why not jupyter-cache (Jupyter Book's own ``execute_notebooks: cache``)? It keys a notebook by
its code cells only, so it can neither see the package, the data or the artifacts a chapter
reads from an earlier one, nor run prerequisites; and the book is built from notebooks
executed by papermill (parameters, fixed cell ids, cleaned metadata), not by the book build.
A hash manifest over declared inputs is what make does for files, with content instead of times.

No heavy imports: the runner plans before it starts a kernel.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import thinbridge.book as B

#: bump when the runner changes what it writes into an executed notebook
RUNNER_VERSION = 1
#: the manifest, under the project root
MANIFEST = Path("artifacts") / "book_manifest.json"
#: stands for the chapter's data table (its ``data_path`` parameter, ``$THINBRIDGE_DATA`` or the shipped one)
DATA = "{data}"
#: environment variables that can change a chapter's numbers (THINBRIDGE_NUMERICS, _TEXT_BACKEND,
#: _DATA...), less those that only change what is shown while it runs
ENV_PREFIX = "THINBRIDGE_"
ENV_IGNORED = frozenset({"THINBRIDGE_PROGRESS"})


@dataclass(frozen=True)
class Chapter:
    """One notebook: ``notebooks/<name>.py`` executed into ``book/<name>.ipynb``.

    ``reads`` and ``writes`` are paths relative to the project root (a folder stands for every
    file under it), or :data:`DATA`. The feature cache (``artifacts/data/cache``) is neither: its
    entries are keyed by their own inputs and any chapter may fill it.
    """

    name: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        return self.name[:2]


_A = "artifacts/"


def _a(*names: str) -> tuple[str, ...]:
    """Files under artifacts/ by their :mod:`thinbridge.book` names, relative to the project root."""
    return tuple(_A + n for n in names)


def _fig(name: str) -> str:
    return f"{B.FIGURES}/{name}"

#: every chapter, in the order they run; what each reads and writes
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_data", reads=(DATA,), writes=_a(B.PAIRS, B.REPORT, B.DROPPED, B.MERGED)),
    Chapter("02_splits", reads=_a(B.PAIRS),
            writes=_a(B.SCAFFOLDS, B.SPLITS, _fig("scaffold_sizes.png"), _fig("leakage.png"))),
    Chapter("03_training", reads=_a(B.PAIRS, B.SPLITS),
            writes=_a(B.RUNS, B.TABLE1, _fig("training_curves.png"))),
    Chapter("04_ablations", reads=_a(B.PAIRS, B.SPLITS),
            writes=_a(B.ABLATION, B.ABLATION_HARD_WEIGHT, _fig("figure4_ablation.png"))),
    Chapter("05_figures", reads=_a(B.PAIRS, B.SPLITS, B.RUNS, B.ABLATION),
            writes=_a(_fig("figure1_before_after.png"), _fig("figure2_test_pairs.png"), _fig("figure3_cmc.png"),
                      _fig("figure5_frozen.png"))),
    Chapter("06_retrieval", reads=_a(B.PAIRS, B.SPLITS, B.RUNS) + ("benchmarks/index.json",),
            writes=_a(B.LIBRARY_DEMO, B.INDEX_DEMO)),
    Chapter("07_replication", reads=_a(B.PAIRS, B.SCAFFOLDS, B.ABLATION),
            writes=_a(B.REPLICATION_RECORDS, B.PROTOCOL_MAP, B.CLAIMS_REPLICATION, _fig("protocol_map.png"))),
    Chapter("08_encoders", reads=_a(B.PAIRS, B.SCAFFOLDS),
            writes=_a(B.ENCODER_RECORDS, B.CLAIMS_ENCODERS, _fig("encoders.png"))),
    Chapter("09_verdict", reads=_a(B.CLAIMS_REPLICATION, B.CLAIMS_ENCODERS)),
)


def by_name(chapters=CHAPTERS) -> dict[str, Chapter]:
    return {c.name: c for c in chapters}


def _covers(out: str, path: str) -> bool:
    """Does output ``out`` (a file or folder) contain ``path``, or the other way round?"""
    return out == path or path.startswith(out.rstrip("/") + "/") or out.startswith(path.rstrip("/") + "/")


def upstream(chapter: Chapter, chapters=CHAPTERS) -> list[Chapter]:
    """The earlier chapters whose outputs ``chapter`` reads, directly or through others, in order."""
    order = [c.name for c in chapters]
    idx = order.index(chapter.name)
    need = {chapter.name}
    for c in reversed(chapters[:idx + 1]):
        if c.name not in need:
            continue
        for earlier in chapters[:order.index(c.name)]:
            if any(_covers(w, r) for w in earlier.writes for r in c.reads):
                need.add(earlier.name)
    return [c for c in chapters[:idx] if c.name in need]


def downstream(chapter: Chapter, chapters=CHAPTERS) -> list[Chapter]:
    """The later chapters that read what ``chapter`` writes, directly or through others, in order."""
    return [c for c in chapters if c is not chapter and chapter in upstream(c, chapters)]


# ---- fingerprints -------------------------------------------------------------------------

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_path(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted); None if missing."""
    if path.is_file():
        return sha256_bytes(path.read_bytes())
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
        return h.hexdigest()
    return None


def source_hashes(source: Path) -> dict[str, str]:
    """``code`` and ``prose`` hashes of a jupytext percent-format source (cells split by ``# %%``).

    A code cell's header line counts as code (it holds its tags, e.g. ``parameters``)."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            markdown = "[markdown]" in line
            cells.append(("prose", []) if markdown else ("code", [line]))
        elif cells:
            cells[-1][1].append(line)
    parts: dict[str, list[str]] = {"code": [], "prose": []}
    for kind, lines in cells:
        parts[kind].append("\n".join(lines).strip())
    return {kind: sha256_bytes("\n\0".join(texts).encode()) for kind, texts in parts.items()}


def resolve(spec: str, root: Path, data: Path | None) -> Path | None:
    if spec == DATA:
        return data
    return root / spec


def environment() -> dict[str, str]:
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIX) and k not in ENV_IGNORED}


def params_hash(params: dict) -> str:
    return sha256_bytes(json.dumps({"params": params, "env": environment(), "runner": RUNNER_VERSION},
                                   sort_keys=True, default=str).encode())


def import_closure(modules: list[str], root: Path) -> list[str]:
    """``modules`` (package files relative to ``root``) and every package module they import,
    at any depth and inside functions too: a chapter's worker processes import lazily what its
    kernel never does (the standardiser in ``prepare``, the grid trainer in replication).
    Importing ``thinbridge.a.b`` runs ``a/__init__.py`` and ``a/b/__init__.py`` or ``a/b.py``:
    each counts."""
    import ast

    seen: set[str] = set()
    todo = [m for m in modules if (root / m).is_file()]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        try:
            tree = ast.parse((root / rel).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        here = _dotted(rel)
        for node in _runtime_nodes(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the file's own package upwards
                    package = here.split(".") if rel.endswith("__init__.py") else here.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join(package + ([base] if base else []))
                if base == "thinbridge" or base.startswith("thinbridge."):
                    names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("thinbridge.")]
            for name in names:
                parts = name.split(".")
                for n in range(1, len(parts) + 1):  # the packages on the way, then the module
                    stem = root.joinpath(*parts[:n])
                    for f in (stem.with_suffix(".py"), stem / "__init__.py"):
                        if f.is_file():
                            todo.append(f.relative_to(root).as_posix())
    return sorted(seen)


def _runtime_nodes(tree):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (imports for editors, never
    run: the package root names its whole API there)."""
    import ast

    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None) if isinstance(child, ast.If) else None
            if test is not None and (getattr(test, "id", None) == "TYPE_CHECKING"
                                     or getattr(test, "attr", None) == "TYPE_CHECKING"):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def _dotted(rel: str) -> str:
    """``thinbridge/data/pairs.py`` -> ``thinbridge.data.pairs`` (a package's ``__init__``: the package)."""
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

def inputs_of(chapter: Chapter, root: Path, params: dict, data: Path | None, modules: list[str]) -> dict:
    """Everything a chapter's outputs can depend on, hashed, as it is now."""
    src = root / "notebooks" / f"{chapter.name}.py"
    reads = {}
    for spec in chapter.reads:
        p = resolve(spec, root, data)
        reads[spec] = hash_path(p) if p is not None else None
    return {
        **source_hashes(src),
        "params": params_hash(params),
        "requirements": hash_path(root / "requirements.txt"),
        "modules": {m: hash_path(root / m) for m in modules},
        "reads": reads,
    }


def outputs_of(chapter: Chapter, root: Path) -> dict:
    out = {spec: hash_path(root / spec) for spec in chapter.writes}
    out[f"book/{chapter.name}.ipynb"] = hash_path(root / "book" / f"{chapter.name}.ipynb")
    return out


# ---- the manifest ---------------------------------------------------------------------------

def load_manifest(root: Path) -> dict:
    path = root / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("chapters", {}) if isinstance(data, dict) else {}


def save_manifest(root: Path, chapters: dict) -> None:
    path = root / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"runner": RUNNER_VERSION, "chapters": chapters}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def record(chapter: Chapter, root: Path, params: dict, data: Path | None, modules: list[str],
           before: tuple[dict, dict] | None = None) -> dict:
    """What to keep in the manifest after ``chapter`` ran: its inputs, the package modules it
    used (those it imported and everything they import) and its outputs.

    ``before`` is ``(inputs_of(..., modules=[]), package_hashes(root))`` taken before the run: the
    inputs are recorded as they were when it started, so an edit made while it ran still makes
    it stale.
    """
    used = import_closure(modules, root)
    if before is None:
        inputs = inputs_of(chapter, root, params, data, used)
    else:
        inputs, package = before
        inputs = {**inputs, "modules": {m: package.get(m, hash_path(root / m)) for m in used}}
    return {"inputs": inputs, "outputs": outputs_of(chapter, root)}


def package_hashes(root: Path) -> dict[str, str | None]:
    """Every package file's hash, taken before a chapter runs (see :func:`record`)."""
    return {p.relative_to(root).as_posix(): hash_path(p) for p in sorted((root / "thinbridge").rglob("*.py"))}


def why_stale(chapter: Chapter, root: Path, manifest: dict, params: dict, data: Path | None) -> list[str]:
    """Why ``chapter`` must run again, as short reasons; empty when its executed notebook is current.

    Looks only at the chapter itself (its inputs as they are now against the manifest); see
    :func:`plan` for what an earlier stale chapter does to later ones.
    """
    old = manifest.get(chapter.name)
    if not old:
        return ["never ran here (no record in artifacts/book_manifest.json)"]
    before = old.get("inputs", {})
    now = inputs_of(chapter, root, params, data, sorted(before.get("modules", {})))
    reasons = []
    if now["code"] != before.get("code"):
        reasons.append("its code changed")
    if now["prose"] != before.get("prose"):
        reasons.append("its text changed")
    if now["params"] != before.get("params"):
        reasons.append("its parameters or THINBRIDGE_* environment changed")
    if now["requirements"] != before.get("requirements"):
        reasons.append("requirements.txt changed")
    changed = [m for m, h in now["modules"].items() if h != before.get("modules", {}).get(m)]
    if changed:
        reasons.append("package code changed: " + ", ".join(m.removeprefix("thinbridge/") for m in changed))
    changed = [s for s, h in now["reads"].items() if h != before.get("reads", {}).get(s)]
    if changed:
        shown = [str(data) if s == DATA else s for s in changed]
        reasons.append("its inputs changed: " + ", ".join(shown))
    outs = outputs_of(chapter, root)
    gone = [s for s, h in outs.items() if h is None]
    if gone:
        reasons.append("missing output: " + ", ".join(gone))
    altered = [s for s, h in outs.items() if h is not None and h != old.get("outputs", {}).get(s)]
    if altered:
        reasons.append("output changed since it ran: " + ", ".join(altered))
    return reasons


def propagates(reasons: list[str]) -> bool:
    """Can these reasons change what the chapter writes? (A text-only edit cannot.)"""
    return any(r != "its text changed" for r in reasons)


def plan(root: Path, manifest: dict, params: dict, data: Path | None, chapters=CHAPTERS,
         force: bool = False) -> dict[str, list[str]]:
    """Every chapter that must run, with why, in order: its own reasons, or an earlier stale
    chapter whose outputs it reads (a chapter re-run only for its text does not count).

    ``params`` are the parameters every chapter runs with, or a mapping from chapter name to
    its own (when some chapters get other parameters than the rest).
    """
    stale: dict[str, list[str]] = {}
    per_chapter = _per_chapter(params, chapters)
    for c in chapters:
        own = params.get(c.name, {}) if per_chapter else params
        reasons = ["forced"] if force else why_stale(c, root, manifest, own, data)
        for up in upstream(c, chapters):
            if up.name in stale and propagates(stale[up.name]):
                reasons = [*reasons, f"depends on {up.name}, which is stale"]
                break
        if reasons:
            stale[c.name] = reasons
    return stale


def _per_chapter(params: dict, chapters) -> bool:
    return bool(params) and all(k in {c.name for c in chapters} for k in params)
