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
# # Beyond the paper: other encoders, a deeper bridge, simpler fits
#
# What is a thin bridge worth against other frozen drug encoders and against fits with no
# training loop at all? On the scaffold splits of the replication chapter, with the main
# configuration (NoDrug, T = 0.07, m = 0.1), we train the linear bridge on every drug encoder
# RDKit offers offline (`thinbridge train --drug-encoder NAME`), a bridge with one hidden
# layer (`--bridge mlp`, 512 ReLU units per head) on ECFP4, and set beside them:
#
# * **ridge**: the text embedding regressed on the drug features in closed form (the penalty
#   chosen on the validation split from 1, 10, 100, 1000); molecules scored by the cosine of
#   the prediction and the text;
# * **text neighbours**: no fit at all: a query text finds its ten most similar training
#   texts, and each test molecule scores the similarity-weighted Tanimoto similarity to their
#   molecules;
# * PCA+CCA, random heads and a random ranking, as before.
#
# The encoders: ECFP4 bits (the paper's), ECFP4 counts, ECFP6 (radius 3), FCFP4 (pharmacophoric
# atom invariants), atom pairs and topological torsions (2,048 bits each), MACCS keys (167),
# RDKit's 2-D descriptors (217, each through the fixed transform sign(x)·log(1+|x|), so the
# encoder stays frozen and needs no statistics of the data), and ECFP4 beside the descriptors.
# Values are means over split seeds with 95% intervals; *p* compares each row with the paper's
# bridge (linear, ECFP4) on the same queries (sign-flip test over queries).

# %% [markdown]
# **Parameters.** The next cell holds this chapter's parameters and their defaults (papermill
# knows it by its `parameters` tag). To run the chapter with other values, pass them by name, e.g.
# `python scripts/run_notebooks.py --only 08 -p hidden 256` from the repository root (it runs
# what the chapter needs first), or `papermill book/08_encoders.ipynb out.ipynb --cwd book -p hidden 256`;
# in JupyterLab, edit the cell and run all cells.

# %% tags=["parameters"]
# "fast": one split (no intervals), two encoders, shorter training
profile = "full"
scaffold_seeds = [0, 1, 2, 3, 4]
model_seeds = [0]
encoders = [
    "ecfp4",
    "ecfp4-count",
    "ecfp6",
    "fcfp4",
    "atompair",
    "torsion",
    "maccs",
    "rdkit2d",
    "ecfp4+rdkit2d",
]
hidden = 512
n_jobs = 2  # worker processes; results do not depend on it

# %%
from thinbridge import book  # first: pins the CPU kernels

# a parameter that cannot be used stops the chapter here, in one line naming it
book.check_parameters(
    profile=profile,
    scaffold_seeds=scaffold_seeds,
    model_seeds=model_seeds,
    encoders=encoders,
    hidden=hidden,
    n_jobs=n_jobs,
)


# %%
from thinbridge import book  # first: pins the CPU kernels

import dataclasses

import pandas as pd

from thinbridge.book import plots
from thinbridge.book import claims as verdict
from thinbridge import (
    RunConfig,
    fmt_interval,
    fmt_p,
    interval_summary,
    paired,
    replicate,
)

paths = book.setup()
pairs = book.load_pairs(paths)
main = RunConfig()
if profile == "fast":
    scaffold_seeds, encoders = scaffold_seeds[:1], ["ecfp4", "maccs"]
main = book.for_profile(main, profile)  # fast: book.FAST_PROFILE
splits = [("scaffold", s) for s in scaffold_seeds]
variants = {
    f"linear, {e}": dataclasses.replace(main, drug_encoder=e)
    for e in encoders
}
variants["mlp, ecfp4"] = dataclasses.replace(
    main, bridge="mlp", hidden=hidden
)
print(
    f"{len(splits)} scaffold splits x {len(variants)} bridges x "
    f"{len(model_seeds)} model seed(s)"
)

# %%
records = replicate(
    pairs,
    paths.data,
    variants,
    splits,
    model_seeds,
    baselines=["NoDrug"],
    extra_baselines=True,
    n_jobs=n_jobs,
)
records.to_csv(paths.artifact(book.ENCODER_RECORDS), sep="\t", index=False)
records = records.assign(
    model=[
        m if m.startswith(("linear", "mlp")) else f"{m} (ECFP4)"
        for m in records.model
    ]
)
print(f"{len(records):,} query results")

