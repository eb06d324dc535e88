"""Reference implementations that the shipped code is tested against; nothing in the package imports them.

* :func:`bridge_loss` (and :class:`BridgeLoss`): the bridge loss for one bridge, written as the
  formula reads (see :func:`thinbridge.training.grid.stacked_loss`, which computes it for many
  bridges at once and is what training uses);
* :func:`fit_reference`: one bridge trained with ``torch.optim.AdamW``, one after another, the
  path the batched trainer (:func:`thinbridge.training.grid.fit_many`) must equal; also the
  "old path" of ``scripts/bench_train.py``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from thinbridge._util.device import device
from thinbridge._util.errors import UserError
from thinbridge._util.progress import progress
from thinbridge.bridge.model import Bridge
from thinbridge.config import RunConfig
from thinbridge.evaluation import tasks as E
from thinbridge.training.grid import value_codes
from thinbridge.training.run import Inputs, set_seed


def check_hyper(temperature: float, margin: float, hard_weight: float) -> None:
    for name, value in (("temperature", temperature), ("margin", margin), ("hard_weight", hard_weight)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number, got {value!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if float(temperature) <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if float(hard_weight) < 0:
        raise ValueError(f"hard_weight must be >= 0 (0 drops same-target negatives), got {hard_weight!r}")


def log_weights(
    batch: int,
    groups: torch.Tensor | None,
    hard_weight: float,
    same_item: torch.Tensor | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """(B, B) matrix of log w_ij for anchor i (rows), diagonal 0; None when all weights are 1."""
    off_diag = ~torch.eye(batch, dtype=torch.bool, device=device)
    log_w = None
    if groups is not None and float(hard_weight) != 1.0:
        same_group = (groups[:, None] == groups[None, :]) & off_diag
        fill = math.log(hard_weight) if hard_weight > 0 else float("-inf")
        log_w = torch.zeros(batch, batch, device=device, dtype=dtype).masked_fill(same_group, fill)
    if same_item is not None:
        mask = same_item & off_diag
        if bool(mask.any()):
            if log_w is None:
                log_w = torch.zeros(batch, batch, device=device, dtype=dtype)
            log_w = log_w.masked_fill(mask, float("-inf"))
    return log_w


class BridgeLoss(torch.nn.Module):
    """:func:`bridge_loss` as a module holding its hyper-parameters (open_clip style).

    ``BridgeLoss(temperature=0.07, margin=0.0, hard_weight=1.0)(z_drug, z_text, groups, same_item)``
    returns the same scalar as ``bridge_loss(z_drug, z_text, groups, temperature, margin,
    hard_weight, same_item)``. The temperature is a fixed float, not a learned parameter.
    """

    def __init__(self, temperature: float = 0.07, margin: float = 0.0, hard_weight: float = 1.0):
        super().__init__()
        check_hyper(temperature, margin, hard_weight)
        self.temperature = float(temperature)
        self.margin = float(margin)
        self.hard_weight = float(hard_weight)

    def forward(
        self,
        z_drug: torch.Tensor,
        z_text: torch.Tensor,
        groups: torch.Tensor | None = None,
        same_item: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return bridge_loss(
            z_drug,
            z_text,
            groups=groups,
            temperature=self.temperature,
            margin=self.margin,
            hard_weight=self.hard_weight,
            same_item=same_item,
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, margin={self.margin}, hard_weight={self.hard_weight}"

def bridge_loss(
    z_drug: torch.Tensor,
    z_text: torch.Tensor,
    groups: torch.Tensor | None = None,
    temperature: float = 0.07,
    margin: float = 0.0,
    hard_weight: float = 1.0,
    same_item: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Symmetric InfoNCE with a margin on the positive and weighted in-batch negatives.

    Parameters
    ----------
    z_drug, z_text:
        ``(B, d)`` L2-normalised embeddings of ``B`` matched pairs; row ``i`` of each is a
        positive pair, every other row of the other side is an in-batch negative.
    groups:
        Optional 1-D integer tensor ``(B,)`` of target ids. An in-batch negative ``j`` with
        ``groups[j] == groups[i]`` shares the anchor's target and gets weight ``hard_weight``
        (``> 1`` emphasises, ``< 1`` softens, ``0`` drops such negatives).
    temperature:
        Softmax temperature :math:`\tau > 0`.
    margin:
        Subtracted from the positive similarity before scaling: the positive must win by at
        least ``margin`` in cosine to reach the same loss.
    hard_weight:
        Weight :math:`\lambda \ge 0` of same-group negatives (ignored when ``groups`` is None).
    same_item:
        Optional ``(B, B)`` bool mask of false negatives (e.g. the same molecule or an identical
        text in another row): ``same_item[i, j]`` removes ``j`` from anchor ``i``'s negatives in
        both directions. The diagonal is ignored. It should normally be symmetric.

    Returns
    -------
    torch.Tensor
        Scalar ``0.5 * (mean_i loss_i^{d->t} + mean_i loss_i^{t->d})``; see the module
        docstring for the full equation.

    Raises
    ------
    ValueError
        On non-positive temperature, negative hard weight, non-finite hyper-parameters or
        mismatched shapes.
    """
    check_hyper(temperature, margin, hard_weight)
    if not isinstance(z_drug, torch.Tensor) or not isinstance(z_text, torch.Tensor):
        raise ValueError("z_drug and z_text must be torch tensors")
    if z_drug.ndim != 2 or z_text.ndim != 2:
        raise ValueError(
            f"z_drug and z_text must be 2-D (B, d), got shapes {tuple(z_drug.shape)} and {tuple(z_text.shape)}"
        )
    if z_drug.shape != z_text.shape:
        raise ValueError(
            f"z_drug {tuple(z_drug.shape)} and z_text {tuple(z_text.shape)} must have the same shape "
            "(B matched pairs in the same shared space)"
        )
    batch = z_drug.shape[0]
    if batch == 0:
        raise ValueError("the batch is empty")
    device = z_drug.device

    if groups is not None:
        groups = torch.as_tensor(groups, device=device)
        if groups.shape != (batch,):
            raise ValueError(f"groups must have shape ({batch},), got {tuple(groups.shape)}")
        if groups.is_floating_point() or groups.is_complex():
            raise ValueError("groups must be an integer (or bool) tensor of target ids")
    if same_item is not None:
        same_item = torch.as_tensor(same_item, device=device)
        if same_item.shape != (batch, batch):
            raise ValueError(f"same_item must have shape ({batch}, {batch}), got {tuple(same_item.shape)}")
        if same_item.dtype != torch.bool:
            raise ValueError(f"same_item must be a bool tensor, got dtype {same_item.dtype}")

    sim = z_drug @ z_text.T
    eye = torch.eye(batch, dtype=sim.dtype, device=device)
    logits = (sim - float(margin) * eye) / float(temperature)

    log_w = log_weights(batch, groups, float(hard_weight), same_item, device, sim.dtype)
    logits_d2t = logits
    logits_t2d = logits.T
    if log_w is not None:
        logits_d2t = logits_d2t + log_w
        logits_t2d = logits_t2d + log_w

    target = torch.arange(batch, device=device)
    loss_d2t = F.cross_entropy(logits_d2t, target)
    loss_t2d = F.cross_entropy(logits_t2d, target)
    return 0.5 * (loss_d2t + loss_t2d)


