# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Verdict
#
# Each claim of the paper, and two questions it did not ask, with the verdict computed in the
# replication and encoder chapters, the evidence (means over split seeds, 95% intervals and
# p-values) and a link to the section that computed it. The rules, fixed before looking (in
# `thinbridge.replication`): a claim that A beats B is **confirmed** when A's mean is higher
# and the paired sign-flip test over queries gives p < 0.05, and **refuted** otherwise (no
# detectable gain, or a loss); a number of the paper is **confirmed** when it lies inside our
# 95% interval across split seeds, and **refuted** otherwise, with the side ours lies on; the best-cell claim is **confirmed** when the paper's cell
# has the highest mean, **refuted** when another cell is significantly better, and
# **inconclusive** in between. Nothing in this table is typed: it is read from the files the
# two chapters wrote.

# %% tags=["parameters"]
profile = "full"

# %%
from thinbridge import book  # first: pins the numerical kernels (thinbridge.numerics)

import pandas as pd
from IPython.display import Markdown, display

from thinbridge import experiments as X

paths = book.setup()
claims = pd.DataFrame(X.load_json(paths.artifacts / "claims_replication.json")
                      + X.load_json(paths.artifacts / "claims_encoders.json"))
print(claims.status.value_counts().to_string())

# %%
lines = ["| claim | verdict | evidence |", "|---|---|---|"]
for c in claims.itertuples():
    lines.append(f"| {c.claim} | **{c.status}** | {c.evidence} ([computed here]({c.link})) |")
display(Markdown("\n".join(lines)))
