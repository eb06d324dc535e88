"""An index's embeddings file: float32 rows in a safetensors file, written as they come.

:class:`Float32Writer` appends rows to ``embeddings.safetensors`` without holding them in
memory (the header is reserved up front and written last); :class:`EmbeddingsFile` maps it
back and scores queries against it in blocks (:meth:`EmbeddingsFile.top_k`), so an index
larger than memory can be scanned.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from thinbridge._util.errors import UserError
from thinbridge.search.ranking import best_first

#: the tensor's name in the safetensors file
INDEX_TENSOR = "embeddings"
HEADER_RESERVE = 8192  # bytes kept for the safetensors JSON header; 8 + this is a multiple of 8
#: exact search reads the embeddings in blocks of this many rows when the file is larger than
SCAN_BLOCK_ROWS = 65536
SCAN_IN_ONE_MAX_BYTES = 1 << 30  # ... this: below, one product over the memory-mapped file


# ----------------------------------------------------------------------------------------------
# the embeddings file
# ----------------------------------------------------------------------------------------------
class Float32Writer:
    """A safetensors file with one float32 tensor ``(n, dim)``, appended to chunk by chunk.

    The JSON header's room is reserved up front (padded with spaces, as safetensors itself
    pads) and filled in when the row count is known, so memory never holds more than a chunk.
    """

    def __init__(self, path: Path, dim: int):
        self.path, self.dim, self.n = Path(path), int(dim), 0
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.fh = open(self.tmp, "wb")
        self.fh.write(b"\0" * (8 + HEADER_RESERVE))

    def write(self, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr, dtype="<f4")
        assert arr.ndim == 2 and arr.shape[1] == self.dim
        self.fh.write(arr.tobytes())
        self.n += arr.shape[0]

    def close(self, metadata: dict) -> None:
        header = {
            INDEX_TENSOR: {"dtype": "F32", "shape": [self.n, self.dim], "data_offsets": [0, self.n * self.dim * 4]},
            "__metadata__": {k: str(v) for k, v in metadata.items()},
        }
        hb = json.dumps(header, separators=(",", ":")).encode()
        if len(hb) > HEADER_RESERVE:
            raise RuntimeError("safetensors header larger than the reserved room")
        self.fh.seek(0)
        self.fh.write(struct.pack("<Q", HEADER_RESERVE) + hb + b" " * (HEADER_RESERVE - len(hb)))
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class EmbeddingsFile:
    """The float32 ``(n, dim)`` tensor of a safetensors file, read without loading it whole.

    :attr:`array` is a read-only memory map (rows are read when touched);
    :meth:`blocks` reads the rows in order a block at a time (the memory in use stays at a
    block, whatever the file's size); :meth:`top_k` is the exact search.
    """

    def __init__(self, path: Path, n: int, dim: int, offset: int):
        self.path, self.n, self.dim, self.offset = Path(path), int(n), int(dim), int(offset)
        self._array = None

    @classmethod
    def open(cls, path: str | Path, name: str = INDEX_TENSOR) -> "EmbeddingsFile":
        """Read and check the header; a missing, truncated or foreign file is a UserError."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                (size,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(size))
            t = header[name]
            n, dim = (int(v) for v in t["shape"])
            ok = (t["dtype"] == "F32" and t["data_offsets"] == [0, n * dim * 4]
                  and path.stat().st_size == 8 + size + n * dim * 4)
        except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
            raise UserError(f"{path}: unreadable index embeddings ({type(e).__name__})") from None
        if not ok:
            raise UserError(f"{path}: unreadable index embeddings (not a float32 (n, dim) tensor of the file's size)")
        return cls(path, n, dim, 8 + size)

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        return self.n * self.dim * 4

    @property
    def array(self) -> np.ndarray:
        """All rows as a read-only memory-mapped ``(n, dim)`` float32 array."""
        if self._array is None:
            self._array = (np.memmap(self.path, dtype="<f4", mode="r", offset=self.offset, shape=(self.n, self.dim))
                           if self.n else np.empty((0, self.dim), dtype=np.float32))
        return self._array

    def take(self, rows) -> np.ndarray:
        """The rows ``rows`` (in that order) as an in-memory float32 array: from the memory map
        when the file is small, else read row by row (the kernel maps the pages around each
        touched one, so scattered reads through a map would make most of a large file resident)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.nbytes <= SCAN_IN_ONE_MAX_BYTES:
            return np.asarray(self.array[rows], dtype=np.float32)
        width, out = self.dim * 4, np.empty((len(rows), self.dim), dtype=np.float32)
        with open(self.path, "rb", buffering=0) as fh:
            for i, r in enumerate(rows.tolist()):
                out[i] = np.frombuffer(os.pread(fh.fileno(), width, self.offset + r * width), dtype="<f4")
        return out

    def blocks(self, rows: int = SCAN_BLOCK_ROWS, whole_if_small: bool = True):
        """``(first row, block)`` over the whole file: blocks of ``rows`` read one after another
        (nothing stays in memory), or the memory map in one block when ``whole_if_small`` and
        the file is at most :data:`SCAN_IN_ONE_MAX_BYTES` (slices of it when not)."""
        if self.nbytes <= SCAN_IN_ONE_MAX_BYTES:
            step = self.n if whole_if_small else rows
            yield from ((s, self.array[s:s + step]) for s in range(0, self.n, max(1, step)))
            return
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            for start in range(0, self.n, rows):
                m = min(rows, self.n - start)
                yield start, np.fromfile(fh, dtype="<f4", count=m * self.dim).reshape(m, self.dim)

    def top_k(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search: for each query row, the ``k`` rows with the largest inner product and
        their scores, ``(m, k)`` each, best first, ties by row (as :func:`top_k`)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = min(int(k), self.n)
        if k <= 0:
            return np.empty((len(q), 0), dtype=np.int64), np.empty((len(q), 0), dtype=np.float32)
        found_rows, found_scores = [], []
        for start, block in self.blocks(whole_if_small=len(q) == 1):  # many queries: a block of scores at a time
            s = np.asarray((block @ q[0])[:, None] if len(q) == 1 else block @ q.T)  # (rows, m)
            b = len(block)
            part = np.argpartition(s, b - k, axis=0)[b - k:] if k < b else np.broadcast_to(
                np.arange(b)[:, None], (b, len(q)))
            found_rows.append(part + start)
            found_scores.append(np.take_along_axis(s, part, axis=0))
        rows, scores = np.concatenate(found_rows), np.concatenate(found_scores)
        out = [best_first(rows[:, j], scores[:, j], k) for j in range(len(q))]
        return np.stack([r for r, _ in out]), np.stack([s for _, s in out])

