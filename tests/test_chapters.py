"""Which chapters ``make book`` re-executes (thinbridge.book.chapters): declarations and the plan.

Fast and offline: a small copy of the project (the real notebook sources, fake package
modules and artifacts) in a temporary folder; nothing is executed.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from thinbridge.book import chapters as C

import thinbridge.book as book  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NAMES = [c.name for c in C.CHAPTERS]
BY = C.by_name()
# which package files each chapter "imported" in the fake project
MODULES = {n: ["thinbridge/book/__init__.py", "thinbridge/data/pairs.py"] for n in NAMES}
MODULES["04_ablations"] = [*MODULES["04_ablations"], "thinbridge/training/grid.py"]
PARAMS = {"profile": "full"}


def names(chapters) -> list[str]:
    return [c.name for c in chapters]


def test_every_notebook_is_declared_in_order():
    sources = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert NAMES == sources


def test_dependencies_follow_the_declared_reads_and_writes():
    assert names(C.upstream(BY["01_data"])) == []
    assert names(C.upstream(BY["05_figures"])) == ["01_data", "02_splits", "03_training", "04_ablations"]
    assert names(C.upstream(BY["09_verdict"])) == ["01_data", "02_splits", "04_ablations", "07_replication",
                                                  "08_encoders"]
    assert names(C.downstream(BY["04_ablations"])) == ["05_figures", "07_replication", "09_verdict"]
    assert names(C.downstream(BY["09_verdict"])) == []


@pytest.mark.parametrize("name", NAMES)
def test_what_a_notebook_writes_under_artifacts_is_declared(name):
    """Every artifact a chapter names in a write call is covered by its ``writes``."""
    src = (ROOT / "notebooks" / f"{name}.py").read_text()
    written = set()
    for m in re.finditer(r'paths\.figure\("([^"]+)"\)', src):
        written.add(f"artifacts/figures/{m[1]}")
    for m in re.finditer(r'(?:to_csv|save_json)\([^)]*paths\.(artifacts|runs) / "([^"]+)"', src):
        written.add(f"artifacts/{'' if m[1] == 'artifacts' else 'runs/'}{m[2]}")
    for m in re.finditer(r'paths\.artifact\(\s*book\.([A-Z_0-9]+)\s*\)', src):  # named through thinbridge.book:
        path = f"artifacts/{getattr(book, m[1])}"  # read or written, the chapter declares it
        assert any(C._covers(d, path) for d in BY[name].writes + BY[name].reads), \
            f"{name} uses {path} but thinbridge/book/chapters.py declares it neither read nor written"
    assert not re.search(r'paths\.(artifacts|runs|data) / "', src), \
        f"{name} spells an artifact's name; use paths.artifact(book.NAME) (thinbridge/book/__init__.py)"
    for path in written:
        assert any(C._covers(w, path) and len(w) <= len(path) for w in BY[name].writes), \
            f"{name} writes {path} but thinbridge/book/chapters.py does not declare it"


@pytest.fixture
def project(tmp_path):
    """A fake checkout where every chapter has run: sources, modules, data, outputs, manifest."""
    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    for n in NAMES:
        shutil.copy(ROOT / "notebooks" / f"{n}.py", root / "notebooks")
    (root / "requirements.txt").write_text("numpy==2.4.6\n")
    (root / "thinbridge").mkdir()
    for m in {m for ms in MODULES.values() for m in ms}:
        (root / m).parent.mkdir(parents=True, exist_ok=True)
        (root / m).write_text(f"# {m}\n")
    data = root / "data.tsv"
    data.write_text("molecule\ttext\n")
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "index.json").write_text("{}\n")
    (root / "book").mkdir()
    manifest = {}
    for c in C.CHAPTERS:  # "run" each chapter: write its outputs, then record
        for w in c.writes:
            p = root / w
            if Path(w).suffix:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"{w} from {c.name}\n")
            else:
                p.mkdir(parents=True, exist_ok=True)
                (p / "one.json").write_text(f"{w} from {c.name}\n")
        (root / "book" / f"{c.name}.ipynb").write_text("{}")
        manifest[c.name] = C.record(c, root, PARAMS, data, MODULES[c.name])
    C.save_manifest(root, manifest)
    return root, data


def stale(root, data, params=PARAMS):
    return list(C.plan(root, C.load_manifest(root), params, data))


def with_dependents(name):
    return [name, *names(C.downstream(BY[name]))]


def test_nothing_is_stale_after_a_full_run(project):
    root, data = project
    assert stale(root, data) == []
    assert list(C.plan(root, C.load_manifest(root), PARAMS, data, force=True)) == NAMES


def test_no_manifest_runs_everything(project):
    root, data = project
    (root / C.MANIFEST).unlink()
    assert stale(root, data) == NAMES


def test_a_package_file_marks_its_chapter_and_exactly_its_dependents(project):
    root, data = project
    (root / "thinbridge" / "training" / "grid.py").write_text("# edited\n")
    assert stale(root, data) == with_dependents("04_ablations") == [
        "04_ablations", "05_figures", "07_replication", "09_verdict"]
    why = C.plan(root, C.load_manifest(root), PARAMS, data)
    assert why["04_ablations"] == ["package code changed: training/grid.py"]
    assert why["05_figures"] == ["depends on 04_ablations, which is stale"]


def test_a_parameter_of_chapter_4_marks_it_and_exactly_its_dependents(project):
    root, data = project
    params = {n: dict(PARAMS) for n in NAMES}
    params["04_ablations"]["seeds"] = [0]
    assert stale(root, data, params) == with_dependents("04_ablations")


def test_the_data_marks_chapter_1_and_everything_that_reads_it(project):
    root, data = project
    data.write_text("molecule\ttext\nCCO\tethanol\n")
    assert stale(root, data) == ["01_data", *names(C.downstream(BY["01_data"]))] == NAMES


def test_requirements_mark_every_chapter(project):
    root, data = project
    (root / "requirements.txt").write_text("numpy==2.4.7\n")
    assert stale(root, data) == NAMES


def test_a_code_edit_marks_the_chapter_and_its_dependents(project):
    root, data = project
    src = root / "notebooks" / "04_ablations.py"
    src.write_text(src.read_text().replace("seeds = [0, 1, 2]", "seeds = [0, 1]"))
    assert stale(root, data) == with_dependents("04_ablations")


@pytest.mark.parametrize("name", ["09_verdict", "04_ablations", "01_data"])
def test_a_prose_only_edit_marks_only_that_chapter(project, name):
    root, data = project
    src = root / "notebooks" / f"{name}.py"
    text = src.read_text()
    first_md = text.index("# %% [markdown]\n# ") + len("# %% [markdown]\n# ")
    src.write_text(text[:first_md] + "A new word. " + text[first_md:])
    why = C.plan(root, C.load_manifest(root), PARAMS, data)
    assert list(why) == [name]
    assert why[name] == ["its text changed"]


def test_a_missing_or_altered_output_reruns_its_chapter_and_dependents(project):
    root, data = project
    (root / "artifacts" / "data" / "scaffolds.tsv").unlink()
    assert stale(root, data) == with_dependents("02_splits")
    why = C.plan(root, C.load_manifest(root), PARAMS, data)
    assert why["02_splits"] == ["missing output: artifacts/data/scaffolds.tsv"]


def test_an_upstream_rerun_with_the_same_outputs_leaves_readers_fresh(project):
    """What the runner checks before executing a chapter planned only for its upstream."""
    root, data = project
    manifest = C.load_manifest(root)
    # 04 re-ran (its record rewritten) and wrote the same bytes: 05 reads nothing new
    manifest["04_ablations"] = C.record(BY["04_ablations"], root, PARAMS, data, MODULES["04_ablations"])
    assert C.why_stale(BY["05_figures"], root, manifest, PARAMS, data) == []
    # ... and when it wrote something else, 05 is stale for that reason
    (root / "artifacts" / "ablation.tsv").write_text("other\n")
    manifest["04_ablations"] = C.record(BY["04_ablations"], root, PARAMS, data, MODULES["04_ablations"])
    assert C.why_stale(BY["05_figures"], root, manifest, PARAMS, data) == [
        "its inputs changed: artifacts/ablation.tsv"]


def test_source_hashes_split_code_from_prose(tmp_path):
    a = tmp_path / "a.py"
    a.write_text('# %% [markdown]\n# # Title\n# Text.\n\n# %% tags=["parameters"]\nx = 1\n\n# %%\nprint(x)\n')
    b = tmp_path / "b.py"
    b.write_text('# %% [markdown]\n# # Title\n# Other text.\n\n# %% tags=["parameters"]\nx = 1\n\n# %%\nprint(x)\n')
    c = tmp_path / "c.py"
    c.write_text('# %% [markdown]\n# # Title\n# Text.\n\n# %% tags=["parameters"]\nx = 2\n\n# %%\nprint(x)\n')
    ha, hb, hc = (C.source_hashes(p) for p in (a, b, c))
    assert ha["code"] == hb["code"] and ha["prose"] != hb["prose"]
    assert ha["code"] != hc["code"] and ha["prose"] == hc["prose"]


def test_a_chapter_tracks_what_its_modules_import_even_inside_functions():
    """Worker processes import lazily what the kernel never does: the standardiser behind
    prepare (chapter 1), the grid trainer behind replication (chapters 7 and 8)."""
    assert "thinbridge/chem/parent.py" in C.import_closure(["thinbridge/data/pairs.py"], ROOT)
    got = C.import_closure(["thinbridge/training/replicates.py"], ROOT)
    assert "thinbridge/training/grid.py" in got
    assert "thinbridge/training/__init__.py" in got and "thinbridge/__init__.py" in got  # packages on the way run too
    assert C.import_closure(["thinbridge/missing.py"], ROOT) == []


def test_imports_for_type_checkers_are_not_a_chapters_code(tmp_path):
    """``if TYPE_CHECKING:`` imports never run: the package root lists its whole API there, and
    counting them would make every edit anywhere re-run every chapter."""
    pkg = tmp_path / "thinbridge"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from typing import TYPE_CHECKING\nfrom thinbridge.a import used\n"
                                     "if TYPE_CHECKING:\n    from thinbridge.a import listed\nelse:\n    pass\n")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "used.py").write_text("")
    (pkg / "a" / "listed.py").write_text("")
    got = C.import_closure(["thinbridge/__init__.py"], tmp_path)
    assert "thinbridge/a/used.py" in got and "thinbridge/a/listed.py" not in got
