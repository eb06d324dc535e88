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
# # Ablation: temperature, margin and the drug name
#
# The paper's Figure 4 varies the temperature T, the margin m and whether the drug name is in
# the rich text, and reports within-target ("grouped") Recall@1; its best cell is WithDrug,
# T = 0.05, m = 0.15. We retrain the bridge on the scaffold split for every cell of
# T ∈ {0.03, 0.05, 0.07, 0.1} × m ∈ {0, 0.05, 0.1, 0.15, 0.2} × {NoDrug, WithDrug}, with
# several seeds per cell (initialisation and batch order; the split stays fixed), and score
# text → drug retrieval on the test split. Error bars are the standard deviation over seeds.
# Everything else is the main configuration of the training chapter.
#
# All bridges of one text variant train together, as one stacked model: each keeps its own
# seed, batch order, temperature, margin, hard-negative weight and early stopping, and comes out
# exactly as if trained alone (`thinbridge.training.grid`; `tests/test_grid.py` checks it bridge by bridge).

# %% [markdown]
# **Parameters.** The next cell holds this chapter's parameters and their defaults (papermill
# knows it by its `parameters` tag). To run the chapter with other values, pass them by name, e.g.
# `python scripts/run_notebooks.py --only 04 -p split_seed 1` from the repository root (it runs
# what the chapter needs first), or `papermill book/04_ablations.ipynb out.ipynb --cwd book -p split_seed 1`;
# in JupyterLab, edit the cell and run all cells.

# %% tags=["parameters"]
# "fast": one temperature, two margins, one seed, fewer epochs
profile = "full"
seeds = [0, 1, 2]
temperatures = [0.03, 0.05, 0.07, 0.1]
margins = [0.0, 0.05, 0.1, 0.15, 0.2]
split_seed = 0
text_model = None
n_jobs = 2  # worker processes; results do not depend on it
hard_weights = [1.0, 2.0, 4.0]  # the extra factor (at the main T and m)

# %%
from thinbridge import book  # first: pins the CPU kernels

# a parameter that cannot be used stops the chapter here, in one line naming it
book.check_parameters(
    profile=profile,
    seeds=seeds,
    temperatures=temperatures,
    margins=margins,
    split_seed=split_seed,
    text_model=text_model,
    n_jobs=n_jobs,
    hard_weights=hard_weights,
)


# %%
from thinbridge import book  # first: pins the CPU kernels

import dataclasses

import pandas as pd
from IPython.display import display

from thinbridge.book import experiments as X
from thinbridge.book import plots
from thinbridge import (
    RunConfig,
    load_inputs,
)

paths = book.setup()
base = RunConfig(
    split="scaffold",
    split_seed=split_seed,
    text_model=text_model,
    text_view="rich",
)
if profile == "fast":
    seeds, temperatures, margins, hard_weights = (
        seeds[:1],
        [0.05],
        [0.0, 0.15],
        [1.0, 4.0],
    )
base = book.for_profile(base, profile)  # fast: book.FAST_PROFILE
pairs = book.load_pairs(paths)
split = book.load_split(paths, pairs, "scaffold", split_seed)
inputs = {
    w: load_inputs(
        paths.data,
        dataclasses.replace(base, with_name=w),
        pairs=pairs,
        split=split,
        show_progress=False,
    )
    for w in (False, True)
}
n_cells = 2 * len(temperatures) * len(margins)
print(
    f"{n_cells} cells x {len(seeds)} seeds = {n_cells * len(seeds)} bridges "
    "to train"
)

# %%
abl = X.ablation_grid(
    inputs,
    base,
    temperatures,
    margins,
    seeds,
    n_jobs=n_jobs,
    show_progress=False,
)
abl.to_csv(paths.artifact(book.ABLATION), sep="\t", index=False)
print(
    f"trained {len(abl)} bridges; best epochs ranged "
    f"{abl.best_epoch.min()}–{abl.best_epoch.max()}"
)

# %% [markdown]
# ## Figure 4: grouped Recall@1 across T, m and the drug name
#
# Within-target text → drug Recall@1, over test queries whose target has two or more candidate
# molecules (the stricter of our two within-target views; see the training chapter).

# %% mystnb={"image": {"alt": "Within-target Recall@1 by temperature and margin, with and without the drug name, mean and sd over seeds"}}
fig = plots.ablation_plot(
    abl,
    "wt_R@1",
    "within-target Recall@1 (text → drug)",
    "Ablation on the scaffold split (mean ± sd over seeds)",
    path=paths.figure("figure4_ablation.png"),
)

# %% [markdown]
# The best cells, by mean over seeds, for the grouped Recall@1 above and for the all-queries view
# (single-candidate targets counted as rank 1):

