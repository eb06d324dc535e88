"""Tests for thinbridge.testing.reference (the bridge loss as the formula reads): the CLIP special case, hand-computed values, masking, gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from thinbridge.testing.reference import BridgeLoss
from thinbridge.testing.reference import bridge_loss


def _unit(*angles_deg):
    """Unit vectors in 2-D at the given angles (degrees)."""
    a = torch.tensor([math.radians(x) for x in angles_deg], dtype=torch.float64)
    return torch.stack([torch.cos(a), torch.sin(a)], dim=1)


def _random_pairs(b=8, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    zd = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    zt = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    return zd, zt


def _reference(zd, zt, groups=None, temperature=0.07, margin=0.0, hard_weight=1.0, same_item=None):
    """Loop-by-loop transcription of the documented formula with math.exp / math.log."""
    s = (zd @ zt.T).tolist()
    b = len(s)

    def direction(sim):
        total = 0.0
        for i in range(b):
            pos = math.exp((sim[i][i] - margin) / temperature)
            denom = pos
            for j in range(b):
                if j == i:
                    continue
                w = 1.0
                if groups is not None and int(groups[j]) == int(groups[i]):
                    w = hard_weight
                if same_item is not None and bool(same_item[i][j]):
                    w = 0.0
                denom += w * math.exp(sim[i][j] / temperature)
            total += -math.log(pos / denom)
        return total / b

    st = [list(row) for row in zip(*s)]
    return 0.5 * (direction(s) + direction(st))


def test_reduces_to_clip_loss():
    zd, zt = _random_pairs(b=12, d=32, seed=1)
    t = 0.07
    s = zd @ zt.T
    target = torch.arange(12)
    clip = 0.5 * (F.cross_entropy(s / t, target) + F.cross_entropy(s.T / t, target))
    got = bridge_loss(zd, zt, temperature=t)
    torch.testing.assert_close(got, clip, rtol=1e-12, atol=1e-12)
    # groups given but hard_weight = 1 changes nothing
    got_g = bridge_loss(zd, zt, groups=torch.tensor([0, 1] * 6), temperature=t)
    torch.testing.assert_close(got_g, clip, rtol=1e-12, atol=1e-12)


def test_hand_value_margin_and_hard_weight():
    # B = 3, d = 2. Drugs at 0, 90, 180 degrees; texts at 0, 60, 180 degrees.
    # S = [[cos0, cos60, cos180], [cos90, cos30, cos90], [cos180, cos120, cos0]]
    #   = [[1, 0.5, -1], [0, sqrt(3)/2, 0], [-1, -0.5, 1]]
    # groups = [0, 0, 1]: rows 0 and 1 share a target -> weight lam between them.
    zd = _unit(0, 90, 180)
    zt = _unit(0, 60, 180)
    T, m, lam = 0.5, 0.2, 3.0
    groups = torch.tensor([0, 0, 1])
    r3 = math.sqrt(3) / 2
    e = math.exp
    # drug -> text (rows of S)
    d0 = -math.log(e((1 - m) / T) / (e((1 - m) / T) + lam * e(0.5 / T) + e(-1 / T)))
    d1 = -math.log(e((r3 - m) / T) / (e((r3 - m) / T) + lam * e(0 / T) + e(0 / T)))
    d2 = -math.log(e((1 - m) / T) / (e((1 - m) / T) + e(-1 / T) + e(-0.5 / T)))
    # text -> drug (rows of S^T = columns of S)
    t0 = -math.log(e((1 - m) / T) / (e((1 - m) / T) + lam * e(0 / T) + e(-1 / T)))
    t1 = -math.log(e((r3 - m) / T) / (e((r3 - m) / T) + lam * e(0.5 / T) + e(-0.5 / T)))
    t2 = -math.log(e((1 - m) / T) / (e((1 - m) / T) + e(-1 / T) + e(0 / T)))
    expected = 0.5 * ((d0 + d1 + d2) / 3 + (t0 + t1 + t2) / 3)
    got = bridge_loss(zd, zt, groups=groups, temperature=T, margin=m, hard_weight=lam)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    assert got.item() == pytest.approx(_reference(zd, zt, groups, T, m, lam), rel=1e-12)
    # the module wrapper gives the same value
    mod = BridgeLoss(temperature=T, margin=m, hard_weight=lam)
    assert mod(zd, zt, groups).item() == pytest.approx(expected, rel=1e-12)
    assert "hard_weight=3.0" in repr(mod)


def test_matches_reference_on_random_batch():
    zd, zt = _random_pairs(b=7, d=5, seed=3)
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 0])
    same = torch.zeros(7, 7, dtype=torch.bool)
    same[2, 5] = same[5, 2] = True
    kw = dict(temperature=0.2, margin=0.1, hard_weight=2.5)
    got = bridge_loss(zd, zt, groups=groups, same_item=same, **kw)
    assert got.item() == pytest.approx(_reference(zd, zt, groups, same_item=same.tolist(), **kw), rel=1e-10)


def test_hard_weight_zero_single_group_is_zero():
    # Every negative shares the anchor's target and gets weight 0: only the positive remains,
    # so each anchor's loss is -log(exp(l)/exp(l)) = 0, whatever the margin.
    zd, zt = _random_pairs(b=5, d=4, seed=2)
    got = bridge_loss(zd, zt, groups=torch.zeros(5, dtype=torch.long), hard_weight=0.0, margin=0.3)
    assert got.item() == pytest.approx(0.0, abs=1e-12)


def test_same_item_masking_removes_term():
    # Same 3 x 2 geometry as the hand example; mask the pair (0, 1) as the same item.
    # S = [[1, 0.5, -1], [0, sqrt(3)/2, 0], [-1, -0.5, 1]], T = 1, no margin, no groups.
    zd = _unit(0, 90, 180)
    zt = _unit(0, 60, 180)
    same = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])  # diag ignored
    r3 = math.sqrt(3) / 2
    e = math.exp
    d0 = -math.log(e(1) / (e(1) + e(-1)))  # S01 = 0.5 removed
    d1 = -math.log(e(r3) / (e(r3) + e(0)))  # S10 = 0 removed
    d2 = -math.log(e(1) / (e(1) + e(-1) + e(-0.5)))
    t0 = -math.log(e(1) / (e(1) + e(-1)))  # S^T_01 = S10 = 0 removed
    t1 = -math.log(e(r3) / (e(r3) + e(-0.5)))  # S^T_10 = S01 = 0.5 removed
    t2 = -math.log(e(1) / (e(1) + e(-1) + e(0)))
    expected = 0.5 * ((d0 + d1 + d2) / 3 + (t0 + t1 + t2) / 3)
    got = bridge_loss(zd, zt, temperature=1.0, same_item=same)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    unmasked = bridge_loss(zd, zt, temperature=1.0)
    assert got.item() < unmasked.item()  # removing negatives can only lower the loss


def test_same_item_masks_duplicate_row():
    # Row 3 duplicates row 0 (same drug, same text). Masking (0,3)/(3,0) stops anchors 0 and 3
    # from treating each other as negatives; the value must match the loop-by-loop formula.
    zd, zt = _random_pairs(b=3, d=6, seed=4)
    zd4 = torch.cat([zd, zd[:1]])
    zt4 = torch.cat([zt, zt[:1]])
    same = torch.zeros(4, 4, dtype=torch.bool)
    same[0, 3] = same[3, 0] = True
    got = bridge_loss(zd4, zt4, temperature=0.1, same_item=same)
    ref = _reference(zd4, zt4, temperature=0.1, same_item=same.tolist())
    assert got.item() == pytest.approx(ref, rel=1e-10)
    # Without the mask the duplicate is a "negative" as similar as the positive: higher loss.
    assert bridge_loss(zd4, zt4, temperature=0.1).item() > got.item()


def test_gradients_flow_and_are_finite():
    zd_raw = torch.randn(6, 8, requires_grad=True)
    zt_raw = torch.randn(6, 8, requires_grad=True)
    same = torch.zeros(6, 6, dtype=torch.bool)
    same[1, 2] = same[2, 1] = True
    loss = bridge_loss(
        F.normalize(zd_raw, dim=1),
        F.normalize(zt_raw, dim=1),
        groups=torch.tensor([0, 0, 0, 1, 1, 2]),
        temperature=0.05,
        margin=0.1,
        hard_weight=0.0,  # -inf logits must not produce NaN gradients
        same_item=same,
    )
    loss.backward()
    assert torch.isfinite(loss)
    for g in (zd_raw.grad, zt_raw.grad):
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def test_float32_small_temperature_is_stable():
    zd, zt = _random_pairs(b=16, d=8, seed=5)
    loss = bridge_loss(zd.float(), zt.float(), temperature=1e-3, groups=torch.arange(16) % 3, hard_weight=4.0)
    assert torch.isfinite(loss)


def test_larger_hard_weight_increases_loss():
    zd, zt = _random_pairs(b=8, d=6, seed=6)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    values = [
        bridge_loss(zd, zt, groups=groups, temperature=0.1, hard_weight=w).item() for w in (0.0, 0.5, 1.0, 2.0, 5.0)
    ]
    assert all(a < b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(hard_weight=-0.5), "hard_weight"),
        (dict(margin=float("inf")), "margin"),
        (dict(groups=torch.tensor([0, 1])), "groups"),
        (dict(groups=torch.tensor([0.0, 1.0, 0.0, 1.0])), "groups"),
        (dict(same_item=torch.zeros(3, 3, dtype=torch.bool)), "same_item"),
        (dict(same_item=torch.zeros(4, 4)), "same_item"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    zd, zt = _random_pairs(b=4, d=3)
    with pytest.raises(ValueError, match=match):
        bridge_loss(zd, zt, **kwargs)


def test_bad_shapes_raise():
    zd, zt = _random_pairs(b=4, d=3)
    with pytest.raises(ValueError, match="same shape"):
        bridge_loss(zd, zt[:3])
    with pytest.raises(ValueError, match="2-D"):
        bridge_loss(zd[0], zt[0])
    with pytest.raises(ValueError, match="temperature"):
        BridgeLoss(temperature=0)
