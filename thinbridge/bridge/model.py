"""The bridge: two linear heads over frozen features, saved as safetensors + JSON.

``drug_head``: ECFP4 (2048) -> d; ``text_head``: sentence embedding (D) -> d; both outputs
L2-normalised, so a dot product is a cosine similarity. Nothing else is trained.
A run folder holds ``model.safetensors`` (the weights, no pickle) and ``config.json``
(data hash, encoder identities, split, seed and every hyper-parameter).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thinbridge._util import jsonio
from thinbridge._util.errors import UserError
from thinbridge.bridge.runfiles import CONFIG, WEIGHTS, load_arrays, read_config  # noqa: F401  (read_config: re-exported)



class SparseRows:
    """Rows of a mostly-zero matrix (fingerprints) as the indices and values of their non-zeros.

    ``indices`` and ``weights`` hold every row's non-zero columns and values one row after
    another; ``offsets[i]`` is where row ``i`` starts (the layout of ``torch.nn.functional.
    embedding_bag``). Bit vectors have weights 1; count fingerprints keep their counts.
    """

    def __init__(self, indices: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor, n_cols: int):
        self.indices, self.offsets, self.weights, self.n_cols = indices, offsets, weights, int(n_cols)

    @classmethod
    def from_dense(cls, x, device=None) -> "SparseRows":
        """From a dense ``(n, n_cols)`` array (numpy or torch), row by row."""
        import numpy as np

        x = np.asarray(x)
        rows, cols = np.nonzero(x)
        counts = np.bincount(rows, minlength=x.shape[0])
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        return cls(torch.as_tensor(cols.astype(np.int64), device=device), torch.as_tensor(offsets, device=device),
                   torch.as_tensor(x[rows, cols].astype(np.float32), device=device), x.shape[1])

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def take(self, rows: torch.Tensor) -> "SparseRows":
        """The rows ``rows`` (a 1-D index tensor), in that order."""
        if self.indices.device.type != "cpu":
            starts = self.offsets
            ends = torch.cat((self.offsets[1:], torch.tensor([len(self.indices)], device=starts.device)))
            lengths = (ends - starts)[rows]
            new_offsets = torch.cumsum(lengths, 0) - lengths
            pos = torch.repeat_interleave(starts[rows] - new_offsets, lengths) + torch.arange(
                int(lengths.sum()), device=starts.device)
            return SparseRows(self.indices[pos], new_offsets, self.weights[pos], self.n_cols)
        # on the CPU the same in numpy: a few small array operations, ~3x less overhead than torch's
        starts = self.offsets.numpy()
        r = rows.numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)
        lengths = np.diff(starts, append=len(self.indices))[r]
        new_offsets = np.cumsum(lengths) - lengths
        pos = np.repeat(starts[r] - new_offsets, lengths) + np.arange(int(lengths.sum()))
        return SparseRows(torch.from_numpy(self.indices.numpy()[pos]), torch.from_numpy(new_offsets),
                          torch.from_numpy(self.weights.numpy()[pos]), self.n_cols)


class Bridge(nn.Module):
    """Two thin heads into a shared ``dim``-dimensional space: linear (the paper's), or with one
    hidden ReLU layer of ``hidden`` units each (``hidden`` > 0: ``drug_hidden`` and
    ``text_hidden`` feed ``drug_head`` and ``text_head``)."""

    def __init__(self, drug_dim: int = 2048, text_dim: int = 384, dim: int = 256, hidden: int = 0):
        super().__init__()
        self.hidden = int(hidden)
        if self.hidden:
            self.drug_hidden = nn.Linear(drug_dim, self.hidden)
            self.text_hidden = nn.Linear(text_dim, self.hidden)
        self.drug_head = nn.Linear(self.hidden or drug_dim, dim)
        self.text_head = nn.Linear(self.hidden or text_dim, dim)

    @property
    def dims(self) -> dict:
        first = (self.drug_hidden, self.text_hidden) if self.hidden else (self.drug_head, self.text_head)
        dims = {"drug_dim": first[0].in_features, "text_dim": first[1].in_features, "dim": self.drug_head.out_features}
        return {**dims, "hidden": self.hidden} if self.hidden else dims  # a linear bridge's record as before

    def encode_drug(self, x: torch.Tensor) -> torch.Tensor:
        if self.hidden:
            x = F.relu(self.drug_hidden(x))
        return F.normalize(self.drug_head(x), dim=-1)

    def encode_drug_sparse(self, bits: "SparseRows") -> torch.Tensor:
        """The drug head on on-bit indices (:class:`SparseRows`): the same parameters and the
        same result as :meth:`encode_drug` on the dense rows, with ~45 multiply-adds per output
        instead of 2,048 (ECFP4 sets ~2% of its bits)."""
        first = self.drug_hidden if self.hidden else self.drug_head
        z = F.embedding_bag(bits.indices, first.weight.t(), bits.offsets, mode="sum",
                            per_sample_weights=bits.weights) + first.bias
        if self.hidden:
            z = self.drug_head(F.relu(z))
        return F.normalize(z, dim=-1)

    def encode_text(self, e: torch.Tensor) -> torch.Tensor:
        if self.hidden:
            e = F.relu(self.text_hidden(e))
        return F.normalize(self.text_head(e), dim=-1)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_drug(x), self.encode_text(e)

    @torch.no_grad()
    def embed(self, x, side: str, batch: int = 8192):
        """Numpy in, numpy out: L2-normalised float32 embeddings ``(n, dim)`` of frozen features.

        ``side`` is ``"drug"`` (ECFP4 rows) or ``"text"`` (sentence embeddings); rows are encoded
        ``batch`` at a time on the model's device. A feature width the head was not built for
        is a :class:`UserError`, not a shape error from inside torch.
        """
        import numpy as np

        if side not in ("drug", "text"):
            raise ValueError(f"side must be 'drug' or 'text', not {side!r}")
        width = self.dims[f"{side}_dim"]
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != width:
            raise UserError(f"{side} features have shape {x.shape}; this bridge expects {width} columns")
        self.eval()
        dev = next(self.parameters()).device
        out = np.empty((x.shape[0], self.drug_head.out_features), dtype=np.float32)
        for s in range(0, x.shape[0], batch):
            if side == "drug":  # fingerprints: the sparse path, as in training
                z = self.encode_drug_sparse(SparseRows.from_dense(x[s:s + batch], dev))
            else:
                z = self.encode_text(torch.as_tensor(np.asarray(x[s:s + batch], dtype=np.float32), device=dev))
            out[s:s + batch] = z.cpu().numpy()
        return out

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def save_run(run_dir: str | Path, model: Bridge, config: dict) -> None:
    """Write ``model.safetensors`` and ``config.json`` (the config gains the model's dims)."""
    from safetensors.torch import save_file

    from thinbridge._util.paths import check_out_dir

    run = check_out_dir(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    cfg = dict(config)
    cfg["model"] = model.dims
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(run / WEIGHTS), metadata={"format": "thinbridge-bridge-1"})
    jsonio.write(run / CONFIG, cfg, sort_keys=True)


def load_run(run_dir: str | Path, expect: dict | None = None) -> tuple[Bridge, dict]:
    """Load a saved bridge and its config (checks in :func:`thinbridge.bridge.runfiles.load_arrays`)."""
    state, cfg = load_arrays(run_dir, expect)
    d = cfg["model"]
    model = Bridge(int(d["drug_dim"]), int(d["text_dim"]), int(d["dim"]), int(d.get("hidden", 0)))
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return model.eval(), cfg
