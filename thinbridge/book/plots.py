"""Every figure of the book, one function each. PNG only (nbval and the browser check like it)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sns.set_theme(context="notebook", style="whitegrid")


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _save(fig, path: str | Path | None):
    """Save as PNG when a path is given; in a notebook, display the figure once and close it.

    Showing and closing explicitly (rather than relying on the inline backend's end-of-cell
    flush) makes every executor (papermill, nbval, Jupyter) produce exactly one image per figure.
    """
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    if _in_notebook():
        from IPython.display import display

        display(fig)
        plt.close(fig)
    return fig


def similarity_panels(mats: Sequence[np.ndarray], titles: Sequence[str], suptitle: str,
                      xlabel: str = "text j", ylabel: str = "drug i", vmin=None, vmax=None,
                      path: str | Path | None = None, cbar_label: str = "cosine similarity"):
    """Side-by-side heatmaps (Figures 1, 2 and 5). A shared colour scale unless one is given per panel."""
    n = len(mats)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.6), squeeze=False)
    lo = vmin if vmin is not None else min(float(np.min(m)) for m in mats)
    hi = vmax if vmax is not None else max(float(np.max(m)) for m in mats)
    for ax, m, t in zip(axes[0], mats, titles):
        im = ax.imshow(m, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(t, fontsize=11)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
        d = np.diag(m) if m.shape[0] == m.shape[1] else None
        if d is not None:
            off = (m.sum() - d.sum()) / max(m.size - len(d), 1)
            ax.text(0.02, -0.27, f"mean diagonal {d.mean():.3f}, off-diagonal {off:.3f}",
                    transform=ax.transAxes, fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label=cbar_label)
    fig.suptitle(suptitle, fontsize=12)
    return _save(fig, path)


def cmc_plot(curves: dict[str, Sequence[float]], random_curves: dict[str, Sequence[float]] | None = None,
             title: str = "Cumulative match", path: str | Path | None = None):
    """Recall@k against k (Figure 3). ``curves``: label -> recall values for k = 1..K."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, c in curves.items():
        ax.plot(np.arange(1, len(c) + 1), c, marker="o", ms=3, label=label)
    for label, c in (random_curves or {}).items():
        ax.plot(np.arange(1, len(c) + 1), c, ls=":", color="grey", label=label)
    ax.set_xlabel("k (candidates inspected)")
    ax.set_ylabel("Recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=9, loc="lower right")
    return _save(fig, path)


def ablation_plot(df: pd.DataFrame, metric: str, ylabel: str, title: str, path: str | Path | None = None):
    """Figure 4: ``metric`` against margin, one line per temperature, one panel per drug-name setting;
    error bars are the standard deviation over seeds."""
    d = df.copy()
    d["text"] = np.where(d["with_name"], "WithDrug (name in text)", "NoDrug")
    d["T"] = d["temperature"].map(lambda t: f"T = {t:g}")
    g = sns.catplot(data=d, x="margin", y=metric, hue="T", col="text", kind="point", errorbar="sd",
                    dodge=0.3 if d["T"].nunique() > 1 else False, capsize=0.1, height=4.2, aspect=1.15, palette="viridis", markersize=4,
                    col_order=["NoDrug", "WithDrug (name in text)"])
    g.set_axis_labels("margin m", ylabel)
    g.figure.suptitle(title, y=1.03)
    return _save(g.figure, path)


def histograms(values: dict[str, np.ndarray], xlabel: str, title: str, bins=30, path: str | Path | None = None):
    """Overlaid density histograms (e.g. nearest-training-neighbour similarity per split kind)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, v in values.items():
        ax.hist(v, bins=bins, range=(0, 1), alpha=0.5, density=True, label=f"{label} (median {np.median(v):.2f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def training_curves(histories: dict[str, list[dict]], path: str | Path | None = None):
    """Training loss and validation MRR per epoch, one line per run."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for label, h in histories.items():
        e = [r["epoch"] for r in h]
        a.plot(e, [r["train_loss"] for r in h], label=label)
        b.plot(e, [r["val_t2d_MRR"] for r in h], label=label)
    a.set(xlabel="epoch", ylabel="training loss", title="Bridge loss on the training pairs")
    b.set(xlabel="epoch", ylabel="MRR", title="Validation text → drug MRR (early-stopping metric)")
    b.legend(fontsize=8)
    return _save(fig, path)


def bar_sizes(sizes: np.ndarray, title: str, path: str | Path | None = None):
    """Distribution of scaffold-group sizes (log counts)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    vals, counts = np.unique(sizes, return_counts=True)
    ax.bar(vals.astype(str) if len(vals) < 25 else vals, counts)
    ax.set_yscale("log")
    ax.set_xlabel("molecules per scaffold group")
    ax.set_ylabel("number of groups")
    ax.set_title(title)
    return _save(fig, path)


def draw_hits(hits: pd.DataFrame, correct: str | None = None, per_row: int = 5, size=(230, 190)):
    """The molecules of a search result drawn in a grid, each labelled with its name (or id) and
    score, and a tick or cross from the boolean column ``correct`` if given. Returns a PIL image."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    names = hits["drug_name"] if "drug_name" in hits else hits["id"]
    marks = [(" ✓" if ok else " ✗") for ok in hits[correct]] if correct else [""] * len(hits)
    legends = [f"{str(n)[:22]}  {s:.2f}{m}" for n, s, m in zip(names, hits["score"], marks)]
    mols = [Chem.MolFromSmiles(s) for s in hits["parent_smiles"]]
    return Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=size, legends=legends)



