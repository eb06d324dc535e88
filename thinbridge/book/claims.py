"""TODO claims"""
from __future__ import annotations

import pandas as pd

from thinbridge.evaluation.statistics import ALPHA, fmt_p


def claim_better(test: pd.Series, alpha: float = ALPHA) -> str:
    """A claim that A beats B: ``confirmed`` when A's mean is higher and the query-level test
    rejects equality at ``alpha``; ``refuted`` otherwise (no detectable gain, or a loss)."""
    return "confirmed" if test["diff"] > 0 and test["p_queries"] < alpha else "refuted"


def claim_value(paper: float, row: pd.Series) -> str:
    """A number of the paper: ``confirmed`` when it lies in our 95% interval across splits, else
    ``refuted`` with the side our interval lies on."""
    if row["lo"] <= paper <= row["hi"]:
        return "confirmed"
    return "refuted (ours higher)" if row["lo"] > paper else "refuted (ours lower)"


def evidence(test: pd.Series) -> str:
    """One line of evidence for a paired comparison."""
    return (f"{test['a']} {test['mean_a']:.3f} vs {test['b']} {test['mean_b']:.3f} ({test['metric']}, "
            f"{test['scope'].replace('_', ' ')}, {test['split']} splits): difference {test['diff']:+.3f} "
            f"[{test['lo']:+.3f}, {test['hi']:+.3f}], higher in {test['wins']} splits, "
            f"{fmt_p(test['p_queries'])} over queries, {fmt_p(test['p_splits'])} over splits")

