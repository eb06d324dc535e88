"""Where things live: the project root, the data file, the artifacts folder.

Notebooks run with their own folder as the working directory (papermill and nbval
both do), so every path is resolved from the project root, found by walking up to
the folder that holds ``_toc.yml``. Nothing here touches the network.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

DATA_ENV = "THINBRIDGE_DATA"
#: where the shared ChEMBL file sits beside a checkout (developers and CI)
SHARED_DATA = Path("..") / "shared" / "data" / "chembl_moa" / "chembl_moa.tsv"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding ``_toc.yml`` at or above ``start`` (default: the working directory)."""
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_toc.yml").is_file() and (p / "thinbridge").is_dir():
            return p
    # installed package used outside a checkout: fall back to the package's parent
    pkg_parent = Path(__file__).resolve().parent.parent
    if (pkg_parent / "_toc.yml").is_file():
        return pkg_parent
    return here


def artifacts_dir(root: Path | None = None) -> Path:
    """``artifacts/`` under the project root (ignored by git); created on demand."""
    p = (root or project_root()) / "artifacts"
    p.mkdir(parents=True, exist_ok=True)
    return p


def resolve_data_path(path: str | os.PathLike | None = None, root: Path | None = None) -> Path:
    """The ChEMBL mechanism table to read.

    Order: an explicit ``path``; else the environment variable ``THINBRIDGE_DATA``;
    else ``../shared/data/chembl_moa/chembl_moa.tsv`` beside the project root.
    A relative path is taken from the working directory, then from the project root.
    """
    chosen = path or os.environ.get(DATA_ENV) or None
    root = root or project_root()
    if chosen is None:
        candidate = (root / SHARED_DATA).resolve()
        if candidate.is_file():
            return candidate
        raise UserError(
            f"no data file given: pass --input PATH, set {DATA_ENV}=PATH, or place the shared file at "
            f"{candidate} (users with network: `thinbridge download`)"
        )
    p = Path(chosen).expanduser()
    for c in (p, root / p):
        if c.exists():
            return c.resolve()
    raise UserError(f"data file not found: {chosen}")