def interval_bars(summary: pd.DataFrame, label: str, title: str, order=None, path: str | Path | None = None):
    """Horizontal bars of ``summary`` means (one per row of ``label``) with their 95% intervals
    (``lo``, ``hi``), one panel per ``metric``/``scope`` pair in the frame."""
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(zip(summary["metric"], summary["scope"])))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.38 * summary[label].nunique() + 1.6),
                             sharey=True, squeeze=False)
    for ax, (metric, scope) in zip(axes[0], panels):
        d = summary[(summary.metric == metric) & (summary.scope == scope)].set_index(label)
        d = d.loc[[o for o in (order or d.index) if o in d.index]]
        y = np.arange(len(d))
        ax.barh(y, d["mean"], xerr=[d["mean"] - d["lo"], d["hi"] - d["mean"]], color="#4c72b0", alpha=0.85,
                error_kw={"ecolor": "black", "capsize": 3})
        ax.set_yticks(y, d.index)
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric} ({scope.replace('_', ' ')})")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def bridge_similarities(models, x_drug, x_text) -> list:
    """Drug-text cosine similarity matrices (``z_drug @ z_text.T``) of the same pairs under each
    bridge in ``models``, for :func:`similarity_panels`."""
    from thinbridge.training.run import embed

    out = []
    for model in models:
        zd, zt = embed(model, x_drug, x_text)
        out.append(zd @ zt.T)
    return out


#: colours of the protocol map's series: split kind (blues: scaffold, reds: random) and text/model
_MAP_SERIES = {("scaffold", "NoDrug"): "#08519c", ("scaffold", "WithDrug"): "#4292c6",
               ("scaffold", "WithDrug, best cell"): "#9ecae1", ("random", "NoDrug"): "#a50f15",
               ("random", "WithDrug"): "#ef3b2c", ("random", "WithDrug, best cell"): "#fc9272"}


def _map_row(r: pd.Series) -> str:
    if isinstance(r.reading, str):
        return f"grouped = {r.reading}"
    return r.candidates + ("" if not isinstance(r.queries, str) else f" · {r.queries}")


def protocol_map_plot(pmap: pd.DataFrame, title: str, path: str | Path | None = None):
    """For each paper number (a panel), every protocol's mean and 95% interval across split seeds:
    one row per candidate set and query set (or reading of "grouped"), one colour per split kind and
    inputs; the paper's value as a dashed line; a filled marker where the value lies inside the
    interval, a black ring around the protocol the paper describes."""
    from matplotlib.lines import Line2D

    numbers = list(dict.fromkeys(pmap.quantity))
    n_rows = [pmap[pmap.quantity == q].pipe(lambda g: len({_map_row(r) for _, r in g.iterrows()})) for q in numbers]
    fig, axes = plt.subplots(len(numbers), 1, figsize=(8, 2.2 + 0.36 * sum(n_rows) + 0.9 * len(numbers)),
                             gridspec_kw={"height_ratios": [n + 2 for n in n_rows]}, squeeze=False)
    for ax, q in zip(axes.flat, numbers):
        g = pmap[pmap.quantity == q]
        rows = list(dict.fromkeys(_map_row(r) for _, r in g.iterrows()))
        for k, ((split, inputs), colour) in enumerate(_MAP_SERIES.items()):
            s = g[(g.split == split) & (g.inputs == inputs)]
            y = np.array([rows.index(_map_row(r)) for _, r in s.iterrows()]) + (k - 2.5) * 0.13
            err = np.vstack([s["mean"] - s.lo, s.hi - s["mean"]]).clip(min=0)
            ax.errorbar(s["mean"], y, xerr=np.nan_to_num(err), fmt="none", ecolor=colour, elinewidth=1.6)
            inside = (s.position == "inside").to_numpy()
            ax.scatter(s["mean"][inside], y[inside], color=colour, s=28, zorder=3,
                       label=f"{split} split, {inputs}")
            ax.scatter(s["mean"][~inside], y[~inside], facecolor="white", edgecolor=colour, s=28, zorder=3)
            d = s.described.to_numpy()
            ax.scatter(s["mean"][d], y[d], facecolor="none", edgecolor="black", s=110, linewidth=1.3, zorder=4)
        ax.axvline(g.paper.iloc[0], color="black", linestyle="--", linewidth=1.2)
        ax.set_yticks(range(len(rows)), rows, fontsize=8.5)
        ax.grid(axis="y", visible=False)
        for y in np.arange(len(rows) - 1) + 0.5:
            ax.axhline(y, color="0.9", linewidth=0.8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.set_title(f"{q}: the paper's value {g.paper.iloc[0]}", fontsize=11)
        ax.set_xlabel("ours: mean and 95% interval across split seeds", fontsize=9)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="black", linestyle="--"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="grey"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="black",
                       markersize=11)]
    labels += ["the paper's value", "the paper's value outside our interval (filled: inside)",
               "the protocol the paper describes"]
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8.5,
               frameon=False)
    fig.suptitle(title, fontsize=12, y=1.0 + 0.5 / fig.get_figheight())
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / fig.get_figheight()))
    return _save(fig, path)
