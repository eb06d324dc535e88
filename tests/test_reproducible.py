"""The same numbers whatever kernels and threads the environment asks for.

Each case runs ``thinbridge train`` (encode texts and fingerprints into a fresh cache, train,
score with bootstrap intervals and both baselines) in a subprocess, from a shell environment
that asks for other CPU kernels or thread counts, and compares the frozen features (the
sha256 the cache stores of each feature array) and ``metrics.json`` byte for byte. Without
:mod:`thinbridge._util.numerics` these differ: torch picks AVX-512 kernels where the CPU has
them, MKL splits matrix products across threads, OpenBLAS picks its kernels per CPU model.

One machine cannot be two CPUs, so the cases stand in for them: they request, through the
same variables a different machine would change, the kernel families and thread counts that
another CPU would pick (``MKL_ENABLE_INSTRUCTIONS=AVX2`` is what MKL does on an AVX2-only
CPU, and thinbridge does not override it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinbridge._util import numerics

CASES = {
    "as configured": {},
    "two threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"},
    "default torch kernels, other BLAS cores": {
        "ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "Sandybridge", "MKL_CBWR": "AUTO",
        "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "an AVX2-only CPU's MKL": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "NPY_DISABLE_CPU_FEATURES": ""},
}
TRAIN = ["--epochs", "4", "--patience", "4", "--batch-size", "16", "--n-boot", "50", "-q"]


def _train(data: Path, tmp: Path, name: str, extra_env: dict) -> tuple[bytes, dict]:
    env = {k: v for k, v in os.environ.items() if k not in numerics.ENV and k != numerics.MODE_ENV}
    env.update(extra_env)
    run, cache = tmp / name / "run", tmp / name / "cache"
    cmd = [sys.executable, "-m", "thinbridge.cli", "train", "--data", str(data), "--out", str(run),
           "--cache", str(cache), *TRAIN]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    from safetensors import safe_open

    features = {}
    for f in sorted(cache.glob("*.safetensors")):
        with safe_open(str(f), framework="numpy") as fh:
            features[f.name] = fh.metadata()["features_sha256"]
    return (run / "metrics.json").read_bytes(), features


@pytest.mark.slow
def test_same_features_and_metrics_under_other_kernels_and_threads(generated_prepared, tmp_path):
    results = {name: _train(generated_prepared, tmp_path, f"case{i}", env)
               for i, (name, env) in enumerate(CASES.items())}
    ref_metrics, ref_features = results["as configured"]
    assert len(ref_features) == 2, ref_features  # one drug and one text feature file
    assert json.loads(ref_metrics)["test"]["text_to_drug"]["global"]["n_queries"] > 0
    for name, (metrics, features) in results.items():
        assert features == ref_features, f"frozen features differ under {name!r}"
        assert metrics == ref_metrics, f"metrics.json differs under {name!r}"


def test_configure_overrides_the_environment_and_native_opts_out(monkeypatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    numerics.configure(warn=False)
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2" and os.environ["OMP_NUM_THREADS"] == "1"
    assert numerics.describe()["profile"] == numerics.PROFILE
    monkeypatch.setenv(numerics.MODE_ENV, "native")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    numerics.configure()
    assert os.environ["OMP_NUM_THREADS"] == "8"
    assert numerics.describe()["profile"] == "native"


def test_a_late_import_is_told(tmp_path):
    """torch loaded before thinbridge, from an environment that asked for other kernels: a warning."""
    env = {k: v for k, v in os.environ.items() if k not in numerics.ENV}
    env["ATEN_CPU_CAPABILITY"] = "default"
    code = "import torch, warnings; warnings.simplefilter('always'); import thinbridge"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "torch loaded before thinbridge" in res.stderr


def test_shell_exports_name_every_variable():
    out = numerics.shell_exports()
    assert all(f"export {k}=" in out for k in numerics.ENV)
