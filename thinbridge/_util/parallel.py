"""Running a function on several cores: :func:`parallel_map` over many items, or a
:func:`worker_pool` kept for a stream of tasks.

Used for structure standardisation (``prepare``, ``index``) and the ablation's cells. Worker
processes are forked (on Linux), so the function and the items are inherited, not pickled:
closures and large arrays cost nothing to hand over; only the results travel back. Results
come back in input order, so they do not depend on the number of workers.

Workers ignore Ctrl-C (the parent handles it and stops them: one message, no tracebacks
from each worker) and, on Linux, die with the parent if it is killed.
"""
from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

from thinbridge._util.progress import progress

T = TypeVar("T")
R = TypeVar("R")

_JOB: tuple[Callable, Sequence] | None = None


def n_workers(n_jobs: int | None, n_items: int, min_items: int = 1) -> int:
    """Workers to use: ``n_jobs`` (None or 0: every core, at most 8), never more than the items,
    and one when there are fewer than ``min_items`` items (forking costs more than it saves), no
    fork, or this process is itself a daemonic worker (a pool's or a Dask worker's: it may not
    have children)."""
    import multiprocessing as mp

    if n_jobs is not None and int(n_jobs) < 0:
        raise ValueError(f"n_jobs must be >= 0 (0 or None: every core), got {n_jobs}")
    n = int(n_jobs) if n_jobs else min(os.cpu_count() or 1, 8)
    if (n_items < max(2, min_items) or "fork" not in mp.get_all_start_methods() or _forking_is_unsafe()
            or mp.current_process().daemon):
        return 1
    return max(1, min(n, n_items))


def _forking_is_unsafe() -> bool:
    """A process whose OpenMP pool has several threads can deadlock in a forked child. With
    :mod:`thinbridge._util.numerics` in force torch uses one thread; with native numerics, run here."""
    torch = sys.modules.get("torch")
    return torch is not None and hasattr(torch, "get_num_threads") and torch.get_num_threads() > 1


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _init_worker() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # held by the parent while forking
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: terminate() just ends a worker
    if sys.platform.startswith("linux"):
        try:  # die with the parent (SIGTERM, SIGKILL): no orphaned workers
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def _call(i: int):
    fn, items = _JOB
    return fn(items[i])


def _apply(*args):
    fn, _ = _JOB
    return fn(*args)


@contextmanager
def _fork_pool(n: int):
    """A pool of ``n`` forked workers (the caller has set :data:`_JOB`), terminated on leaving,
    also on an error or Ctrl-C."""
    import multiprocessing as mp
    import warnings

    # Ctrl-C or SIGTERM while the pool is being set up would strike inside multiprocessing's own
    # bookkeeping (a half-made Finalize object, a traceback at exit): hold them until the pool
    # exists and its clean-up is in place, then take them
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork of a threaded process
            pool = mp.get_context("fork").Pool(n, initializer=_init_worker)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    with pool:  # __exit__ terminates the workers
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        yield pool


def parallel_map(fn: Callable[[T], R], items: Sequence[T], n_jobs: int | None = 1, desc: str = "",
                 show_progress: bool = False, chunksize: int = 1, min_items: int = 1) -> list[R]:
    """``[fn(x) for x in items]``, on ``n_jobs`` forked worker processes when that pays.

    ``n_jobs``: 1 runs here; None or 0 uses every core (see :func:`n_workers`); ``min_items``:
    below this many items run here. A progress bar (``desc``) counts finished items.
    """
    global _JOB
    items = list(items)
    n = n_workers(n_jobs, len(items), min_items)
    bar = dict(desc=desc, total=len(items), disable=not show_progress)
    if n == 1:
        return [fn(x) for x in progress(items, **bar)]
    _JOB = (fn, items)
    try:
        with _fork_pool(n) as pool:
            return list(progress(pool.imap(_call, range(len(items)), chunksize=max(1, int(chunksize))), **bar))
    finally:
        _JOB = None


@contextmanager
def worker_pool(fn: Callable[..., R], n: int) -> Iterator[Callable[..., Callable[[], R]]]:
    """``n`` forked worker processes that run ``fn``, kept for as long as the block lasts.

    Yields ``submit(*args)``: it sends ``args`` to a free worker at once and returns a function
    that waits for ``fn(*args)`` and returns it (or raises its error). With ``n`` 1 nothing is
    forked and ``fn`` runs, here, when its result is asked for. ``fn`` is inherited by the fork,
    not pickled (a closure is fine); ``args`` and results are pickled. One pool at a time.
    """
    global _JOB
    if n <= 1:
        yield lambda *args: (lambda: fn(*args))
        return
    if _JOB is not None:
        raise RuntimeError("worker_pool: another pool of this process is running")
    _JOB = (fn, None)
    try:
        with _fork_pool(n) as pool:
            yield lambda *args: pool.apply_async(_apply, args).get
    finally:
        _JOB = None
