"""Progress bars for long steps, switched off in one place for notebooks and tests.

The CLI shows bars (on stderr). Notebooks call ``set_progress(False)`` so that executed
notebooks hold no volatile progress text for nbval to trip on; ``THINBRIDGE_PROGRESS=0``
does the same from the environment.
"""
from __future__ import annotations

import os

from tqdm import tqdm

_enabled = os.environ.get("THINBRIDGE_PROGRESS", "1") not in {"0", "false", "no"}


def set_progress(enabled: bool) -> None:
    """Turn every thinbridge progress bar on or off."""
    global _enabled
    _enabled = bool(enabled)


def progress_enabled() -> bool:
    return _enabled


def progress(iterable=None, desc: str = "", total: int | None = None, disable: bool = False, **kw):
    """``tqdm`` unless progress is switched off globally or for this call."""
    return tqdm(iterable, desc=desc, total=total, disable=disable or not _enabled, **kw)


_told: set[str] = set()


def notice(message: str) -> None:
    """One line on stderr (``thinbridge: note: ...``), once per message per process."""
    import sys

    if message not in _told:
        _told.add(message)
        print(f"thinbridge: note: {message}", file=sys.stderr)

