"""Training many bridges at once: K bridges over the same inputs as one batched model.

Every cell of a grid (temperature, margin, hard-negative weight, seed, ...) reads the same
frozen features, so :func:`fit_many` stacks the K bridges' weights and runs one pass per step:

* each bridge draws its own batch order from its own seed and starts from the weights its
  seed gives (exactly as training it alone would);
* the drug heads run on the fingerprints' on-bit indices (``embedding_bag``,
  :class:`~thinbridge.bridge.model.SparseRows`); the text heads and the similarity matrices are
  matrix products done by numpy's BLAS on the CPU (:func:`matmul`);
* the loss (:func:`thinbridge.testing.reference.bridge_loss`, written for a stack of K similarity
  matrices) takes each bridge's own temperature, margin and hard-negative weight;
* AdamW updates each bridge's slice on its own; a bridge whose validation MRR has not improved
  for ``patience`` epochs stops (its weights no longer change) and keeps its best epoch.

Every operation works slice by slice, so a bridge's arithmetic does not depend on what else is
in the stack: :func:`thinbridge.training.run.fit` is this function with K = 1, and a bridge trained in
a grid equals the same bridge trained alone (``tests/test_grid.py``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from thinbridge.config import RunConfig
from thinbridge._util.errors import UserError
from thinbridge.bridge.model import Bridge, SparseRows
from thinbridge._util.device import device
from thinbridge._util.progress import progress

#: settings that must be the same for every bridge of one stack
SHARED = ("dim", "batch_size", "lr", "weight_decay", "mask_false_negatives")
BETAS, EPS = (0.9, 0.999), 1e-8  # AdamW, as torch.optim.AdamW's defaults


class _BlasMatmul(torch.autograd.Function):
    """``a @ b`` (2-D or stacked 3-D, float32, CPU) and its gradients, computed by numpy's OpenBLAS."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return torch.from_numpy(np.matmul(a.detach().numpy(), b.detach().numpy()))

    @staticmethod
    def backward(ctx, g):
        a, b = (t.detach().numpy() for t in ctx.saved_tensors)
        g = g.detach().numpy()
        ga = torch.from_numpy(np.matmul(g, np.swapaxes(b, -1, -2))) if ctx.needs_input_grad[0] else None
        gb = torch.from_numpy(np.matmul(np.swapaxes(a, -1, -2), g)) if ctx.needs_input_grad[1] else None
        return ga, gb


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for training. On the CPU the products go to numpy's OpenBLAS, which
    :mod:`thinbridge._util.numerics` pins to its Haswell (AVX2) kernels and one thread: the same bits on
    every x86 CPU, ~3x faster than MKL's portable branch that torch's own product runs there
    (``benchmarks/train.json``). Elsewhere (a GPU) it is ``torch.matmul``."""
    if a.device.type == "cpu" and a.dtype == b.dtype == torch.float32:
        return _BlasMatmul.apply(a, b)
    return torch.matmul(a, b)


class _SparseRowsMatmul(torch.autograd.Function):
    """``S @ w`` for fingerprint rows ``S`` (:class:`SparseRows`) and a weight ``w``; the gradient
    ``S^T g`` as a SciPy sparse product (~4x faster than ``embedding_bag``'s sorting backward)."""

    @staticmethod
    def forward(ctx, w, bits):
        ctx.bits = bits
        return F.embedding_bag(bits.indices, w.detach(), bits.offsets, mode="sum", per_sample_weights=bits.weights)

    @staticmethod
    def backward(ctx, g):
        import scipy.sparse

        b = ctx.bits
        indptr = np.append(b.offsets.numpy(), len(b.indices))
        s = scipy.sparse.csr_matrix((b.weights.numpy(), b.indices.numpy(), indptr), shape=(len(b), b.n_cols))
        return torch.from_numpy(np.ascontiguousarray(s.T @ g.detach().numpy(), dtype=np.float32)), None


def sparse_matmul(bits: SparseRows, w: torch.Tensor) -> torch.Tensor:
    """The drug head's product for training: fingerprint rows (on-bit indices) times ``w``."""
    if w.device.type == "cpu" and w.dtype == torch.float32:
        return _SparseRowsMatmul.apply(w, bits)
    return F.embedding_bag(bits.indices, w, bits.offsets, mode="sum", per_sample_weights=bits.weights)


def value_codes(values) -> np.ndarray:
    """Integer codes of values (equal values, equal codes), in order of first appearance."""
    return pd.factorize(pd.Series(list(values)))[0]


class _Stack:
    """The K bridges' parameters, one list per bridge: each layer's weight, transposed to
    ``(in, out)``, and bias, the drug head's layers first (the hidden one, if any, then the
    output), then the text head's.

    Every operation runs bridge by bridge on the active bridges only, so a bridge's arithmetic is
    the same whatever else is in the stack, and stopped bridges cost nothing.
    """

    def __init__(self, cfgs: list[RunConfig], drug_dim: int, text_dim: int, dev):
        import random

        self.params: list[list[torch.Tensor]] = []
        self.dims = (drug_dim, text_dim)
        for c in cfgs:  # each bridge starts exactly where training it alone would start
            random.seed(c.seed)
            np.random.seed(c.seed)
            torch.manual_seed(c.seed)
            h = Bridge(drug_dim, text_dim, c.dim, c.hidden_units)
            ps = [t for layer in _layers(h) for t in (layer.weight.detach().t().contiguous(), layer.bias.detach().clone())]
            self.params.append([p.to(dev).requires_grad_(True) for p in ps])
        self.m = [[torch.zeros_like(p) for p in ps] for ps in self.params]
        self.v = [[torch.zeros_like(p) for p in ps] for ps in self.params]
        self.t = 0
    @property
    def k(self) -> int:
        return len(self.params)

    def encode(self, bits: SparseRows, rows: torch.Tensor, x_text: torch.Tensor, which: list[int]):
        """Normalised embeddings ``(len(which), B, d)``: batch ``rows[j]`` through bridge ``which[j]``."""
        zd, zt = [], []
        for j, i in enumerate(which):
            ps = self.params[i]
            half = len(ps) // 2
            d = sparse_matmul(bits.take(rows[j]), ps[0]) + ps[1]
            t = matmul(x_text[rows[j]], ps[half]) + ps[half + 1]
            if half == 4:  # a hidden layer
                d = matmul(F.relu(d), ps[2]) + ps[3]
                t = matmul(F.relu(t), ps[half + 2]) + ps[half + 3]
            zd.append(d)
            zt.append(t)
        return F.normalize(torch.stack(zd), dim=-1), F.normalize(torch.stack(zt), dim=-1)

    @torch.no_grad()
    def step(self, lr: float, weight_decay: float, which: list[int]) -> None:
        """One AdamW step (decoupled weight decay, bias-corrected moments) for the bridges ``which``:
        torch's fused AdamW kernel, one pass over every parameter of every bridge in one call
        (elementwise, so a bridge's update does not depend on the others; ~3x faster than the
        seven separate passes of the textbook update)."""
        self.t += 1
        params = [p for i in which for p in self.params[i]]
        ms, vs = [m for i in which for m in self.m[i]], [v for i in which for v in self.v[i]]
        if params and hasattr(torch, "_fused_adamw_"):
            step = torch.tensor(float(self.t), device=params[0].device)  # the kernel reads it on the device
            torch._fused_adamw_(params, [p.grad for p in params], ms, vs, [], [step] * len(params), lr=lr,
                                beta1=BETAS[0], beta2=BETAS[1], weight_decay=weight_decay, eps=EPS,
                                amsgrad=False, maximize=False)
        else:  # a torch without the fused kernel (the pinned one has it): the textbook update
            b1, b2 = BETAS
            c1, c2 = 1 - b1 ** self.t, math.sqrt(1 - b2 ** self.t)
            for p, m, v in zip(params, ms, vs):
                g = p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.mul_(1 - lr * weight_decay).addcdiv_(m, v.sqrt().div_(c2).add_(EPS), value=-lr / c1)
        for p in params:
            p.grad = None

    def bridge(self, k: int, state: list[torch.Tensor] | None = None) -> Bridge:
        """Bridge ``k`` as an ordinary :class:`Bridge` (from ``state``, a saved copy, if given)."""
        ps = state if state is not None else self.params[k]
        hidden = ps[0].shape[1] if len(ps) == 8 else 0
        out = Bridge(*self.dims, ps[-1].shape[0], hidden)
        with torch.no_grad():
            for layer, w, b in zip(_layers(out), ps[0::2], ps[1::2]):
                layer.weight.copy_(w.t())
                layer.bias.copy_(b)
        return out.eval()


def _layers(bridge: Bridge) -> list:
    """The bridge's linear layers in the stack's order: drug (hidden, output), text (hidden, output)."""
    if bridge.hidden:
        return [bridge.drug_hidden, bridge.drug_head, bridge.text_hidden, bridge.text_head]
    return [bridge.drug_head, bridge.text_head]


def stacked_loss(zd, zt, groups, same, temperature, margin, hard_weight) -> torch.Tensor:
    r"""The bridge loss of K bridges at once: ``(K,)`` losses.

    The bridge loss is symmetric InfoNCE with a margin and hard-negative weighting.
    A batch holds :math:`B` matched pairs: row :math:`i` of ``z_drug`` (the projected ECFP4
    fingerprint) and row :math:`i` of ``z_text`` (the projected sentence embedding) describe the
    same item. Both are L2-normalised, so :math:`S = Z_{\text{drug}} Z_{\text{text}}^\top` holds
    cosine similarities. With temperature :math:`\tau`, margin :math:`m` and weights
    :math:`w_{ij}`, the drug-to-text loss of anchor :math:`i` is

    .. math::

        \ell^{d \to t}_i = -\log
        \frac{\exp\big((S_{ii} - m)/\tau\big)}
             {\exp\big((S_{ii} - m)/\tau\big) + \sum_{j \ne i} w_{ij} \exp\big(S_{ij}/\tau\big)},

        w_{ij} = \begin{cases}
            0 & \text{if } \mathrm{same\_item}_{ij} \text{ (a false negative, masked out)},\\
            \lambda & \text{else if } g_j = g_i \text{ (a hard negative sharing the anchor's target)},\\
            1 & \text{otherwise,}
        \end{cases}

    where :math:`g` are the target groups and :math:`\lambda` is ``hard_weight``. The text-to-drug
    loss :math:`\ell^{t \to d}_i` is the same expression on :math:`S^\top`, and the loss is

    .. math::

        \mathcal{L} = \tfrac12 \Big( \tfrac1B \sum_i \ell^{d \to t}_i + \tfrac1B \sum_i \ell^{t \to d}_i \Big).

    With :math:`m = 0`, :math:`\lambda = 1` and no mask this is exactly the CLIP loss. It is
    computed as a cross-entropy over logits :math:`S/\tau + \log w` (with :math:`\log 0 = -\infty`),
    so it stays numerically stable at small temperatures.

    :func:`thinbridge.testing.reference.bridge_loss` is the same loss for one bridge, written as
    the formula reads; the tests check that the two agree.

    ``zd``, ``zt``: ``(K, B, d)``; ``groups``: ``(K, B)`` target ids; ``same``: ``(K, B, B)``
    false-negative mask or None; ``temperature``, ``margin``, ``hard_weight``: ``(K,)``.
    """
    k, b, _ = zd.shape
    eye = torch.eye(b, dtype=torch.bool, device=zd.device)
    sim = matmul(zd, zt.transpose(1, 2))
    logits = (sim - margin[:, None, None] * eye) / temperature[:, None, None]
    log_w = torch.zeros_like(logits)
    same_group = (groups[:, :, None] == groups[:, None, :]) & ~eye
    log_hw = torch.where(hard_weight > 0, torch.log(hard_weight.clamp_min(1e-30)), torch.tensor(float("-inf")))
    log_w = torch.where(same_group, log_hw[:, None, None].expand_as(log_w), log_w)
    if same is not None:
        log_w = log_w.masked_fill(same & ~eye, float("-inf"))
    diag = torch.diagonal(logits, dim1=1, dim2=2)
    d2t = torch.logsumexp(logits + log_w, dim=-1) - diag
    t2d = torch.logsumexp(logits.transpose(1, 2) + log_w, dim=-1) - diag
    return 0.5 * (d2t.mean(-1) + t2d.mean(-1))


def batch_order(n: int, groups: np.ndarray, kind: str, gen: torch.Generator, per_target: int = 8,
                by_group: list[np.ndarray] | None = None) -> torch.Tensor:
    """One epoch's order of the ``n`` training rows; consecutive slices of it are the batches.

    ``random``: a uniform permutation. ``target``: each target's rows are shuffled and cut into
    runs of ``per_target``; the runs are shuffled and laid end to end, so a batch holds several
    targets with several drugs each, and the hard-negative weight and the margin meet the
    same-target negatives they are meant for. Every row still comes once per epoch.
    ``by_group``: :func:`group_rows` of ``groups``, if the caller has it (it asks every epoch).
    """
    if kind == "random":
        return torch.randperm(n, generator=gen)
    runs = []
    for rows in (by_group if by_group is not None else group_rows(groups)):
        rows = rows[torch.randperm(len(rows), generator=gen).numpy()]
        runs += [rows[i:i + per_target] for i in range(0, len(rows), per_target)]
    order = torch.randperm(len(runs), generator=gen)
    return torch.from_numpy(np.concatenate([runs[i] for i in order.tolist()]))


def group_rows(groups: np.ndarray) -> list[np.ndarray]:
    """Each group's rows, in increasing order, groups in sorted order."""
    order = np.argsort(groups, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(groups[order])) + 1)


