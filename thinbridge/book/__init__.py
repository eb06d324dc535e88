"""What every chapter of the book does first, and where it keeps what it makes.

A chapter starts with one call::

    from thinbridge import book
    paths = book.setup()                      # quiet libraries, no progress bars, the folders
    pairs = book.load_pairs(paths)            # what chapter 1 prepared
    split = book.load_split(paths, pairs, "scaffold", 0)

and names files through ``paths`` (:class:`BookPaths`), so a file name is spelled in one place.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from thinbridge._util.paths import artifacts_dir, project_root


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
        return self.artifacts / "splits"

    @property
    def runs(self) -> Path:
        return self.artifacts / "runs"

    @property
    def figures(self) -> Path:
        return self.artifacts / "figures"

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
