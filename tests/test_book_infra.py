"""The book's plumbing: table of contents, configuration, nbval sanitizing, the runner's clean-up.

Fast and offline; nothing here executes a notebook or starts a browser.
"""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


def test_toc_pages_exist_or_have_notebook_sources():
    for entry in _toc_files():
        md = ROOT / f"{entry}.md"
        stem = Path(entry).name
        if md.is_file():
            continue
        assert re.fullmatch(r"\d\d_\w+", stem), f"_toc.yml: {entry} is neither a .md page nor NN_name"
        assert (ROOT / "notebooks" / f"{stem}.py").is_file(), f"_toc.yml: {entry} has no source notebooks/{stem}.py"


def test_every_notebook_source_is_in_the_toc():
    in_toc = {Path(e).name for e in _toc_files()}
    for src in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        assert src.stem in in_toc, f"notebooks/{src.name} is not a chapter of _toc.yml"


def test_config_never_executes_and_builds_only_toc_files():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["only_build_toc_files"] is True
    for pattern in (".venv", "artifacts", "_build", "notebooks", "tests"):
        assert pattern in cfg["exclude_patterns"]
    assert "sphinx_thebe" not in cfg["sphinx"]["config"]["extensions"]


def _sanitize(text: str) -> str:
    # the same parser nbval uses for --nbval-sanitize-with
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((ROOT / ".nbval_sanitize.cfg").read_text())
    assert patterns, "no regex/replace pairs found in .nbval_sanitize.cfg"
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize("volatile, expected", [
    ("/tmp/ipykernel_4242/1234567.py:9: UserWarning: x", "<CELL>: UserWarning: x"),
    ("/work/main/.venv/lib/python3.11/site-packages/a.py:12: FutureWarning", "<PATH>: FutureWarning"),
    ("Batches: 100%|##########| 3/3 [00:01<00:00,  2.41it/s]", "Batches: <PROGRESS>"),
    ("trained in 12.3 s (0:00:12)", "trained in <TIME> (<TIME>)"),
    ("Wall time: 450 ms", "Wall time: <TIME>"),
    ("<Figure at 0x7f3a2c1b9d30>", "<Figure at 0x<ADDR>>"),
    ("run 2025-09-30T12:34:56", "run <DATE>"),
])
def test_sanitize_blanks_volatile_text(volatile, expected):
    assert _sanitize(volatile) == expected


@pytest.mark.parametrize("result", [
    "R@1 0.150  R@5 0.412  MRR 0.228  n_queries 312",
    "3,030 pairs, 738 targets, T=0.07, m=0.15, d=256, 2048 bits",
    "CHEMBL25 data/chembl_moa/chembl_moa.tsv sha256 2d0686cf",
    "623,104 trained parameters; 5 seeds; median rank 3",
])
def test_sanitize_leaves_results_alone(result):
    assert _sanitize(result) == result


def test_runner_strips_volatile_metadata(tmp_path, monkeypatch):
    rn = _load_script("run_notebooks")
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"profile": "fast"}, "start_time": "t0",
                                "end_time": "t1", "duration": 1.0, "input_path": "/tmp/x.ipynb"}
    nb.metadata["jupytext"] = {"text_representation": {"jupytext_version": "1.0"}}
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.metadata["papermill"] = {"start_time": "t0", "duration": 0.1}
    cell.metadata["execution"] = {"iopub.status.busy": "t0"}
    injected = nbformat.v4.new_code_cell("# Parameters\nprofile = 'fast'")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), injected, cell, nbformat.v4.new_code_cell("print(1)")]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)

    assert rn.clean(path) == []
    once = path.read_text()
    out = nbformat.read(path, as_version=4)
    assert out.metadata["papermill"] == {"parameters": {"profile": "fast"}}
    assert "jupytext" not in out.metadata
    assert out.metadata["kernelspec"]["name"] == "python3"
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in out.cells)
    assert out.cells[1].metadata["tags"] == ["injected-parameters", "remove-cell"]  # kept, not on the page
    ids = [c["id"] for c in out.cells]
    assert len(set(ids)) == len(ids)  # two identical cells still get distinct ids
    rn.clean(path)
    assert path.read_text() == once  # stable: cleaning twice changes nothing


def test_runner_merges_stream_chunks():
    rn = _load_script("run_notebooks")
    outs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
            nbformat.v4.new_output("stream", name="stdout", text="b\n"),
            nbformat.v4.new_output("stream", name="stderr", text="w\n"),
            nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    merged = rn.merge_streams(outs)
    assert [(o["name"], o["text"]) for o in merged] == [("stdout", "a\nb\n"), ("stderr", "w\n"), ("stdout", "c\n")]


def test_runner_and_nbval_agree_on_kernel_cell_files():
    from nbval.plugin import get_sanitize_patterns

    rn = _load_script("run_notebooks")
    patterns = dict(get_sanitize_patterns((ROOT / ".nbval_sanitize.cfg").read_text()))
    assert patterns.get(rn.IPYKERNEL_FILE.pattern) == "<CELL>"


def test_runner_flags_local_paths_in_outputs(tmp_path):
    rn = _load_script("run_notebooks")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(p)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"saved {rn.ROOT}/artifacts/x\n")]
    nb.cells = [cell]
    path = tmp_path / "02_y.ipynb"
    nbformat.write(nb, path)
    warnings = rn.clean(path)
    assert len(warnings) == 1 and "absolute path" in warnings[0]


def test_browser_check_finds_pages_and_missing_files(tmp_path):
    cb = _load_script("check_browser")
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    for name in ("index.html", "search.html", "genindex.html", "book/a.html", "_static/x.html"):
        (tmp_path / name).write_text("<html></html>")
    pages = [p.relative_to(tmp_path).as_posix() for p in cb.find_pages(tmp_path)]
    assert pages == ["index.html", "book/a.html"]
    missing = cb.broken_local_refs(tmp_path, tmp_path / "book" / "a.html",
                                   ["../index.html#top", "b.html", "https://x.org/y", "#here", "../_static/x.html"])
    assert missing == ["b.html"]


def test_ci_entry_point_is_executable_bash():
    run = ROOT / ".ci" / "run"
    assert os.access(run, os.X_OK)
    text = run.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert "make setup" in text and "make test" in text
