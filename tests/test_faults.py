"""Faults, third pass: a rebuild never destroys a good index, one writer per output folder, a bad
notebook parameter is refused, a full disk is survived.

Commands run as a user runs them (a subprocess each, ``PYTHONPATH`` naming this checkout); kills
wait until the build has written something instead of sleeping a fixed time. The full-disk cases
mount a small tmpfs (as root; skipped with the reason otherwise).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import generated_rows, write_library, write_table
from thinbridge._util.errors import UserError
from thinbridge._util.outputs import exclusive, lock_path, replacing_folder

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "THINBRIDGE_PROGRESS": "0"}


def tb(*args, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thinbridge.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=ENV)


def tb_start(*args) -> subprocess.Popen:
    """A command in its own process group (so a kill -9 takes its workers too, as power loss would)."""
    return subprocess.Popen([sys.executable, "-m", "thinbridge.cli", *map(str, args)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def one_line_error(res, *words: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-1500:])
    err = res.stderr
    assert "Traceback" not in err and err.startswith("thinbridge: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    return err


def ok(res):
    assert res.returncode == 0, (res.stdout[-500:], res.stderr[-1500:])
    return res


def wait_until(cond, proc=None, limit: float = 120) -> None:
    t0 = time.monotonic()
    while not cond():
        assert proc is None or proc.poll() is None, "the command ended before it could be interrupted: " + (
            proc.communicate()[1][-1000:] if proc else "")
        assert time.monotonic() - t0 < limit, "nothing was written in time"
        time.sleep(0.2)


def written_beside(out: Path) -> bool:
    """Whether a build of ``out`` has written a file of some size (in its temporary folder or its shards)."""
    places = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.new-")] + [out / "shards"]
    return any(f.is_file() and f.stat().st_size and f.suffix != ".json" for p in places if p.is_dir()
               for f in p.rglob("*"))


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def big_library(path: Path, copies: int = 2000) -> Path:
    smiles = [r["canonical_smiles"] for r in generated_rows(40, 3)] * copies  # minutes of work: never done first
    path.write_text("\n".join(f"{s} m{i}" for i, s in enumerate(smiles)) + "\n")
    return path


def query(run: Path, index: Path) -> list:
    res = ok(tb("query", run, "carbonic anhydrase inhibitor", "--index", index, "--top", "5", "--json", "-q"))
    return json.loads(res.stdout)


# ---------------------------------------------------------------------------------- the folder mechanics
def test_replacing_folder_keeps_foreign_entries_and_recovers_a_killed_swap(tmp_path):
    out = tmp_path / "out"
    with replacing_folder(out, ["a.txt", "b.txt"]) as stage:
        (stage / "a.txt").write_text("1")
        (stage / "b.txt").write_text("1")
    (out / "notes.md").write_text("mine")
    (out / "cache").mkdir()
    with pytest.raises(RuntimeError):
        with replacing_folder(out, ["a.txt", "b.txt"]) as stage:
            (stage / "a.txt").write_text("half")
            raise RuntimeError("stopped")
    assert snapshot(out) == {"a.txt": b"1", "b.txt": b"1", "notes.md": b"mine"}
    with replacing_folder(out, ["a.txt", "b.txt"]) as stage:
        (stage / "a.txt").write_text("2")  # b.txt is no longer written: it goes
    assert snapshot(out) == {"a.txt": b"2", "notes.md": b"mine"} and (out / "cache").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder, no lock file
    # a swap killed after the exchange: the old folder (with a foreign file) is left beside the new one
    left = tmp_path / ".out.new-999999"
    left.mkdir()
    (left / "a.txt").write_text("old")
    (left / "diary.txt").write_text("keep me")
    with replacing_folder(out, ["a.txt"]) as stage:
        (stage / "a.txt").write_text("3")
    assert snapshot(out) == {"a.txt": b"3", "diary.txt": b"keep me", "notes.md": b"mine"}
    assert not left.exists()


def test_a_second_writer_in_this_process_is_reentrant_and_another_is_refused(tmp_path):
    out = tmp_path / "r"
    with exclusive(lock_path(out), out, "first"):
        with exclusive(lock_path(out), out, "again"):  # the same process: re-entrant
            pass
        code = ("import sys; from thinbridge._util.outputs import exclusive, lock_path\n"
                "try:\n    exclusive(lock_path(sys.argv[1]), sys.argv[1], 'second').__enter__()\n"
                "except Exception as e:\n    print(e)")
        holder = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=ENV)
        assert f"{out} is being written by process {os.getpid()} (first)" in holder.stdout, holder
    assert not lock_path(out).exists()


# ---------------------------------------------------------------------------------- item 1: rebuilds
@pytest.mark.slow
@pytest.mark.parametrize("engine", [["--processes", "2"], ["--workers", "1"]], ids=["processes", "dask"])
def test_a_rebuild_killed_mid_way_leaves_the_old_index(tmp_path, bridges, engine):
    run, index = bridges["run"], tmp_path / "I"
    ok(tb("index", run, "--smiles-file", *write_library(tmp_path / "lib", 60), "--out", index, "-q"))
    before, files = query(run, index), snapshot(index)
    proc = tb_start("index", run, "--smiles-file", big_library(tmp_path / "big.smi"), "--out", index,
                    "--chunk-size", "512", "-q", *engine)
    try:
        wait_until(lambda: written_beside(index), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9, workers and all
        proc.communicate(timeout=60)
    assert query(run, index) == before
    assert {k: v for k, v in snapshot(index).items() if not k.startswith("shards/")} == files
    if engine[0] == "--workers":
        assert list((index / "shards").glob("*.safetensors"))  # a Dask build keeps its finished shards
    # the next build puts right what the killed one left, and completes
    ok(tb("index", run, "--smiles-file", *write_library(tmp_path / "lib2", 30), "--out", index, "-q"))
    assert query(run, index) != before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# ---------------------------------------------------------------------------------- item 2: one writer
@pytest.mark.slow
def test_two_index_builds_of_one_folder_the_second_fails_at_once(tmp_path, bridges):
    run, index = bridges["run"], tmp_path / "I"
    first = tb_start("index", run, "--smiles-file", big_library(tmp_path / "big.smi"), "--out", index,
                     "--processes", "1", "--chunk-size", "512", "-q")
    try:
        wait_until(lambda: written_beside(index), first)
        t0 = time.perf_counter()
        err = one_line_error(tb("index", run, "--smiles-file", *write_library(tmp_path / "lib", 30), "--out", index,
                                "-q"), str(index), f"process {first.pid}", "thinbridge index")
        assert time.perf_counter() - t0 < 20 and "being written by" in err
        assert first.poll() is None  # the first build goes on
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
    # the lock went with the killed process: the next build runs
    ok(tb("index", run, "--smiles-file", *write_library(tmp_path / "lib", 30), "--out", index, "-q"))


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock, as a running writer does (until killed)."""
    code = ("import sys, time; from thinbridge._util.outputs import exclusive, lock_path\n"
            "with exclusive(lock_path(sys.argv[1]), sys.argv[1], 'thinbridge train'):\n"
            "    print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow
def test_train_and_prepare_refuse_a_folder_another_process_writes(tmp_path, generated_prepared):
    run, data = tmp_path / "R", tmp_path / "D"
    for folder, argv in ((run, ["train", "--data", generated_prepared, "--out", run, "--epochs", "2", "-q"]),
                         (data, ["prepare", "--input", write_table(tmp_path / "m.tsv", generated_rows()),
                                 "--out", data, "-q"])):
        holder = _hold(folder)
        try:
            t0 = time.perf_counter()
            one_line_error(tb(*argv), str(folder), f"process {holder.pid}")
            assert time.perf_counter() - t0 < 20 and not folder.exists()
        finally:
            holder.kill()
            holder.wait()
    ok(tb("prepare", "--input", tmp_path / "m.tsv", "--out", data, "-q"))  # kill -9 left no stale lock
    assert (data / "report.json").is_file()


def test_the_book_runner_refuses_a_second_build(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    import run_notebooks

    ran = []
    monkeypatch.setattr(run_notebooks, "run_chapters", lambda *a: ran.append(a) or 0)  # never a real chapter here
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from thinbridge import book\n"
        "with book.lock_artifacts(None, 'make book'):\n    print('held', flush=True); time.sleep(600)")],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit) as e:
            run_notebooks.main(["--only", "09", "--force"])
        assert f"process {holder.pid} (make book)" in str(e.value.code) and str(ROOT / "artifacts") in str(e.value.code)
        assert str(e.value.code).startswith("run_notebooks: ") and "\n" not in str(e.value.code) and not ran
    finally:
        holder.kill()
        holder.wait()
    assert run_notebooks.main(["--only", "09", "--force"]) == 0 and len(ran) == 1  # the lock went with the holder


