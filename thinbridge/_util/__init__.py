"""Small helpers every layer may use: errors (:class:`~thinbridge._util.errors.UserError`),
strict JSON and file hashing (``jsonio``), progress bars and notices, process pools
(``parallel``), the pinned numerical kernels (``numerics``), project paths and output checks
(``paths``) and the torch device (``device``).

The bottom layer: imports nothing from thinbridge but itself, and no heavy library at import
time (torch, numpy, pandas load inside the functions that need them), so that the command
line's parser and ``import thinbridge`` stay cheap. Private: the package's public names are
re-exported by :mod:`thinbridge`.
"""
