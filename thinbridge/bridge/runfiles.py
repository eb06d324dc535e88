"""A run folder read without torch: its config, its weights as numpy arrays, the heads in numpy.

``thinbridge query`` searches with a trained bridge; loading torch for two matrix products
would cost seconds. :func:`load_arrays` reads and checks ``config.json`` and
``model.safetensors``; :class:`NumpyHeads` applies the two heads (float32, L2-normalised),
the same computation as :meth:`thinbridge.bridge.model.Bridge.embed` to float tolerance.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from thinbridge._util.errors import UserError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
_SHAPES = {"drug_head.weight": ("dim", "drug_dim"), "drug_head.bias": ("dim",),
           "text_head.weight": ("dim", "text_dim"), "text_head.bias": ("dim",)}
#: with a hidden layer (``hidden`` > 0 in the config's model dims)
_SHAPES_MLP = {"drug_hidden.weight": ("hidden", "drug_dim"), "drug_hidden.bias": ("hidden",),
               "drug_head.weight": ("dim", "hidden"), "drug_head.bias": ("dim",),
               "text_hidden.weight": ("hidden", "text_dim"), "text_hidden.bias": ("hidden",),
               "text_head.weight": ("dim", "hidden"), "text_head.bias": ("dim",)}


def read_config(run_dir: str | Path) -> dict:
    """``config.json`` of a run folder, as a dict; a missing or damaged file is a UserError."""
    run = Path(run_dir)
    if not run.is_dir():
        raise UserError(f"run folder not found: {run}")
    p = run / CONFIG
    if not p.is_file():
        raise UserError(f"{run}: incomplete run folder (no {CONFIG}); train one with `thinbridge train`")
    try:
        rec = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(rec, dict):
        raise UserError(f"{p}: not a thinbridge run config (a JSON object was expected)")
    return rec


def load_arrays(run_dir: str | Path, expect: dict | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """The run's weights (numpy) and config, checked against each other.

    ``expect`` may name ``encoders`` (drug/text identities) or dims the caller will feed; a
    mismatch is a clear error, not a shape error later.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    run = Path(run_dir)
    cfg = read_config(run)
    w = run / WEIGHTS
    if not w.is_file():
        raise UserError(f"{run}: incomplete run folder (no {WEIGHTS})")
    dims = cfg.get("model") or {}
    if not isinstance(dims, dict) or not {"drug_dim", "text_dim", "dim"} <= set(dims):
        raise UserError(f"{run / CONFIG}: no model dimensions recorded; not a thinbridge run")
    try:
        sizes = {k: int(dims[k]) for k in ("drug_dim", "text_dim", "dim")}
        if min(sizes.values()) < 1 or any(float(dims[k]) != sizes[k] for k in sizes):
            raise ValueError
        sizes["hidden"] = int(dims.get("hidden", 0))
        if sizes["hidden"] < 0 or float(dims.get("hidden", 0)) != sizes["hidden"]:
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"{run / CONFIG}: model dimensions {dims} are not whole numbers >= 1 (edited by hand?); "
                        "train the run again") from None
    try:
        state = load_file(str(w))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{w}: unreadable weights ({e})") from None
    want = {k: tuple(sizes[d] for d in ds) for k, ds in (_SHAPES_MLP if sizes["hidden"] else _SHAPES).items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != want:
        raise UserError(f"{w}: weight shapes {got} do not match the config's model {want}")
    for key, value in (expect or {}).items():
        have = cfg.get("encoders", {}).get(key) if key in ("drug", "text") else dims.get(key)
        if have != value:
            raise UserError(f"{run}: this bridge was trained with {key} = {have!r}, not {value!r}")
    return state, cfg


class NumpyHeads:
    """The bridge's two heads in numpy: ``embed(x, "drug" | "text")`` -> unit-length float32 rows;
    ``drug_encoder`` names the frozen drug encoder the drug head reads
    (:func:`thinbridge.features.drugs.encode_drugs` with that name gives its input)."""

    def __init__(self, state: dict[str, np.ndarray], drug_encoder: str = "ecfp4"):
        self.drug_encoder = drug_encoder
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
        self.dim = self.w["drug_head.bias"].shape[0]
        self.hidden = "drug_hidden.weight" in self.w
        first = "hidden" if self.hidden else "head"
        self.in_features = {side: self.w[f"{side}_{first}.weight"].shape[1] for side in ("drug", "text")}

    def embed(self, x, side: str, batch: int = 8192) -> np.ndarray:
        if side not in ("drug", "text"):
            raise ValueError(f"side must be 'drug' or 'text', not {side!r}")
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.in_features[side]:
            raise UserError(f"{side} features have shape {x.shape}; this bridge expects "
                            f"{self.in_features[side]} columns")
        w, b = self.w[f"{side}_head.weight"], self.w[f"{side}_head.bias"]
        out = np.empty((x.shape[0], self.dim), dtype=np.float32)
        for s in range(0, x.shape[0], batch):
            z = np.asarray(x[s:s + batch], dtype=np.float32)
            if self.hidden:
                z = np.maximum(z @ self.w[f"{side}_hidden.weight"].T + self.w[f"{side}_hidden.bias"], 0.0)
            z = z @ w.T + b
            out[s:s + batch] = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return out