# %%
best = X.ablation_summary(abl, "wt_R@1")
display(best.head(6).round(3))
top = best.iloc[0]
near = best[best["mean"] >= top["mean"] - top["std"]]
print(
    f"{len(near)} of {len(best)} cells have a mean within one seed-sd of the "
    "best cell "
    f"({top['mean']:.3f} ± {top['std']:.3f}); "
    f"{int(near.with_name.sum())} of them have the drug name in the text"
)
X.ablation_summary(abl, "wt_R@1_all").head(3).round(3)

# %% [markdown]
# How much does each factor matter? Mean grouped Recall@1 per level of each factor, averaged
# over the other two:

# %%
for factor in ("with_name", "temperature", "margin"):
    print(
        abl.groupby(factor)["wt_R@1"]
        .agg(["mean", "std"])
        .round(3)
        .T.to_string(),
        "\n",
    )

# %% [markdown]
# ## Beyond the paper: the hard-negative weight
#
# The paper weights in-batch negatives that share the anchor's target but does not report the
# weight β. At the main T = 0.07 and m = 0.1, β = 1 is the plain InfoNCE denominator; larger β
# pushes harder against same-target negatives.

# %%
abl_beta = X.ablation_grid(
    inputs,
    base,
    [base.temperature],
    [base.margin],
    seeds,
    n_jobs=n_jobs,
    show_progress=False,
    hard_weights=hard_weights,
)
abl_beta.to_csv(
    paths.artifact(book.ABLATION_HARD_WEIGHT), sep="\t", index=False
)
cols = ["wt_R@1", "wt_R@1_all", "R@1", "MRR"]
abl_beta.groupby(["with_name", "hard_weight"])[cols].agg(
    ["mean", "std"]
).round(3)

# %% [markdown]
# The paper's best cell (WithDrug, T = 0.05, m = 0.15) in our grid:

# %%
pb = X.PAPER_BEST_ABLATION
cell = best[
    (best.with_name == pb["with_name"])
    & (best.temperature == pb["temperature"])
    & (best.margin == pb["margin"])
]
rank = cell.index[0] + 1 if len(cell) else None
print(
    f"rank {rank} of {len(best)} cells"
    if rank
    else "not in this grid (fast profile?)"
)
cell.round(3)

# %% [markdown]
# (ablation-patience)=
# ## Our choice: how long to wait before stopping
#
# The paper does not say how many epochs it trains or when it stops. We keep the epoch with the
# best validation text → drug MRR and stop after 10 epochs without improvement (the training
# chapter). Would a shorter patience do? A bridge's epochs do not depend on when it will stop,
# so each bridge's history tells exactly which epoch a shorter patience would have kept and how
# many epochs it would have trained (`thinbridge.training.grid.stopping`; a test checks this against
# training with that patience). A bridge that keeps the same epoch comes out with the same
# weights and the same test scores. Over the distinct bridges of this chapter:

# %%
chapter_runs = pd.concat([abl, abl_beta], ignore_index=True).drop_duplicates(
    ["with_name", "temperature", "margin", "hard_weight", "seed"]
)
X.patience_what_if(chapter_runs).round(3)

# %% [markdown]
# `epochs_share` is the fraction of this chapter's training epochs the shorter patience would
# run; the validation MRR lost is over the bridges that would stop before their best epoch.
# Every number in this book is computed with patience 10.

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ablation-ex-runner-up
#
# The standard deviations come from three seeds. How would you tell whether the best cell is
# really better than the runner-up?
# ```
#
# ```{solution-start} ablation-ex-runner-up
# :class: dropdown
# ```
#
# Compare the two cells seed by seed (paired: same seeds, same split), or add seeds until the
# difference is several standard errors. The paired differences of the two best cells:

# %%
cells = [
    tuple(best.loc[i, ["with_name", "temperature", "margin"]]) for i in (0, 1)
]
per_seed = abl.set_index(["with_name", "temperature", "margin", "seed"])[
    "wt_R@1"
]
diff = (per_seed.loc[cells[0]] - per_seed.loc[cells[1]]).round(3)
print(
    f"best {cells[0]} minus runner-up {cells[1]}, per seed: {diff.to_dict()}"
)

# %% [markdown]
# With three seeds, differences of a point or two are noise.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: ablation-ex-margin
#
# Why might a margin help *within* a target more than globally?
# ```
#
# ```{solution-start} ablation-ex-margin
# :class: dropdown
# ```
#
# The margin asks the positive to beat every negative by m in cosine, which matters most for
# negatives that are already close: molecules sharing the query's target.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: ablation-ex-hard-weight
#
# Look at the β table. Why might the hard-negative weight matter less than one expects when
# batches are drawn at random?
# ```
#
# ```{solution-start} ablation-ex-hard-weight
# :class: dropdown
# ```
#
# In a random batch of 256 out of a few thousand training pairs, few negatives share the
# anchor's target, so β multiplies few terms of the denominator. Batches built target by
# target would give it more to act on.
#
# ```{solution-end}
# ```
