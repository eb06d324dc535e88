"""Frozen features computed once per distinct input and kept on disk.

A cache file is a safetensors array whose name and metadata carry the encoder's identity and
a sha256 of the inputs (:func:`cache_path`); one that is corrupt or belongs to other inputs is
detected, reported and rebuilt, never trusted. :func:`drug_features` and
:func:`text_features` are what the pipeline calls; :func:`describe_cache` lists a cache.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from thinbridge._util.errors import UserError
from thinbridge._util.progress import notice


from thinbridge.features.drugs import CONCATENATIONS, drug_encoder
from thinbridge.features.text import embed_texts_uncached, text_backend, text_encoder_id

CACHE_FORMAT = "thinbridge-cache-1"


# ----------------------------------------------------------------------------------------------
# cache
# ----------------------------------------------------------------------------------------------
def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:60]


def inputs_sha256(items: Sequence[str]) -> str:
    h = hashlib.sha256()
    for s in items:
        b = s.encode("utf-8")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


def cache_path(cache_dir: str | Path, kind: str, encoder: str, items: Sequence[str]) -> Path:
    return Path(cache_dir) / f"{kind}-{_slug(encoder)}-{inputs_sha256(items)[:16]}.safetensors"


def _read_cache(path: Path, encoder: str, digest: str, n: int) -> np.ndarray | None:
    """The cached array, or None when the file is missing, corrupt or for other inputs."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            arr = f.get_tensor("features")
    except Exception as e:  # truncated or garbage file
        warnings.warn(f"cache file {path.name} is unreadable ({type(e).__name__}); rebuilding it", stacklevel=3)
        return None
    ok = (
        meta.get("format") == CACHE_FORMAT
        and meta.get("encoder") == encoder
        and meta.get("inputs_sha256") == digest
        and arr.shape[0] == n
        and meta.get("features_sha256") == _array_sha256(arr)  # flipped bytes in the data region
    )
    if not ok:
        warnings.warn(f"cache file {path.name} does not match its inputs or encoder, or its data is corrupt; rebuilding it", stacklevel=3)
        return None
    return arr


def _array_sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _write_cache(path: Path, arr: np.ndarray, encoder: str, digest: str) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two processes filling the same cache do not share one
    meta = {"format": CACHE_FORMAT, "encoder": encoder, "inputs_sha256": digest, "n": str(arr.shape[0]),
            "features_sha256": _array_sha256(arr)}
    try:
        save_file({"features": np.ascontiguousarray(arr)}, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind


def user_cache_dir() -> Path:
    """Where features are cached when the data folder is read-only: ``$THINBRIDGE_CACHE/features``,
    else the user's cache folder (``~/.cache/thinbridge/features`` on Linux)."""
    env = os.environ.get("THINBRIDGE_CACHE")
    if env:
        return Path(env).expanduser() / "features"
    import platformdirs

    return Path(platformdirs.user_cache_dir("thinbridge")) / "features"


def cached(kind: str, encoder: str, items: Sequence[str], compute, cache_dir: str | Path | None) -> np.ndarray:
    """``compute(unique_items)`` once per distinct item set, cached; rows returned in ``items`` order.

    The cache lives in ``cache_dir``; where that cannot be written (a read-only data folder) it
    falls back to :func:`user_cache_dir`, and failing that the features are computed and not
    cached; each case is said in one line on stderr.
    """
    uniq = sorted(set(items))
    index = {s: i for i, s in enumerate(uniq)}
    rows = np.fromiter((index[s] for s in items), dtype=np.int64, count=len(items))
    if cache_dir is None:
        return compute(uniq)[rows]
    digest = inputs_sha256(uniq)
    primary = Path(cache_dir)
    places = [primary] if _writable(primary) else [primary, user_cache_dir()]
    for place in places:
        arr = _read_cache(cache_path(place, kind, encoder, uniq), encoder, digest, len(uniq))
        if arr is not None:
            return arr[rows]
    arr = compute(uniq)
    place = places[-1]
    try:
        _write_cache(cache_path(place, kind, encoder, uniq), arr, encoder, digest)
        if place != primary:
            notice(f"cannot write the feature cache in {primary}; cached in {place} instead")
    except Exception as e:  # OSError, or safetensors' own error on a full or read-only disk
        notice(f"features not cached: cannot write {primary} or {place} ({type(e).__name__})")
    return arr[rows]


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or in the nearest folder above it that exists)."""
    for p in (folder, *folder.parents):
        if p.exists():
            return p.is_dir() and os.access(p, os.W_OK | os.X_OK)
    return False


def drug_features(smiles: Sequence[str], cache_dir: str | Path | None = None, show_progress: bool = True,
                  encoder: str = "ecfp4") -> np.ndarray:
    """The drug encoder's features for each SMILES (ECFP4 by default: uint8 ``(n, 2048)``), computed
    once per distinct SMILES and cached under the encoder's identity."""
    ident, fn = drug_encoder(encoder)
    if encoder in CONCATENATIONS:
        return np.hstack([drug_features(smiles, cache_dir, show_progress, part).astype(np.float32)
                          for part in CONCATENATIONS[encoder]])
    return cached("drug", ident, list(smiles), lambda u: fn(u, show_progress=show_progress), cache_dir)


def text_features(
    texts: Sequence[str], model: str | None = None, cache_dir: str | Path | None = None, show_progress: bool = True
) -> np.ndarray:
    """Sentence embeddings for each text (float32), computed once per distinct text and cached."""
    texts = list(texts)
    if any(not isinstance(t, str) or not t.strip() for t in texts):
        raise UserError("empty text given to the text encoder")
    enc, backend = text_encoder_id(model), text_backend(model)
    if backend == "numpy":
        enc += "@numpy"  # its own cache files: the backends agree to float tolerance, not in every bit
    return cached("text", enc, texts, lambda u: embed_texts_uncached(u, model, show_progress=show_progress,
                                                                     backend=backend), cache_dir)


def describe_cache(cache_dir: str | Path) -> list[dict]:
    """What is in a cache folder (file, kind, encoder, rows): for the book and for debugging."""
    from safetensors import safe_open

    out = []
    for p in sorted(Path(cache_dir).glob("*.safetensors")):
        try:
            with safe_open(str(p), framework="numpy") as f:
                m = f.metadata() or {}
            out.append({"file": p.name, "encoder": m.get("encoder"), "rows": int(m.get("n", 0))})
        except Exception:
            out.append({"file": p.name, "encoder": None, "rows": None})
    return out