def fit_reference(inp: Inputs, cfg: RunConfig, show_progress: bool = False) -> tuple[Bridge, list[dict]]:
    """The training loop before the sparse, batched trainer: dense ``nn.Linear`` drug head, one
    bridge, ``torch.optim.AdamW``. Kept as the reference that :func:`fit` is tested and
    benchmarked against (``tests/test_grid.py``, ``scripts/bench_train.py``); not used by the book."""
    cfg.validate()
    set_seed(cfg.seed)
    dev = device()
    if cfg.bridge != "linear":
        raise UserError("fit_reference is the old path for linear bridges; train others with fit")
    model = Bridge(inp.x_drug.shape[1], inp.x_text.shape[1], cfg.dim).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    tr = inp.rows("train")
    if len(tr) < 2:
        raise UserError("fewer than two training pairs: nothing to train on")
    xd = torch.as_tensor(inp.x_drug[tr], dtype=torch.float32, device=dev)
    xt = torch.as_tensor(inp.x_text[tr], dtype=torch.float32, device=dev)
    groups = torch.as_tensor(value_codes(inp.pairs["target_chembl_id"].to_numpy()[tr]), device=dev)
    mol = torch.as_tensor(value_codes(inp.pairs["parent_inchikey"].to_numpy()[tr]), device=dev)
    txt = torch.as_tensor(value_codes(np.asarray(inp.texts, dtype=object)[tr]), device=dev)
    val_rows = inp.rows("valid")
    val_task = E.build_tasks(inp.pairs.iloc[val_rows], [inp.texts[i] for i in val_rows], "distinct")["text_to_drug"] \
        if len(val_rows) else None
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state, history, stale = -1.0, None, [], 0
    bar = progress(range(1, cfg.epochs + 1), desc="training", disable=not show_progress)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(tr), generator=gen).to(dev)
        total, nb = 0.0, 0
        for start in range(0, len(tr), cfg.batch_size):
            b = perm[start:start + cfg.batch_size]
            if len(b) < 2:
                continue
            zd, zt = model(xd[b], xt[b])
            same = None
            if cfg.mask_false_negatives:
                same = (mol[b][:, None] == mol[b][None, :]) | (txt[b][:, None] == txt[b][None, :])
            loss = bridge_loss(zd, zt, groups[b], cfg.temperature, cfg.margin, cfg.hard_weight, same)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, nb = total + loss.item(), nb + 1
        val = val_mrr_dense(model, inp, val_task) if val_task is not None else -total
        history.append({"epoch": epoch, "train_loss": total / max(nb, 1), "val_t2d_MRR": val})
        if val > best:
            best, stale = val, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= cfg.patience:
                break
        if show_progress:
            bar.set_postfix(loss=f"{total / max(nb, 1):.3f}", val_mrr=f"{val:.3f}")
    model.load_state_dict(best_state)
    model.eval()
    return model.cpu(), history


def val_mrr_dense(model: Bridge, inp: Inputs, task) -> float:
    from thinbridge.evaluation.metrics import ranks

    rows = inp.rows("valid")
    with torch.no_grad():
        model.eval()
        zd = model.encode_drug(torch.as_tensor(inp.x_drug[rows], dtype=torch.float32)).numpy()
        zt = model.encode_text(torch.as_tensor(inp.x_text[rows], dtype=torch.float32)).numpy()
    s = E.task_scores(task, zd, zt)
    return float((1.0 / ranks(s, task.positive)).mean())

