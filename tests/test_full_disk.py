"""A full disk during ``prepare``, ``train`` and ``index``: one line, no partial file that passes as
complete, an earlier good result intact.

The file system is a small tmpfs mounted by the test (root only; skipped with the reason where it
cannot be mounted), filled to a few kilobytes before the command runs.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import generated_rows, small_rows, write_library, write_table

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "THINBRIDGE_PROGRESS": "0"}
pytestmark = pytest.mark.slow


def tb(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thinbridge.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=ENV)


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    """A 48 MiB tmpfs, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mnt = tmp_path_factory.mktemp("small_disk")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip() or res.returncode}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


class Full:
    """The disk filled up to ``leave`` bytes for the block."""

    def __init__(self, mnt: Path, leave: int = 8192):
        self.filler, self.leave = mnt / "filler.bin", leave

    def __enter__(self):
        block = b"\0" * (1 << 20)
        with open(self.filler, "wb", buffering=0) as fh:
            while True:
                try:
                    fh.write(block)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    if len(block) == 4096:
                        break
                    block = block[: len(block) // 2]
        size = self.filler.stat().st_size
        os.truncate(self.filler, max(0, size - self.leave))
        return self

    def __exit__(self, *exc):
        self.filler.unlink()


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def full_disk_error(res, mnt: Path, folder: Path) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-2000:])
    err = res.stderr
    assert "Traceback" not in err and err.startswith("thinbridge: error: ") and err.count("\n") == 1, err
    assert f"no space left on {mnt} while writing {folder}" in err, err
    return err


def nothing_left_over(mnt: Path, *keep: str) -> None:
    """No temporary folder, lock file or ``.part`` beside or inside the outputs."""
    assert sorted(p.name for p in mnt.iterdir()) == sorted(keep)
    assert not [p for p in mnt.rglob("*") if p.name.endswith((".part", ".tmp"))]


def test_prepare_on_a_full_disk(small_disk, tmp_path):
    out = small_disk / "D"
    assert tb("prepare", "--input", write_table(tmp_path / "small.tsv", small_rows()), "--out", out, "-q").returncode == 0
    good = snapshot(out)
    big = write_table(tmp_path / "big.tsv", generated_rows(40, 3))
    with Full(small_disk):
        err = full_disk_error(tb("prepare", "--input", big, "--out", out, "-q"), small_disk, out)
        assert f"nothing in {out} was changed" in err
        first = small_disk / "D2"  # nothing there before: nothing is left that looks like a result
        full_disk_error(tb("prepare", "--input", big, "--out", first, "-q"), small_disk, first)
    assert snapshot(out) == good
    nothing_left_over(small_disk, "D")
    shutil.rmtree(out)


def test_train_on_a_full_disk(small_disk, generated_prepared):
    out = small_disk / "R"
    args = ["train", "--data", generated_prepared, "--epochs", "2", "--n-boot", "0", "-q"]
    assert tb(*args, "--out", out).returncode == 0
    good = snapshot(out)
    with Full(small_disk, leave=1 << 20):  # room for the smaller files, not for the weights
        full_disk_error(tb(*args, "--out", out, "--seed", "1"), small_disk, out)
    assert snapshot(out) == good
    nothing_left_over(small_disk, "R")
    assert tb("query", out, "carbonic anhydrase inhibitor", "-q").returncode == 0
    shutil.rmtree(out)


def test_index_on_a_full_disk(small_disk, bridges, tmp_path):
    out = small_disk / "I"
    run = bridges["run"]
    assert tb("index", run, "--smiles-file", *write_library(tmp_path / "a", 30), "--out", out, "-q").returncode == 0
    good = snapshot(out)
    lib = tmp_path / "big.smi"
    lib.write_text("".join(f"{r['canonical_smiles']} m{i}\n" for i, r in enumerate(generated_rows(40, 3) * 20)))
    with Full(small_disk, leave=64 << 10):
        full_disk_error(tb("index", run, "--smiles-file", lib, "--out", out, "-q"), small_disk, out)
    assert snapshot(out) == good
    nothing_left_over(small_disk, "I")
    assert tb("query", run, "kinase inhibitor", "--index", out, "-q").returncode == 0
    shutil.rmtree(out)