def _check(cfgs: list[RunConfig]) -> None:
    if not cfgs:
        raise UserError("no configurations to train")
    for c in cfgs:
        c.validate()
        for name in SHARED:
            if getattr(c, name) != getattr(cfgs[0], name):
                raise UserError(f"bridges trained together must share {name} ({getattr(cfgs[0], name)!r} vs "
                                f"{getattr(c, name)!r}); train them in separate stacks")


def fit_many(inp, cfgs: list[RunConfig], show_progress: bool = False) -> list[tuple[Bridge, list[dict]]]:
    """Train one bridge per configuration on ``inp`` (a :class:`~thinbridge.training.run.Inputs`), together.

    Returns ``[(best model, per-epoch history), ...]`` in the order of ``cfgs``. Early stopping
    keeps each bridge's epoch with the best validation text -> drug MRR (distinct protocol).
    """
    from thinbridge.evaluation import tasks as E
    from thinbridge.evaluation.metrics import ranks

    _check(cfgs)
    base, dev = cfgs[0], device()
    tr = inp.rows("train")
    if len(tr) < 2:
        raise UserError("fewer than two training pairs: nothing to train on")
    bits = SparseRows.from_dense(inp.x_drug[tr], dev)
    x_text = torch.as_tensor(inp.x_text[tr], dtype=torch.float32, device=dev)
    groups_np = value_codes(inp.pairs["target_chembl_id"].to_numpy()[tr])
    groups = torch.as_tensor(groups_np, device=dev)
    by_group = group_rows(groups_np)
    mol = torch.as_tensor(value_codes(inp.pairs["parent_inchikey"].to_numpy()[tr]), device=dev)
    txt = torch.as_tensor(value_codes(np.asarray(inp.texts, dtype=object)[tr]), device=dev)
    val = inp.rows("valid")
    task = E.build_tasks(inp.pairs.iloc[val], [inp.texts[i] for i in val], "distinct")["text_to_drug"] \
        if len(val) else None
    val_bits = SparseRows.from_dense(inp.x_drug[val], dev) if len(val) else None
    val_text = torch.as_tensor(inp.x_text[val], dtype=torch.float32, device=dev)

    stack = _Stack(cfgs, inp.x_drug.shape[1], inp.x_text.shape[1], dev)
    k, n = stack.k, len(tr)
    temperature = torch.tensor([c.temperature for c in cfgs], dtype=torch.float32, device=dev)
    margin = torch.tensor([c.margin for c in cfgs], dtype=torch.float32, device=dev)
    hard = torch.tensor([c.hard_weight for c in cfgs], dtype=torch.float32, device=dev)
    gens = [torch.Generator().manual_seed(c.seed) for c in cfgs]
    active = list(range(k))
    best = [-math.inf] * k
    best_state: list = [None] * k
    stale = [0] * k
    histories: list[list[dict]] = [[] for _ in cfgs]
    max_epochs = max(c.epochs for c in cfgs)
    for epoch in progress(range(1, max_epochs + 1), desc=f"training {k} bridge(s)", disable=not show_progress):
        perms = torch.stack([batch_order(n, groups_np, c.batches, g, c.per_target, by_group)
                             for c, g in zip(cfgs, gens)]).to(dev)
        total, n_batches = torch.zeros(k, dtype=torch.float64), 0
        sel = torch.tensor(active, device=dev)
        for start in range(0, n, base.batch_size):
            rows = perms[sel, start:start + base.batch_size]
            if rows.shape[1] < 2:
                continue
            zd, zt = stack.encode(bits, rows, x_text, active)
            same = None
            if base.mask_false_negatives:
                m_b, t_b = mol[rows], txt[rows]
                same = (m_b[:, :, None] == m_b[:, None, :]) | (t_b[:, :, None] == t_b[:, None, :])
            losses = stacked_loss(zd, zt, groups[rows], same, temperature[sel], margin[sel], hard[sel])
            losses.sum().backward()
            stack.step(base.lr, base.weight_decay, active)
            total[sel.cpu()] += losses.detach().double().cpu()
            n_batches += 1
        with torch.no_grad():
            mrr = _val_mrr(stack, val_bits, val_text, task, ranks, active) if task is not None else -total.numpy()
        still = []
        for i, c in enumerate(cfgs):
            if i not in active:
                continue
            histories[i].append({"epoch": epoch, "train_loss": float(total[i]) / max(n_batches, 1),
                                 "val_t2d_MRR": float(mrr[i])})
            if mrr[i] > best[i]:
                best[i], stale[i] = float(mrr[i]), 0
                best_state[i] = [p.detach().clone() for p in stack.params[i]]
            else:
                stale[i] += 1
            if stale[i] < c.patience and epoch < c.epochs:
                still.append(i)
        active = still
        if not active:
            break
    return [(stack.bridge(i, best_state[i]).cpu(), histories[i]) for i in range(k)]


