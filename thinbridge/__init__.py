"""thinbridge: thin contrastive bridges between frozen drug and text encoders.

A reproduction of Tupakula, *Thin Bridges for Drug Text Alignment* (arXiv 2510.03309).
Modules, ground floor first: ``numerics`` (CPU kernels, threads), ``config`` (RunConfig),
``loaders`` and ``data`` (ChEMBL mechanisms -> pairs), ``download``, ``features`` (frozen ECFP4
and sentence embeddings, cached), ``splits`` (scaffold/random, leakage audit), ``metrics``,
``evaluation``, ``losses``, ``model``, ``grid`` (many bridges at once), ``baselines``,
``train``, ``experiments``, ``library``/``index``/``build``/``retrieval`` (indexes and search;
``shards`` and ``cluster`` build on Dask, ``ann`` adds FAISS search), ``synthetic`` and
``projection`` (scale), ``plots``, ``book``, ``cli``.
Importing the package is cheap: heavy libraries load in the modules that need them.
It first pins the numerical libraries' CPU kernels and thread counts
(:mod:`thinbridge.numerics`), so that every number comes out the same on any x86-64 machine.
"""
from . import numerics as _numerics

_numerics.configure()

__version__ = "0.1.0"

from .errors import UserError  # noqa: F401
from .progress import set_progress  # noqa: F401
