"""The ``thinbridge`` command: prepare, download, train, evaluate, query, index and serve.

``main`` builds the parser and runs a subcommand; each subcommand is one module (``prepare``,
``download``, ``train``, ``evaluate``, ``query``, ``index``, ``serve``: ``add_subparser`` and ``run``), as
chemprop's ``cli``. Every user mistake ends in one line on stderr (``thinbridge: error: ...``)
and exit status 2; only bugs show a traceback. The top layer: it may import every other
subpackage (never ``thinbridge.testing``), lazily, inside ``run``.
"""
from thinbridge.cli.main import build_parser, main

__all__ = ["main", "build_parser"]