# ---------------------------------------------------------------------------------- item 3: parameters
def test_check_parameters_names_the_parameter_and_the_allowed_values():
    from thinbridge import book

    book.check_parameters(profile="fast", seed=0, split="random", text_view="basic", encoders=["ecfp4", "maccs"],
                          data_path=None, text_model=None)
    cases = [
        (dict(profile="bogus"), "parameter profile: invalid choice: 'bogus' (choose from 'full', 'fast')"),
        (dict(split="scafold"), "parameter split: invalid choice: 'scafold' (choose from 'scaffold', 'random')"),
        (dict(text_view="fancy"), "parameter text_view: invalid choice: 'fancy' (choose from 'basic', 'rich')"),
        (dict(encoders=["ecfp4", "ecfp5"]), "parameter encoders: invalid choice: 'ecfp5' (choose from 'ecfp4', "),
        (dict(seed=-1), "parameter seed: must be at least 0, got -1"),
        (dict(model_seeds=[0, 1.5]), "parameter model_seeds: 1.5 is not a whole number"),
        (dict(data_path="no/such.tsv"), "parameter data_path: no such file: 'no/such.tsv'"),
    ]
    for values, message in cases:
        with pytest.raises(book.ParameterError) as e:
            book.check_parameters(**values)
        assert str(e.value).startswith(message) and "\n" not in str(e.value)
        assert isinstance(e.value, UserError)
    with pytest.raises(ValueError, match="no check for parameter"):
        book.check_parameters(novel=1)
    book.check_parameters(known_only=True, novel=1)


