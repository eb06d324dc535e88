"""The bridge: two trainable heads from the frozen features into one shared space.

``model`` is the torch module (:class:`Bridge`: linear heads, as the paper, or with a hidden
layer) and its run folder (``save_run``, ``load_run``), ``runfiles`` reads a run folder
without torch (:class:`NumpyHeads`, what search uses), ``baselines`` the comparisons (random
heads, PCA+CCA, ridge, nearest text). May import :mod:`thinbridge.features` and below.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Bridge": "thinbridge.bridge.model",
    "save_run": "thinbridge.bridge.model",
    "load_run": "thinbridge.bridge.model",
    "NumpyHeads": "thinbridge.bridge.runfiles",
    "read_config": "thinbridge.bridge.runfiles",
    "load_arrays": "thinbridge.bridge.runfiles",
    "random_heads": "thinbridge.bridge.baselines",
    "CCABaseline": "thinbridge.bridge.baselines",
    "RidgeBaseline": "thinbridge.bridge.baselines",
})
