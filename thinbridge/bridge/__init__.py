"""The bridge: two trainable heads from the frozen features into one shared space.

``model`` is the torch module (:class:`Bridge`: linear heads, as the paper, or with a hidden
layer) and its run folder (``save_run``, ``load_run``), ``runfiles`` reads a run folder
without torch (:class:`NumpyHeads`, what search uses), ``baselines`` the comparisons (random
heads, PCA+CCA, ridge, nearest text). May import :mod:`thinbridge.features` and below.
"""
from thinbridge.bridge.model import Bridge, save_run, load_run
from thinbridge.bridge.runfiles import NumpyHeads, read_config, load_arrays
from thinbridge.bridge.baselines import random_heads, CCABaseline, RidgeBaseline

__all__ = ["Bridge", "save_run", "load_run", "NumpyHeads", "read_config", "load_arrays", "random_heads", "CCABaseline", "RidgeBaseline"]