@pytest.mark.slow
@pytest.mark.parametrize("chapter, params, message", [
    ("03_training", {"profile": "bogus"}, "parameter profile: invalid choice: 'bogus' (choose from 'full', 'fast')"),
    ("03_training", {"seed": -1}, "parameter seed: must be at least 0, got -1"),
    ("01_data", {"data_path": "missing.tsv"}, "parameter data_path: no such file: 'missing.tsv'"),
    ("08_encoders", {"encoders": ["ecfp4", "ecfp5"]}, "parameter encoders: invalid choice: 'ecfp5'"),
])
def test_a_chapter_refuses_a_bad_parameter_in_one_line(tmp_path, monkeypatch, chapter, params, message):
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    sys.path.insert(0, str(ROOT / "scripts"))
    import run_notebooks

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout
    staged, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    run_notebooks.stage(ROOT / "notebooks" / f"{chapter}.py", staged)
    t0 = time.perf_counter()
    with pytest.raises(PapermillExecutionError) as err:
        pm.execute_notebook(str(staged), str(out), parameters=params, kernel_name="python3", cwd=str(tmp_path),
                            progress_bar=False, log_output=False)
    assert time.perf_counter() - t0 < 60  # stopped before any heavy work
    assert err.value.ename == "ParameterError" and err.value.evalue.startswith(message)
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0]["traceback"] == [f"ParameterError: {err.value.evalue}"]
    ran = [c for c in executed.cells if c.cell_type == "code" and c.get("execution_count")]
    assert "book.check_parameters(" in ran[-1].source  # nothing after it ran


def test_the_book_runner_refuses_a_misspelt_profile():
    res = subprocess.run([sys.executable, "scripts/run_notebooks.py", "-p", "profile", "fsat"], cwd=ROOT, env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and res.stdout == ""
    assert res.stderr == "run_notebooks: parameter profile: invalid choice: 'fsat' (choose from 'full', 'fast')\n"
