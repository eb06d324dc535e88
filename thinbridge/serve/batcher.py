"""Text queries that arrive together are encoded together.

Encoding one short query with the default text model runs every weight matrix (~45 MB) over a
handful of token rows, where a matrix product is least efficient (~35 GFLOP/s for 10 rows, ~80
for 80 rows on one core here), so a query alone costs ~10 ms and one of 8 encoded together ~3.7 ms.
A :class:`TextBatcher` has two worker threads (started on first use): a request hands in its
query and waits; a free worker takes every query waiting (up to ``max_batch``, 4; when it is busy,
also those that arrive within ``linger_s``, 2 ms) and encodes them in one pass
(:func:`thinbridge.features.text.encode_queries_together`), then through the bridge's text head.
A query that arrives alone is encoded alone and gets exactly the bits ``thinbridge query``
computes; queries batched together may differ from those in the last bits (~1e-6), which moves a
ranking only between hits whose scores tie to that precision. ``max_batch=1`` encodes every query
alone. Two workers, and batches of at most 4, because 8 clients on 2 cores then wait least (measured
with ``scripts/bench_serve.py``: p50 ~40 ms against ~55 ms for one worker and batches of 8): while
one worker is inside a matrix product, which lets go of Python's interpreter lock, the other
prepares its batch, and the event loop answers the batch before. Imports only
:mod:`thinbridge.features` and :mod:`thinbridge._util`.
"""
from __future__ import annotations

import queue
import threading
import time

import numpy as np


class _Job:
    """One query: the worker sets ``result`` or ``error``, then calls ``finish`` (wakes the waiter)."""
    __slots__ = ("text", "result", "error", "finish")

    def __init__(self, text: str, finish):
        self.text, self.result, self.error, self.finish = text, None, None, finish


class TextBatcher:
    """``embed(text)`` -> the bridge embedding of ``text`` (float32, unit length), batched with
    whatever other queries are waiting. ``heads``: the run's NumpyHeads; ``model``: its text model."""

    def __init__(self, heads, model: str | None, max_batch: int = 4, linger_s: float = 0.002, workers: int = 2):
        self.heads, self.model, self.max_batch = heads, model, max(1, int(max_batch))
        self.workers = max(1, int(workers))
        self.linger_s = linger_s if self.max_batch > 1 else 0.0
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.batches = self.encoded = self.largest = 0  # counters, for /api/health (under _lock)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []  # the workers start on first use

    def _started(self) -> None:
        if not self._threads:
            with self._lock:
                if not self._threads:
                    for i in range(self.workers):
                        t = threading.Thread(target=self._work, name=f"thinbridge-text-batcher-{i}", daemon=True)
                        t.start()
                        self._threads.append(t)

    def embed(self, text: str, timeout: float = 60) -> np.ndarray:
        """The embedding of ``text``, waiting in this thread."""
        self._started()
        done = threading.Event()
        job = _Job(text, done.set)
        self.jobs.put(job)
        if not done.wait(timeout):
            raise TimeoutError(f"the text model did not answer in {timeout:.0f} s")
        if job.error is not None:
            raise job.error
        return job.result

    async def embed_async(self, text: str) -> np.ndarray:
        """The embedding of ``text``, awaited on the running event loop (no thread of its own waits)."""
        import asyncio

        self._started()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        job = _Job(text, lambda: loop.call_soon_threadsafe(_settle, fut, job))
        self.jobs.put(job)
        return await fut

    def _work(self) -> None:
        from thinbridge.features.text import encode_queries_together

        last = 0
        while True:
            batch = [self.jobs.get()]
            while len(batch) < self.max_batch:  # what waits now
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            if len(batch) > 1 or last > 1:  # busy: what arrives within linger_s joins too
                deadline = time.perf_counter() + self.linger_s
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self.jobs.get(timeout=max(0.0, deadline - time.perf_counter())))
                    except queue.Empty:
                        break
            last = len(batch)
            try:
                z = self.heads.embed(encode_queries_together([j.text for j in batch], self.model), "text")
                for j, row in zip(batch, z):
                    j.result = row
            except Exception as e:  # handed to every waiting request; the worker goes on
                for j in batch:
                    j.error = e
            with self._lock:  # two workers count
                self.batches += 1
                self.encoded += len(batch)
                self.largest = max(self.largest, len(batch))
            for j in batch:
                j.finish()


def _settle(fut, job: _Job) -> None:
    if not fut.done():  # the request may have been cancelled (the client left)
        if job.error is not None:
            fut.set_exception(job.error)
        else:
            fut.set_result(job.result)

