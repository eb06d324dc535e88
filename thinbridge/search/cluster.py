"""Running an index build's partitions on a Dask cluster (``dask.distributed``).

``thinbridge index --scheduler ADDRESS`` uses a running cluster; ``--workers N`` starts a
``LocalCluster`` of N single-threaded worker processes on this machine. :func:`connect` fails
within seconds, with one line, when the scheduler cannot be reached or has no workers.
:func:`run_partitions` sends the bridge to every worker once, submits one task per partition
(:func:`thinbridge.search.shards.build_shard`) and reports each as it finishes. A worker that dies is
replaced by Dask and its partitions run again elsewhere (up to Dask's
``distributed.scheduler.allowed-failures``); since a shard is written under temporary names
and renamed, a partition that ran twice leaves one shard, and the merge reads each partition's
shard once, so nothing is lost or counted twice.

Workers import thinbridge to run a task, which pins their numerical kernels
(:mod:`thinbridge._util.numerics`); :func:`check_workers` asks every worker what is in force and
says so when one is not pinned (a worker started with numpy already loaded and other settings).

dask is imported here only, and only for builds that ask for it.
"""
from __future__ import annotations

import logging
import re
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

from thinbridge._util.errors import UserError
from thinbridge._util.progress import notice

#: seconds to reach a scheduler, and to wait for it to have a worker
SCHEDULER_TIMEOUT_S = 5
WORKERS_TIMEOUT_S = 10
DASK_PIN = "dask[distributed]==2026.8.0"
_ADDRESS = re.compile(r"^(?:[a-z]+://)?(?:\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):\d{1,5}/?$")


def check_address(address: str) -> str:
    """A scheduler address of the form ``[tcp://]host:port``; anything else is a UserError."""
    a = (address or "").strip()
    if not a:
        raise UserError("--scheduler needs the Dask scheduler's address, e.g. tcp://10.0.0.5:8786")
    if not _ADDRESS.match(a):
        raise UserError(f"--scheduler {address!r} is not a scheduler address; give [tcp://]HOST:PORT, "
                        "e.g. tcp://10.0.0.5:8786")
    return a


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UserError(f"--scheduler and --workers need Dask: pip install {DASK_PIN!r}") from None
    return distributed


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own log lines (a worker restarted, a connection retried) off the terminal."""
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: of the running scheduler at ``scheduler``, or of a new ``LocalCluster`` of
    ``workers`` processes (one thread each), closed (and its workers stopped) on leaving."""
    distributed = _distributed()
    with _quiet_dask():
        cluster = None
        if scheduler:
            try:
                client = distributed.Client(scheduler, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise UserError(f"cannot reach the Dask scheduler at {scheduler} within {SCHEDULER_TIMEOUT_S} s "
                                f"({type(e).__name__}); is it running, and is the address right?") from None
            try:
                client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            except (TimeoutError, OSError):
                client.close()
                raise UserError(f"the Dask scheduler at {scheduler} has no workers (waited {WORKERS_TIMEOUT_S} s); "
                                f"start some with `dask worker {scheduler}`") from None
        else:
            # Workers' own log lines stay off the terminal: a task's error or a worker's death reaches the
            # user through its future (one line, KilledWorker), while a worker's log on shutdown (its
            # heartbeat finding the scheduler gone after Ctrl-C) is noise that raced the clean-up note.
            # No dashboard; the scheduler's own HTTP endpoint on a free loopback port (its default, 8787,
            # may be taken by another cluster, and then Dask warns on the terminal).
            cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.CRITICAL,
                                               scheduler_kwargs={"dashboard": False,
                                                                 "dashboard_address": "127.0.0.1:0"})
            client = distributed.Client(cluster, set_as_default=False)
        try:
            yield client
        except BaseException:  # Ctrl-C, SIGTERM or an error: the teardown's own complaints (closed comms, and
            # asyncio's "Task exception was never retrieved" for the scheduler's cut-off handlers) are noise
            for name in ("distributed", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
            raise
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def check_workers(client) -> dict:
    """The scheduler's address, the workers and the numerics each reports; a note when a worker
    does not pin thinbridge's numerics as this process does (its last bits may then differ)."""
    from thinbridge._util.numerics import describe
    from thinbridge.search.shards import worker_state

    states = client.run(worker_state)
    here = describe()
    odd = [w for w, s in states.items()
           if s["numerics"].get("profile") != here.get("profile") or s["numerics"].get("loaded_before_thinbridge")]
    if odd:
        notice(f"{len(odd)} of {len(states)} Dask worker(s) do not pin the numerical kernels as this process does "
               "(numpy loaded first with other settings, or THINBRIDGE_NUMERICS); their embeddings may differ in the "
               "last bits. Start the workers after `eval \"$(python -m thinbridge._util.numerics)\"`.")
    return {"scheduler": client.scheduler_info()["address"], "workers": len(states),
            "worker_numerics": sorted({s["numerics"].get("profile", "?") for s in states.values()}),
            "worker_versions": sorted({s["thinbridge"] for s in states.values()})}


def run_partitions(client, fn: Callable, tasks: list[tuple[str, tuple]], heads,
                   on_done: Callable[[dict], None]) -> None:
    """Run ``fn(*args, heads)`` for every ``(name, args)`` of ``tasks`` on the cluster.

    ``heads`` is sent to each worker once. ``on_done(result)`` is called as each task finishes.
    A partition that kept killing workers is a UserError; on any error or interrupt the
    remaining tasks are cancelled.
    """
    distributed = _distributed()
    if not tasks:
        return
    with _quiet_dask():
        heads_on_workers = client.scatter(heads, broadcast=True, hash=False)
        token = uuid.uuid4().hex[:8]  # keys of this build only, on a scheduler others may share
        futures = [client.submit(fn, *args, heads_on_workers, key=f"thinbridge-{name}-{token}", pure=False, retries=1)
                   for name, args in tasks]
        try:
            for fut in distributed.as_completed(futures, loop=client.loop):
                try:
                    on_done(fut.result())
                except distributed.KilledWorker as e:
                    raise UserError(f"partition {fut.key} stopped the Dask workers that ran it ({e}); too little "
                                    "memory per worker? Finished shards are kept: run the same command to "
                                    "resume") from None
        finally:
            client.cancel([f for f in futures if not f.done()])
