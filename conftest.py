"""Loaded by pytest for every run from the repository root (unit tests and nbval alike).

Importing thinbridge pins the numerical libraries' kernels and threads
(:mod:`thinbridge.numerics`) in this process's environment before anything loads numpy
or torch; nbval's notebook kernels inherit that environment.
"""
import thinbridge  # noqa: F401
