"""thinbridge.cli: prepare / train / evaluate through ``main(argv)``; user errors are one line, status 2."""
from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from conftest import small_rows, write_table
from thinbridge import cli

TRAIN_ARGS = ["--epochs", "3", "--n-boot", "0", "-q"]


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):
    """main(-q) writes THINBRIDGE_PROGRESS into os.environ; monkeypatch restores it after each test."""
    monkeypatch.setenv("THINBRIDGE_PROGRESS", "0")


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("thinbridge: error: ")
    return lines[0]


# ------------------------------------------------------------------ prepare
def test_prepare_writes_files(small_tsv, tmp_path, capsys):
    out = tmp_path / "prepared"
    assert cli.main(["prepare", "--input", str(small_tsv), "--out", str(out), "-q"]) == 0
    for f in ("pairs.tsv", "report.json", "dropped.tsv", "merged.tsv"):
        assert (out / f).is_file()
    printed = capsys.readouterr().out
    assert "read 8 rows from mechanisms.tsv: 4 pairs, 4 parent molecules, 4 targets; 1 rows merged" in printed
    assert "dropped     1  invalid_smiles" in printed
    assert len(pd.read_csv(out / "pairs.tsv", sep="\t")) == 4


def test_prepare_reads_thinbridge_data_env(small_tsv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THINBRIDGE_DATA", str(small_tsv))
    out = tmp_path / "from_env"
    assert cli.main(["prepare", "--out", str(out), "-q"]) == 0
    assert json.loads((out / "report.json").read_text())["input"]["name"] == "mechanisms.tsv"
    assert "from mechanisms.tsv" in capsys.readouterr().out


def test_prepare_env_pointing_nowhere(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THINBRIDGE_DATA", str(tmp_path / "gone.tsv"))
    assert cli.main(["prepare", "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "data file not found" in _error_line(capsys)


def _missing_column(tmp_path):
    return write_table(tmp_path / "m.tsv", pd.DataFrame(small_rows()).drop(columns=["mechanism_of_action"]))


def _non_utf8(tmp_path):
    p = write_table(tmp_path / "m.tsv", small_rows())
    p.write_bytes(p.read_bytes().replace(b"CAFFEINE", b"CAF\xc9INE"))
    return p


def _no_usable_rows(tmp_path):
    return write_table(tmp_path / "m.tsv", small_rows()[5:])


def _header_only(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text(",".join(small_rows()[0]) + "\n")
    return p


@pytest.mark.parametrize("make, message", [
    (_missing_column, "missing required column(s) mechanism_of_action"),
    (lambda tmp_path: tmp_path / "does_not_exist.tsv", "data file not found"),
    (_non_utf8, "not valid UTF-8 (byte 0xc9 on line 5)"),
    (_no_usable_rows, "no usable rows"),
    (_header_only, "header but no rows"),
    (lambda tmp_path: tmp_path, "is a folder"),
])
def test_prepare_bad_input_is_one_line_status_2(tmp_path, capsys, make, message):
    src = make(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["prepare", "--input", str(src), "--out", str(out), "-q"]) == 2
    assert message in _error_line(capsys)
    assert not (out / "pairs.tsv").exists()


# ------------------------------------------------------------------ train / evaluate
@pytest.fixture(scope="module")
def trained(generated_prepared, tmp_path_factory, text_model):
    """Two trains with the same options and one evaluate, on the generated prepared set."""
    base = tmp_path_factory.mktemp("cli_runs")
    times = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINBRIDGE_PROGRESS", "0")
        for name in ("run_a", "run_b"):
            t0 = time.perf_counter()
            rc = cli.main(["train", "--data", str(generated_prepared), "--out", str(base / name), *TRAIN_ARGS])
            times[name] = time.perf_counter() - t0
            assert rc == 0
        t0 = time.perf_counter()
        rc = cli.main(["evaluate", str(base / "run_a"), "--out", str(base / "eval.json"), "-q"])
        times["evaluate"] = time.perf_counter() - t0
        assert rc == 0
    return base, times


def test_train_writes_run_folder(trained, generated_prepared):
    base, times = trained
    run = base / "run_a"
    for f in ("model.safetensors", "config.json", "metrics.json", "history.json"):
        assert (run / f).is_file(), f
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["epochs"] == 3 and cfg["config"]["n_boot"] == 0
    assert cfg["training"]["epochs_run"] == 3
    assert cfg["encoders"] == {"drug": "ecfp4-morgan-r2-2048", "text": "sentence-transformers/all-MiniLM-L6-v2"}
    from thinbridge.data.pairs import data_hash

    assert cfg["data_hash"] == data_hash(generated_prepared)
    assert len(json.loads((run / "history.json").read_text())) == 3
    metrics = json.loads((run / "metrics.json").read_text())
    assert "R@1_ci95" not in metrics["test"]["text_to_drug"]["global"]  # --n-boot 0
    assert sum(metrics["split_sizes"].values()) == 61


def test_evaluate_reproduces_train_metrics(trained):
    base, _ = trained
    at_train = json.loads((base / "run_a" / "metrics.json").read_text())
    at_eval = json.loads((base / "eval.json").read_text())
    assert at_eval["test"] == at_train["test"]
    assert at_eval == at_train


def test_two_trains_give_identical_metrics(trained):
    base, _ = trained
    a = (base / "run_a" / "metrics.json").read_bytes()
    b = (base / "run_b" / "metrics.json").read_bytes()
    assert a == b
    assert (base / "run_a" / "model.safetensors").read_bytes() == (base / "run_b" / "model.safetensors").read_bytes()


def test_evaluate_errors(trained, tmp_path, capsys, generated_tsv):
    base, _ = trained
    assert cli.main(["evaluate", str(tmp_path / "no_run"), "-q"]) == 2
    assert "run folder not found" in _error_line(capsys)
    # other data than the run was trained on
    other = tmp_path / "other_data"
    rows = pd.read_csv(generated_tsv, sep="\t", dtype=str, keep_default_na=False).iloc[:-3]
    write_table(tmp_path / "other.tsv", rows)
    assert cli.main(["prepare", "--input", str(tmp_path / "other.tsv"), "--out", str(other), "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(base / "run_a"), "--data", str(other), "-q"]) == 2
    assert "hash differs" in _error_line(capsys)


def test_train_with_another_encoder_and_an_mlp_bridge_then_query_and_evaluate(generated_prepared, tmp_path, capsys,
                                                                              monkeypatch):
    monkeypatch.setenv("THINBRIDGE_PROGRESS", "0")
    run = tmp_path / "maccs_mlp"
    assert cli.main(["train", "--data", str(generated_prepared), "--out", str(run), *TRAIN_ARGS,
                     "--drug-encoder", "maccs", "--bridge", "mlp", "--hidden", "16"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["encoders"]["drug"] == "maccs-167" and cfg["config"]["drug_encoder"] == "maccs"
    assert cfg["model"] == {"drug_dim": 167, "text_dim": 384, "dim": cfg["config"]["dim"], "hidden": 16}
    capsys.readouterr()
    assert cli.main(["query", str(run), "--smiles", "CC(=O)Oc1ccccc1C(=O)O", "--top", "2", "--json"]) == 0
    assert cli.main(["evaluate", str(run), "--out", str(tmp_path / "eval.json"), "-q"]) == 0
    at_eval = json.loads((tmp_path / "eval.json").read_text())
    assert at_eval["test"] == json.loads((run / "metrics.json").read_text())["test"]


def test_train_bad_options(generated_prepared, tmp_path, capsys):
    assert cli.main(["train", "--data", str(generated_prepared), "--out", str(tmp_path / "r"),
                     "--temperature", "0", "-q"]) == 2
    assert "temperature must be > 0" in _error_line(capsys)
    assert cli.main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r"), "-q"]) == 2
    assert "no pairs.tsv here" in _error_line(capsys)
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ parser
def _subcommands() -> list[str]:
    import argparse

    ap = cli.build_parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_subcommands_present():
    assert {"prepare", "download", "train", "evaluate"} <= set(_subcommands())


@pytest.mark.parametrize("command", _subcommands())
def test_help_exits_zero(command, capsys):
    assert cli.main([command, "--help"]) == 0
    assert f"thinbridge {command}" in capsys.readouterr().out


def test_no_command_prints_help_status_2(capsys):
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_option_is_usage_error(capsys):
    assert cli.main(["prepare", "--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and err.count("\n") == 1


def test_download_offline_fails_fast_with_a_hint(monkeypatch, capsys):
    from thinbridge.data import download

    monkeypatch.setattr(download, "network_reachable", lambda *a, **k: False)
    t0 = time.perf_counter()
    rc = cli.main(["download"])
    err = capsys.readouterr().err
    assert rc == 2 and time.perf_counter() - t0 < 10
    assert err.startswith("thinbridge: error:") and "--input" in err and "Traceback" not in err

