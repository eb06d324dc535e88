"""Training: fitting bridges and scoring them.

``grid`` trains many bridges at once (the sparse, batched trainer with its loss,
:func:`stacked_loss`, and early stopping), ``run`` trains one bridge from a prepared data folder
into a run folder and scores it (what ``thinbridge train`` does), ``replicates`` trains and
scores models over many split and model seeds for the statistics of
:mod:`thinbridge.evaluation.statistics`. May import :mod:`thinbridge.evaluation`,
:mod:`thinbridge.bridge` and below.
"""
from thinbridge.training.run import Inputs, load_inputs, train_run, score_run, embed
from thinbridge.training.grid import fit_many
from thinbridge.training.replicates import replicate, cross

__all__ = ["Inputs", "load_inputs", "train_run", "score_run", "embed", "fit_many", "replicate", "cross"]
