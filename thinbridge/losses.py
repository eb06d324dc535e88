r"""The bridge loss: symmetric InfoNCE with a margin and hard-negative weighting.

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
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["bridge_loss", "BridgeLoss"]


def _check_hyper(temperature: float, margin: float, hard_weight: float) -> None:
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


def _log_weights(
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
    _check_hyper(temperature, margin, hard_weight)
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

    log_w = _log_weights(batch, groups, float(hard_weight), same_item, device, sim.dtype)
    logits_d2t = logits
    logits_t2d = logits.T
    if log_w is not None:
        logits_d2t = logits_d2t + log_w
        logits_t2d = logits_t2d + log_w

    target = torch.arange(batch, device=device)
    loss_d2t = F.cross_entropy(logits_d2t, target)
    loss_t2d = F.cross_entropy(logits_t2d, target)
    return 0.5 * (loss_d2t + loss_t2d)


class BridgeLoss(torch.nn.Module):
    """:func:`bridge_loss` as a module holding its hyper-parameters (open_clip style).

    ``BridgeLoss(temperature=0.07, margin=0.0, hard_weight=1.0)(z_drug, z_text, groups, same_item)``
    returns the same scalar as ``bridge_loss(z_drug, z_text, groups, temperature, margin,
    hard_weight, same_item)``. The temperature is a fixed float, not a learned parameter.
    """

    def __init__(self, temperature: float = 0.07, margin: float = 0.0, hard_weight: float = 1.0):
        super().__init__()
        _check_hyper(temperature, margin, hard_weight)
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