# %% [markdown]
# ## The table
#
# Global MRR and Recall@1, within-target Recall@1, and the solvable view, scaffold splits.

# %%
reference = "linear, ecfp4"
rows = []
for metric, scope in (
    ("MRR", "global"),
    ("R@1", "global"),
    ("R@1", "within_target"),
    ("R@1", "solvable"),
):
    s = interval_summary(records, metric, scope)
    for _, r in s.iterrows():
        p = (
            paired(records, r.model, reference, metric, scope).p_queries.iloc[
                0
            ]
            if r.model != reference
            else float("nan")
        )
        rows.append(
            {
                "model": r.model,
                "column": f"{metric} {scope.replace('_', ' ')}",
                "cell": f"{fmt_interval(r['mean'], r.lo, r.hi)} "
                f"{fmt_p(p) if r.model != reference else ''}",
            }
        )
summary_all = pd.concat(
    [
        interval_summary(records, m, s)
        for m, s in (("MRR", "global"), ("R@1", "within_target"))
    ]
)
order = list(
    summary_all[summary_all.metric == "MRR"]
    .sort_values("mean", ascending=False)
    .model
)
table = (
    pd.DataFrame(rows)
    .pivot(index="model", columns="column", values="cell")
    .loc[order]
)
table

# %% [markdown]
# ## The figure

# %% mystnb={"image": {"alt": "Global MRR and within-target Recall@1 of each encoder, bridge and closed-form fit across scaffold splits, with 95% intervals"}}
fig = plots.interval_bars(
    summary_all,
    "model",
    "Encoders, bridges and closed-form fits (scaffold splits, 95% intervals)",
    order=order,
    path=paths.figure("encoders.png"),
)

# %% [markdown]
# (verdict-encoders)=
# ## Reading
#
# The best model by global MRR, and how the paper's choice compares:

# %%
best = (
    summary_all[summary_all.metric == "MRR"]
    .sort_values("mean", ascending=False)
    .iloc[0]
)
ref = summary_all[
    (summary_all.metric == "MRR") & (summary_all.model == reference)
].iloc[0]
vs = (
    paired(records, best.model, reference, "MRR", "global").iloc[0]
    if best.model != reference
    else None
)
print(
    f"best by global MRR: {best.model} "
    f"{fmt_interval(best['mean'], best.lo, best.hi)}; "
    f"the paper's linear ECFP4 bridge "
    f"{fmt_interval(ref['mean'], ref.lo, ref.hi)}"
    + (f"; {verdict.evidence(vs)}" if vs is not None else "")
)
for other in ("ridge (ECFP4)", "text neighbours (ECFP4)", "mlp, ecfp4"):
    t = paired(records, reference, other, "MRR", "global").iloc[0]
    print(f"linear ECFP4 bridge vs {other}: {verdict.evidence(t)}")

claims = verdict.encoder_claims(records, reference)
verdict.save(claims, paths.artifact(book.CLAIMS_ENCODERS))
verdict.table(claims)[["claim", "status"]]

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: encoders-ex-counts
#
# ECFP4 counts and ECFP4 bits have the same environments. Why can counts help a linear head?
# ```
#
# ```{solution-start} encoders-ex-counts
# :class: dropdown
# ```
#
# A bit says an environment is present; a count says how often. A linear head on counts adds
# an environment's weight once per occurrence, so two carboxylates pull harder than one, and
# molecules that differ only in how many times a group occurs (common within a series acting
# on one target) get different embeddings. The difference in this table:

# %%
print(
    verdict.evidence(
        paired(
            records, "linear, ecfp4-count", reference, "MRR", "global"
        ).iloc[0]
    )
    if "linear, ecfp4-count" in set(records.model)
    else "ecfp4-count not in this profile"
)

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: encoders-ex-ridge
#
# Ridge regression maps drug features to the text space in closed form and comes close to the
# trained bridge. What does the bridge have that ridge lacks?
# ```
#
# ```{solution-start} encoders-ex-ridge
# :class: dropdown
# ```
#
# Ridge minimises squared error to each pair's own text embedding; it never sees the other
# texts. The contrastive loss ranks the right text above the others in the batch, which is
# what retrieval scores, and it learns a second projection on the text side, so the shared
# space need not be the text model's own. Both are linear: the gap between them is what the
# objective buys, not depth.
#
# ```{solution-end}
# ```