def stopping(history: list[dict], patience: int, max_epochs: int) -> dict:
    """What early stopping with ``patience`` (and at most ``max_epochs``) would have done on a
    bridge's per-epoch ``history`` (:func:`fit_many`'s): ``{"best_epoch", "epochs_run",
    "val_t2d_MRR"}`` (the kept epoch's validation MRR). :func:`fit_many`'s own rule: an epoch
    improves on strictly greater validation MRR; training stops after ``patience`` epochs without
    improvement or at ``max_epochs``.

    A bridge's epochs do not depend on when it will stop, so for any ``patience`` up to the one the
    history was trained with this is exactly what training with it would give (``tests/test_grid.py``):
    a shorter patience can be judged from a longer run's histories without training again."""
    best, kept, stale = -math.inf, None, 0
    for h in history:
        if h["val_t2d_MRR"] > best:
            best, kept, stale = h["val_t2d_MRR"], h["epoch"], 0
        else:
            stale += 1
        if stale >= patience or h["epoch"] >= max_epochs:
            return {"best_epoch": kept, "epochs_run": h["epoch"], "val_t2d_MRR": best}
    raise UserError(f"this history stopped at epoch {len(history)} before patience {patience} or "
                    f"{max_epochs} epochs would stop it: it was trained with a shorter patience")


def _val_mrr(stack: _Stack, bits: SparseRows, x_text: torch.Tensor, task, ranks, which: list[int]) -> np.ndarray:
    """Validation text -> drug MRR of the bridges ``which`` (NaN for the others)."""
    from thinbridge.evaluation import tasks as E

    rows = torch.arange(len(bits), device=x_text.device).expand(len(which), -1)
    zd, zt = stack.encode(bits, rows, x_text, which)
    out = np.full(stack.k, np.nan)
    for j, i in enumerate(which):
        s = E.task_scores(task, zd[j].cpu().numpy(), zt[j].cpu().numpy())
        out[i] = float((1.0 / ranks(s, task.positive)).mean())
    return out
