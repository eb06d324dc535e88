"""Training: fitting bridges and scoring them.

``grid`` trains many bridges at once (the sparse, batched trainer with its loss,
:func:`stacked_loss`, and early stopping), ``run`` trains one bridge from a prepared data folder
into a run folder and scores it (what ``thinbridge train`` does), ``replicates`` trains and
scores models over many split and model seeds for the statistics of
:mod:`thinbridge.evaluation.statistics`. May import :mod:`thinbridge.evaluation`,
:mod:`thinbridge.bridge` and below.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Inputs": "thinbridge.training.run",
    "load_inputs": "thinbridge.training.run",
    "train_run": "thinbridge.training.run",
    "score_run": "thinbridge.training.run",
    "embed": "thinbridge.training.run",
    "fit_many": "thinbridge.training.grid",
    "replicate": "thinbridge.training.replicates",
    "cross": "thinbridge.training.replicates",
})
