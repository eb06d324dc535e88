"""A chapter opened where the package is not installed (Colab, a bare Jupyter): its first cell.

The executed notebooks start with a hidden cell (scripts/run_notebooks.py, BOOTSTRAP) that, where
``thinbridge`` is not importable, installs it in Colab or stops with one line saying what to run,
instead of a ModuleNotFoundError further down.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bootstrap_names_the_repository_of_config_yml():
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    source = _runner().bootstrap_source()
    assert f'"{repo["url"]}", "{repo.get("branch", "main")}"' in source
    compile(source, "bootstrap", "exec")


@pytest.mark.parametrize("nb", sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_executed_notebook_starts_with_the_current_bootstrap(nb):
    cells = nbformat.read(nb, as_version=4).cells
    first = next(c for c in cells if c.cell_type == "code")
    assert "thinbridge-bootstrap" in first.metadata.get("tags", []), f"{nb.name}: re-run make book"
    assert "remove-cell" in first.metadata["tags"]
    assert first.source == _runner().bootstrap_source(), f"{nb.name}: stale bootstrap cell; re-run make book"
    assert not first.get("outputs"), f"{nb.name}: the bootstrap printed something where thinbridge is installed"


@pytest.mark.slow
def test_a_chapter_without_the_package_stops_with_one_line(tmp_path, monkeypatch):
    """Execute chapter 9 in a kernel whose Python cannot import thinbridge (site's .pth files,
    which make the editable install importable, are not read: ``python -S``)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    site_packages = sysconfig.get_paths()["purelib"]
    kernel = tmp_path / "kernels" / "no-thinbridge"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"PYTHONPATH": site_packages},
        "display_name": "Python without thinbridge", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    staged = work / "09_verdict.ipynb"
    _runner().stage(ROOT / "notebooks" / "09_verdict.py", staged)
    out = work / "out.ipynb"
    with pytest.raises(PapermillExecutionError) as err:
        pm.execute_notebook(str(staged), str(out), kernel_name="no-thinbridge", cwd=str(work),
                            progress_bar=False, log_output=False)
    assert err.value.ename == "SystemExit"
    message = err.value.evalue
    assert "thinbridge is not installed" in message and "make setup" in message
    assert "\n" not in message.strip()
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "SystemExit"
    assert "ModuleNotFoundError" not in json.dumps(executed.cells)


def test_the_repository_url_is_set_in_one_place():
    """_config.yml names the repository; the launch buttons, the bootstrap cell and CITATION.cff
    follow it (a fork changes that one line, then CITATION.cff, which this test names)."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["repository-code"] == url, "CITATION.cff's repository-code is not _config.yml's repository url"
