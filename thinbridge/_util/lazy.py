"""Lazy exports: a package names what it offers, and a name's module loads when first used.

As datamol does: ``__getattr__`` on the package (PEP 562) imports the defining module on first
access, so importing a package (``thinbridge``, ``thinbridge.bridge``) costs nothing, and a
search that needs ``thinbridge.bridge.runfiles`` does not load torch for ``bridge.model``.
"""
from __future__ import annotations

import importlib
import sys


def attach(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__, __all__)`` for ``package``; ``exports`` maps each public name to
    the module (absolute) that defines it."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__, list(exports)
