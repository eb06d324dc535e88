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
# `thinbridge.book.claims`): a claim that A beats B is **confirmed** when A's mean is higher
# and the paired sign-flip test over queries gives p < 0.05, and **refuted** otherwise (no
# detectable gain, or a loss); a number of the paper is **confirmed** when it lies inside our
# 95% interval across split seeds under the protocol the paper describes (scaffold splits), and
# **refuted** otherwise, with the side ours lies on; its evidence also names the protocols of
# the {ref}`protocol map <verdict-numbers>` under which the paper's value *is* inside our
# interval (the replication chapter says which of those are fair tests). The best-cell claim is
# **confirmed** when the paper's cell has the highest mean, **refuted** when another cell is
# significantly better, and **inconclusive** in between. Nothing in this table is typed: it is
# read from the files the two chapters wrote.

# %% [markdown]
# **Parameters.** The next cell holds this chapter's parameters and their defaults (papermill
# knows it by its `parameters` tag). To run the chapter with other values, pass them by name, e.g.
# `python scripts/run_notebooks.py --only 09 -p profile fast` from the repository root (it runs
# what the chapter needs first), or `papermill book/09_verdict.ipynb out.ipynb --cwd book -p profile fast`;
# in JupyterLab, edit the cell and run all cells.

# %% tags=["parameters"]
profile = "full"

# %%
from thinbridge import book  # first: pins the CPU kernels

# a parameter that cannot be used stops the chapter here, in one line naming it
book.check_parameters(profile=profile)


# %%
from thinbridge import book  # first: pins the CPU kernels

from IPython.display import Markdown, display

from thinbridge.book import claims as verdict

paths = book.setup()
records = verdict.load(
    paths.artifact(book.CLAIMS_REPLICATION),
    paths.artifact(book.CLAIMS_ENCODERS),
)
claims = verdict.table(records)
print(claims.status.value_counts().to_string())

# %%
display(Markdown(verdict.verdict_markdown(records)))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: verdict-ex-rule
#
# The rules call a claim *refuted* when the gain is not significant. Is "no detectable gain"
# the same as "no gain"? What would you need to say "no gain larger than δ"?
# ```
#
# ```{solution-start} verdict-ex-rule
# :class: dropdown
# ```
#
# No: absence of evidence is not evidence of absence. To rule out a gain larger than δ, the
# 95% interval of the difference must lie below δ (an equivalence test). The intervals are in
# each claim's record (`hi`): here are the claims whose interval of the difference excludes a gain of
# 0.02 or more.

# %%
# the upper bound of each difference as the evidence prints it (NaN for the paper's numbers)
upper = [verdict.shown(c.hi) for c in records]
print(
    claims.assign(upper=upper)
    .query("upper < 0.02")[["claim", "upper"]]
    .to_string(index=False)
)

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: verdict-ex-protocol
#
# Our within-target numbers are far below the paper's, while our global numbers are above.
# Name two protocol choices that could explain both.
# ```
#
# ```{solution-start} verdict-ex-protocol
# :class: dropdown
# ```
#
# (1) How within-target groups are formed and counted: if targets with a single candidate count
# as rank 1, or groups are built over all pairs rather than test molecules, within-target
# recall rises steeply (the training chapter shows the all-queries view). (2) What counts as
# correct: with identical texts for drugs of one target and mechanism, a protocol that accepts
# any molecule paired with the query's text (`any_match`) or uses the drug name scores far
# higher within target. Globally, a stronger or weaker text encoder and the candidate pool
# (distinct molecules vs all pairs) move the numbers the other way.
#
# ```{solution-end}
# ```
