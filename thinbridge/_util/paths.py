"""Where things live: the project root, the data file, the artifacts folder.

Notebooks run with their own folder as the working directory (papermill and nbval
both do), so every path is resolved from the project root, found by walking up to
the folder that holds ``_toc.yml``. Nothing here touches the network.

The ChEMBL mechanism table ships with the project (``data/chembl_moa/``, CC BY-SA 3.0, see
its ``PROVENANCE.md`` and ``LICENSE``) and is the default input everywhere; its sha256 is
checked whenever it is read as the default.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from thinbridge._util.errors import UserError

DATA_ENV = "THINBRIDGE_DATA"
#: the shipped ChEMBL file, relative to the project root
SHIPPED_DATA = Path("data") / "chembl_moa" / "chembl_moa.tsv"
#: its sha256 (data/chembl_moa/PROVENANCE.md)
SHIPPED_DATA_SHA256 = "2d0686cfe76c02bb1b3145a788598a09d84f680e19523409e2bd9d0c390d6240"


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


def shipped_data_path(root: Path | None = None, verify: bool = True) -> Path:
    """The shipped ChEMBL table, its sha256 checked (a mismatch is a UserError saying how to restore it)."""
    roots = [root or project_root(), Path(__file__).resolve().parent.parent]
    path = next((r / SHIPPED_DATA for r in roots if (r / SHIPPED_DATA).is_file()), None)
    if path is None:
        raise UserError(f"the shipped data file {SHIPPED_DATA} is missing from {roots[0]} (restore it with "
                        f"`git checkout -- {SHIPPED_DATA}`), or pass --input PATH / set {DATA_ENV}=PATH")
    if verify:
        h = hashlib.sha256(path.read_bytes()).hexdigest()
        if h != SHIPPED_DATA_SHA256:
            raise UserError(f"{path}: sha256 {h[:12]}... is not the shipped file's {SHIPPED_DATA_SHA256[:12]}... "
                            f"(edited or corrupted; `git checkout -- {SHIPPED_DATA}` restores it; to use another "
                            f"table pass --input PATH or set {DATA_ENV}=PATH)")
    return path.resolve()


def resolve_data_path(path: str | os.PathLike | None = None, root: Path | None = None) -> Path:
    """The ChEMBL mechanism table to read.

    Order: an explicit ``path``; else the environment variable ``THINBRIDGE_DATA``; else the
    shipped ``data/chembl_moa/chembl_moa.tsv`` (checksum verified). A relative path is taken
    from the working directory, then from the project root.
    """
    chosen = path or os.environ.get(DATA_ENV) or None
    root = root or project_root()
    if chosen is None:
        return shipped_data_path(root)
    p = Path(chosen).expanduser()
    for c in (p, root / p):
        if c.exists():
            return c.resolve()
    raise UserError(f"data file not found: {chosen}")


def _nearest_existing(p: Path) -> Path:
    for q in (p, *p.parents):
        if q.exists():
            return q
    return Path(".")


def check_out_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """Fail now, before any work, if ``path`` cannot become a folder we write into."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {p} is a file; give a folder")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise UserError(f"{what} {p}: {base} is a file, so the folder cannot be made")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"{what} {p}: {base} is not writable; choose another folder")
    return p


def check_out_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """Fail now, before any work, if ``path`` cannot be written as a file."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{what} {p} is a folder; give a file name (for example {p / 'metrics.json'})")
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"{what} {p} is not writable")
    base = _nearest_existing(p.parent)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"{what} {p}: {base} is not a writable folder")
    return p
