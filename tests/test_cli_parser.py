"""The command line's shape: building the parser is cheap, and each subcommand is one module
(``add_subparser`` and ``run``) under ``thinbridge/cli``, as chemprop's ``cli``."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "thinbridge" / "cli"
SUBCOMMANDS = ("prepare", "download", "train", "evaluate", "query", "index", "serve")
HEAVY = "{'torch', 'numpy', 'pandas', 'rdkit', 'sentence_transformers'}"


def test_building_the_parser_imports_no_heavy_library_and_help_exits_0():
    code = ("import sys; from thinbridge.cli.main import build_parser; build_parser(); "
            f"bad = {HEAVY} & set(sys.modules); assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "thinbridge.cli", "--help"], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert all(name in res.stdout for name in SUBCOMMANDS), res.stdout


def test_the_entry_point_and_the_package_exports():
    """pyproject's console script is ``thinbridge.cli:main``; the package exports exactly main and build_parser."""
    import thinbridge.cli as cli

    main_module = importlib.import_module("thinbridge.cli.main")  # the attribute cli.main is the function

    assert sorted(cli.__all__) == ["build_parser", "main"]
    assert cli.main is main_module.main and cli.build_parser is main_module.build_parser
    assert 'thinbridge = "thinbridge.cli:main"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_one_module_per_subcommand_with_add_subparser_and_run():
    from thinbridge.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert tuple(sub.choices) == SUBCOMMANDS
    for name in SUBCOMMANDS:
        mod = importlib.import_module(f"thinbridge.cli.{name}")
        assert callable(mod.add_subparser) and callable(mod.run), name
        assert sub.choices[name].get_default("func") is mod.run, name

