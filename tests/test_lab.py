"""`make lab` and the Binder set-up.

* ``test_lab_serves_the_chapter_sources_as_notebooks`` starts JupyterLab as `make lab` does
  (``python -m jupyterlab --config=jupyter_lab_config.py`` from the repository root), on a free
  port of 127.0.0.1 with a known token and its own runtime, config and settings folders, and
  asks it over HTTP for a chapter's source (served as a notebook by jupytext), the JupyterLab
  page and the default-viewer setting. The server is stopped (its whole process group) in any
  case. Nothing leaves 127.0.0.1.
* The other tests read the files in ``binder/`` (repo2docker cannot run here): they install the
  pins of requirements.txt, torch's CPU build of the same release, and the package.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
# the command of `make lab` (Makefile), run from the repository root; the test checks the Makefile says the same
LAB_COMMAND = ["-m", "jupyterlab", "--config=jupyter_lab_config.py"]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
START_TIMEOUT = 90  # seconds for the server to answer (a cold start on 2 busy cores takes ~10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, timeout: float = 30) -> tuple[int, str, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (the server and its kernels), then SIGKILL."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    proc.wait(timeout=10)


def test_make_lab_runs_the_command_this_test_runs():
    recipe = ROOT.joinpath("Makefile").read_text(encoding="utf-8")
    assert re.search(r"^lab:.*## ", recipe, re.MULTILINE), "make lab is missing or not listed by make help"
    assert "$(PY) " + " ".join(LAB_COMMAND) in recipe
    assert re.search(r"^\.PHONY:.*\blab\b", recipe, re.MULTILINE)


@pytest.mark.slow
def test_lab_serves_the_chapter_sources_as_notebooks(tmp_path):
    for module in ("jupyterlab", "jupytext"):
        pytest.importorskip(module, reason=f"{module} is not installed (make setup installs requirements.txt)")
    port, token = _free_port(), "thinbridge-test-token"
    env = dict(os.environ)
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("JUPYTERLAB_SETTINGS_DIR", "user-settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[var] = str(tmp_path / sub)  # nothing read from or written to the user's own Jupyter folders
    log_path = tmp_path / "lab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *LAB_COMMAND, f"--port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", "--no-browser"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"the server exited ({proc.returncode}):\n{log_path.read_text()}"
            try:
                status, _, body = _get(f"{base}/api/status", token, timeout=5)
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"no answer in {START_TIMEOUT} s:\n{log_path.read_text()}"
            time.sleep(0.5)
        assert "started" in json.loads(body)

        # the chapter's jupytext source, as a notebook with its cells
        status, _, body = _get(f"{base}/api/contents/notebooks/03_training.py?type=notebook&content=1", token)
        model = json.loads(body)
        assert status == 200 and model["type"] == "notebook" and model["path"] == "notebooks/03_training.py"
        nb = model["content"]
        assert nb["nbformat"] == 4
        assert nb["metadata"]["jupytext"]["text_representation"]["format_name"] == "percent"
        kinds = [c["cell_type"] for c in nb["cells"]]
        assert kinds.count("markdown") >= 2 and kinds.count("code") >= 2
        assert any("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
        assert "# Training the bridge" in nb["cells"][0]["source"]

        # the JupyterLab page
        status, ctype, body = _get(f"{base}/lab", token)
        assert status == 200 and ctype.startswith("text/html") and "JupyterLab" in body

        # a double click opens a .py file as a notebook
        status, _, body = _get(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin", token)
        viewers = json.loads(body)["schema"]["properties"]["defaultViewers"]["default"]
        assert viewers.get("python") == "Jupytext Notebook"

        # on 127.0.0.1 only, the URL printed with the token
        assert f"http://127.0.0.1:{port}/lab?token=" in log_path.read_text()
    finally:
        _stop(proc)


# ------------------------------------------------------------------ Binder (repo2docker)

def _pins(path: Path) -> dict[str, str]:
    """requirements.txt: one `name==version` a line, nothing else."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==" and not req.extras and req.marker is None, line
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_requirements_pin_jupyterlab_and_jupytext():
    pins = _pins(ROOT / "requirements.txt")
    assert {"jupyterlab", "jupytext", "jupyter-server", "torch"} <= set(pins)


def test_binder_runtime_is_python_3_11():
    assert BINDER.joinpath("runtime.txt").read_text(encoding="utf-8").strip() == "python-3.11"


def test_binder_installs_the_pinned_requirements_with_cpu_torch():
    pins = _pins(ROOT / "requirements.txt")
    includes, indexes, extra = [], [], {}
    for raw in BINDER.joinpath("requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            includes.append((BINDER / line.split(None, 1)[1]).resolve())
        elif line.startswith("--extra-index-url "):
            indexes.append(line.split(None, 1)[1])
        else:
            assert not line.startswith("-"), f"unexpected option in binder/requirements.txt: {line}"
            req = Requirement(line)
            (spec,) = req.specifier
            extra[canonicalize_name(req.name)] = spec.version
    assert includes == [ROOT / "requirements.txt"], "binder/requirements.txt should include ../requirements.txt"
    assert indexes == [CPU_INDEX]  # an extra index: PyPI stays the main one
    # beside the include, only torch, as the CPU build of the pinned release
    assert extra == {"torch": pins["torch"] + "+cpu"}


def test_binder_postbuild_installs_only_the_package():
    post = BINDER / "postBuild"
    text = post.read_text(encoding="utf-8")
    assert os.access(post, os.X_OK) and text.startswith("#!/bin/bash\n")
    assert re.search(r"^set -e", text, re.MULTILINE), "postBuild should stop at the first error"
    installs = [line.split() for line in text.splitlines()
                if re.search(r"\bpip install\b", line) and not line.lstrip().startswith("#")]
    assert len(installs) == 1
    args = installs[0][installs[0].index("install") + 1:]
    assert "--no-deps" in args and [a for a in args if not a.startswith("-")] == ["."]
