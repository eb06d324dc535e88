"""What every chapter of the book does first, and where it keeps what it makes.

A chapter starts with one call::

    from thinbridge import book
    paths = book.setup()                      # quiet libraries, no progress bars, the folders
    pairs = book.load_pairs(paths)            # what chapter 1 prepared
    split = book.load_split(paths, pairs, "scaffold", 0)

checks its parameters in the next cell (:func:`check_parameters`: one line naming a parameter that
cannot be used), and names files through ``paths`` (:class:`BookPaths`): ``paths.artifact(book.ABLATION)``.
Every file a chapter writes or reads is spelled once, below, and :mod:`thinbridge.book.chapters`
declares each chapter's reads and writes with the same names. The fast profile's settings are
:data:`FAST_PROFILE`, applied by :func:`for_profile`.

The subpackage holds what the chapters share: ``experiments`` (grids of runs, the paper's
numbers, tables), ``claims`` (the verdict's records and rules), ``plots``, ``projection``
(index build and search at scale) and ``chapters`` (the chapter set and what makes one stale).
The top layer below the command line: it may import every other subpackage.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from thinbridge._util.paths import artifacts_dir, project_root
from thinbridge.book.parameters import PROFILES, ParameterError, check_parameters  # noqa: F401  (the API)

# -- the files the chapters write and read, relative to ``artifacts/`` (chapter that writes it)
PAIRS = "data/pairs.tsv"                      # 01: the prepared pairs (and report.json, dropped.tsv, merged.tsv)
REPORT = "data/report.json"
DROPPED = "data/dropped.tsv"
MERGED = "data/merged.tsv"
SCAFFOLDS = "data/scaffolds.tsv"              # 02: each parent molecule's Bemis-Murcko scaffold
SPLITS = "splits"                             # 02: one file per (kind, seed)
RUNS = "runs"                                 # 03: run folders
MAIN_RUNS = "runs/main.json"                  # 03: the four main runs' metrics and settings
TABLE1 = "table1.tsv"                         # 03
ABLATION = "ablation.tsv"                     # 04: the temperature x margin x name grid
ABLATION_HARD_WEIGHT = "ablation_hard_weight.tsv"  # 04
LIBRARY_DEMO = "library_demo.smi"             # 06
INDEX_DEMO = "index_demo"                     # 06
REPLICATION_RECORDS = "replication.tsv.gz"    # 07: per-query records over split and model seeds
CLAIMS_REPLICATION = "claims_replication.json"  # 07: the paper's claims, judged
PROTOCOL_MAP = "protocol_map.tsv"             # 07: each paper number under every protocol, across splits
ENCODER_RECORDS = "encoders.tsv.gz"           # 08
CLAIMS_ENCODERS = "claims_encoders.json"      # 08
FIGURES = "figures"

#: what the fast profile changes in a chapter's RunConfig (fewer epochs and bootstrap resamples)
FAST_PROFILE = {"epochs": 4, "n_boot": 100}


@dataclass(frozen=True)
class BookPaths:
    """The folders under ``artifacts/`` that the chapters write and read."""

    root: Path
    artifacts: Path

    @property
    def data(self) -> Path:
        """Prepared pairs, report and the feature cache (chapter 1)."""
        return self.artifacts / "data"

    @property
    def splits(self) -> Path:
        return self.artifacts / SPLITS

    @property
    def runs(self) -> Path:
        return self.artifacts / RUNS

    @property
    def figures(self) -> Path:
        return self.artifacts / FIGURES

    def artifact(self, name: str) -> Path:
        """A file under ``artifacts/`` named by one of this module's constants: ``paths.artifact(ABLATION)``."""
        return self.artifacts / name

    def split_file(self, kind: str, seed: int) -> Path:
        """``artifacts/splits/scaffold_seed0.tsv`` (:func:`thinbridge.data.splits.split_filename`)."""
        from thinbridge.data.splits import split_filename

        return self.splits / split_filename(kind, seed)

    def run_dir(self, cfg_or_name) -> Path:
        """A run's folder, from a :class:`~thinbridge.config.RunConfig` (its ``run_name``) or a name."""
        return self.runs / (cfg_or_name if isinstance(cfg_or_name, str) else cfg_or_name.run_name)

    def figure(self, name: str) -> Path:
        return self.figures / name


def setup(max_colwidth: int = 80) -> BookPaths:
    """Quiet warnings and RDKit, no progress bars, pandas display width; return the folders."""
    import pandas as pd
    from rdkit import RDLogger

    from thinbridge._util.progress import set_progress

    warnings.filterwarnings("ignore")
    RDLogger.DisableLog("rdApp.*")
    set_progress(False)
    pd.set_option("display.max_colwidth", max_colwidth)
    root = project_root()
    return BookPaths(root=root, artifacts=artifacts_dir(root))


def load_pairs(paths: BookPaths):
    """The pairs chapter 1 prepared (``artifacts/data/pairs.tsv``)."""
    from thinbridge.data.pairs import load_pairs as _load

    return _load(paths.data)


def load_split(paths: BookPaths, pairs, kind: str, seed: int):
    """The split chapter 2 saved, as one label per pair (checked against ``pairs``)."""
    from thinbridge.data.splits import load_split as _load

    return _load(paths.split_file(kind, seed), pairs)


def for_profile(cfg, profile: str):
    """``cfg`` as the profile runs it: unchanged for ``full``, :data:`FAST_PROFILE` applied for ``fast``."""
    import dataclasses

    if profile not in PROFILES:
        from thinbridge._util.errors import UserError

        raise UserError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    return cfg if profile == "full" else dataclasses.replace(cfg, **FAST_PROFILE)


def lock_artifacts(root: Path | None = None, what: str = "the book runner"):
    """Hold ``artifacts/`` for one book build (a context manager): a second build started while
    this one runs fails at once, naming this process (:func:`thinbridge._util.outputs.exclusive`;
    the lock goes with the process, however it ends)."""
    from thinbridge._util.outputs import exclusive

    folder = artifacts_dir(root)
    return exclusive(folder / ".book.lock", folder, what)
