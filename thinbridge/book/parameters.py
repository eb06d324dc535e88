"""A chapter's parameters checked before any work, with the command line's words.

Every chapter's cell after its ``parameters`` cell (where papermill's ``-p NAME VALUE`` lands)
calls :func:`check_parameters` with its parameters::

    book.check_parameters(profile=profile, seed=seed, split_seed=split_seed, text_model=text_model)

A value that cannot be used stops the chapter with one line naming the parameter and what is
allowed, as the command line would say it (``parameter split: invalid choice: 'scafold'
(choose from 'scaffold', 'random')``): the allowed names come from :mod:`thinbridge.config`
and :data:`thinbridge.book.PROFILES`, so a misspelt profile no longer runs the full book in
silence. ``scripts/run_notebooks.py`` checks its ``-p`` values the same way before any chapter
runs. Imports only the standard library and :mod:`thinbridge.config`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from thinbridge._util.errors import UserError
from thinbridge.config import BATCH_KINDS, BRIDGE_KINDS, DRUG_ENCODERS, INDEX_KIND_CHOICES, PROTOCOLS, SPLIT_KINDS, TEXT_VIEWS

PROFILES = ("full", "fast")


class ParameterError(UserError):
    """A chapter parameter that cannot be used; Jupyter shows it as its one line, without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook: these lines instead of the traceback
        return [f"{type(self).__name__}: {self}"]


def _fail(name: str, message: str) -> None:
    raise ParameterError(f"parameter {name}: {message}")


def _choice(allowed):
    def check(name, v):
        if v not in allowed:
            _fail(name, f"invalid choice: {v!r} (choose from {', '.join(repr(a) for a in allowed)})")
    return check


def _number(kind, lo=None, above=None):
    def check(name, v):
        word = "whole number" if kind is int else "number"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and v != int(v)):
            _fail(name, f"{v!r} is not a {word}")
        if not math.isfinite(v):
            _fail(name, f"{v!r} is not a finite number")
        if lo is not None and v < lo:
            _fail(name, f"must be at least {lo}, got {v!r}")
        if above is not None and v <= above:
            _fail(name, f"must be greater than {above}, got {v!r}")
    return check


def _many(check):
    def each(name, v):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            _fail(name, f"must be a list, got {v!r}")
        items = list(v)
        if not items:
            _fail(name, "must not be empty")
        for x in items:
            check(name, x)
    return each


def _text(optional=False):
    def check(name, v):
        if v is None and optional:
            return
        if not isinstance(v, str) or not v.strip():
            _fail(name, f"must be {'None or ' if optional else ''}a non-empty string, got {v!r}")
    return check


def _data_path(name, v):
    if v is None:
        return
    if not isinstance(v, (str, os.PathLike)) or not str(v).strip():
        _fail(name, f"must be None or the path of a mechanism table, got {v!r}")
    from thinbridge._util.paths import project_root

    p = Path(v).expanduser()
    if not any(c.is_file() for c in (p, project_root() / p, project_root() / "book" / p)):
        _fail(name, f"no such file: {str(v)!r} (None: $THINBRIDGE_DATA, else the shipped table)")


def _sizes(name, v):
    _many(_number(float, lo=0))(name, v)
    if len(list(v)) != 3 or abs(sum(v) - 1) > 1e-6:
        _fail(name, f"must be three non-negative fractions summing to 1, got {tuple(v)!r}")


def _queries(name, v):
    _many(lambda n, q: None)(name, v)
    for q in v:
        if not (isinstance(q, (list, tuple)) and len(q) == 2 and all(isinstance(s, str) and s for s in q)):
            _fail(name, f"each query must be a pair (text, expected target word), got {q!r}")


_seed, _count = _number(int, lo=0), _number(int, lo=1)
#: what each parameter name the chapters use may hold
CHECKS = {
    "profile": _choice(PROFILES),
    "split": _choice(SPLIT_KINDS), "splits": _many(_choice(SPLIT_KINDS)),
    "text_view": _choice(TEXT_VIEWS), "text_views": _many(_choice(TEXT_VIEWS)),
    "drug_encoder": _choice(DRUG_ENCODERS), "encoders": _many(_choice(DRUG_ENCODERS)),
    "bridge": _choice(BRIDGE_KINDS), "batches": _choice(BATCH_KINDS), "protocol": _choice(PROTOCOLS),
    "kind": _choice(INDEX_KIND_CHOICES),
    "seed": _seed, "split_seed": _seed, "seeds": _many(_seed), "scaffold_seeds": _many(_seed),
    "random_seeds": _many(_seed), "model_seeds": _many(_seed), "hard_seeds": _many(_seed),
    "temperatures": _many(_number(float, above=0)), "margins": _many(_number(float, lo=0)),
    "hard_weights": _many(_number(float, lo=0)),
    "n_jobs": _number(int, lo=0), "hidden": _count, "k": _count, "K": _count, "cmc_k": _count,
    "projected_size": _count, "projected_workers": _many(_count),
    "sizes": _sizes, "queries": _queries,
    "data_path": _data_path, "text_model": _text(optional=True), "run_name": _text(),
}


def check_parameters(known_only: bool = False, **values) -> None:
    """Check each parameter by its name (:data:`CHECKS`); raise :class:`ParameterError` (one line:
    the parameter and what it may be) at the first that cannot be used.

    A name without a check is an error (a chapter's new parameter must get one), unless
    ``known_only``: then it is passed over (the notebook runner's ``-p`` values go to every chapter).
    """
    for name, v in values.items():
        check = CHECKS.get(name)
        if check is None:
            if known_only:
                continue
            raise ValueError(f"check_parameters: no check for parameter {name!r}; add one to thinbridge.book.parameters")
        check(name, v)
