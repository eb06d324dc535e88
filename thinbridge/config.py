"""Every choice a run makes (:class:`RunConfig`) and the names of the choices, without heavy imports.

This module imports only the standard library, so the command line can build its parser
(choices, defaults, help) without loading torch, pandas or RDKit.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from thinbridge._util.errors import UserError

#: ECFP4 as the paper: RDKit Morgan fingerprint of radius 2 folded to 2048 bits (the drug
#: encoder, :mod:`thinbridge.features.drugs`, and the leakage audit of :mod:`thinbridge.data.splits`)
ECFP_RADIUS = 2
ECFP_BITS = 2048
#: how pairs are split over parent molecules (:mod:`thinbridge.data.splits`)
SPLIT_KINDS = ("scaffold", "random")
#: the text views (templates in :data:`thinbridge.data.pairs.TEXT_TEMPLATES`)
TEXT_VIEWS = ("basic", "rich")
#: how training batches are drawn (:func:`thinbridge.training.grid.batch_order`)
BATCH_KINDS = ("random", "target")
#: the frozen drug encoders (:data:`thinbridge.features.drugs.DRUG_ENCODERS`); ecfp4 is the paper's
DRUG_ENCODERS = ("ecfp4", "ecfp4-count", "ecfp6", "fcfp4", "atompair", "torsion", "maccs", "rdkit2d", "ecfp4+rdkit2d")
#: the bridge's heads: linear (the paper's) or with one hidden ReLU layer
BRIDGE_KINDS = ("linear", "mlp")
#: retrieval protocols (:mod:`thinbridge.evaluation.tasks`)
PROTOCOLS = ("distinct", "any_match", "pair")
#: lines of a library per partition: an index build's unit of work and of batching (:mod:`thinbridge.search.build`)
CHUNK_SIZE = 4096
#: index kinds (:mod:`thinbridge.search.ann`): exact search, or approximate with FAISS; auto picks by size
INDEX_KINDS = ("exact", "hnsw", "ivfpq")
INDEX_KIND_CHOICES = ("auto",) + INDEX_KINDS
#: ``--kind auto`` builds an exact index below this many molecules, ``ivfpq`` from here on
AUTO_EXACT_BELOW = 1_000_000


@dataclass
class RunConfig:
    """Every choice a run makes. Defaults are the book's main configuration."""

    split: str = "scaffold"          # 'scaffold' or 'random' (over parent molecules)
    split_seed: int = 0
    sizes: tuple = (0.8, 0.1, 0.1)
    seed: int = 0                    # initialisation and batch order
    text_view: str = "rich"          # 'basic' or 'rich' (thinbridge.data.pairs.TEXT_TEMPLATES)
    with_name: bool = False          # prefix the drug name to the text ("WithDrug")
    text_model: str | None = None    # None: offline all-MiniLM-L6-v2
    drug_encoder: str = "ecfp4"      # one of DRUG_ENCODERS (ECFP4 bits, as the paper)
    dim: int = 256
    bridge: str = "linear"           # 'linear' (the paper's thin heads) or 'mlp' (one hidden ReLU layer)
    hidden: int = 512                # hidden units per head of an 'mlp' bridge
    temperature: float = 0.07
    margin: float = 0.1
    hard_weight: float = 2.0         # weight of in-batch negatives that share the anchor's target
    mask_false_negatives: bool = True  # same molecule / identical text in a batch is not a negative
    epochs: int = 60
    patience: int = 10
    batch_size: int = 256
    batches: str = "random"          # 'random', or 'target': several targets, several drugs each
    per_target: int = 8              # with batches='target': drugs of one target kept together in a batch
    lr: float = 1e-3
    weight_decay: float = 1e-4
    protocol: str = "distinct"       # see thinbridge.evaluation.tasks
    n_boot: int = 1000

    def validate(self) -> "RunConfig":
        """Raise :class:`UserError` naming the first value that cannot be used; return self."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", "int") and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise UserError(f"{f.name} must be a number, got {v!r}")
            if f.type == "float" and not math.isfinite(v):
                raise UserError(f"{f.name} must be a finite number, got {v!r}")
            if f.type == "int" and v != int(v):
                raise UserError(f"{f.name} must be a whole number, got {v!r}")
        checks = [
            (self.split in SPLIT_KINDS, f"split must be one of {SPLIT_KINDS}, not {self.split!r}"),
            (self.text_view in TEXT_VIEWS, f"text view must be one of {TEXT_VIEWS}, not {self.text_view!r}"),
            (self.drug_encoder in DRUG_ENCODERS,
             f"drug encoder must be one of {', '.join(DRUG_ENCODERS)}, not {self.drug_encoder!r}"),
            (self.temperature > 0, f"temperature must be > 0, got {self.temperature}"),
            (self.margin >= 0, f"margin must be >= 0, got {self.margin}"),
            (self.hard_weight >= 0, f"hard-negative weight must be >= 0, got {self.hard_weight}"),
            (self.dim >= 1, f"dim must be >= 1, got {self.dim}"),
            (self.bridge in BRIDGE_KINDS, f"bridge must be one of {BRIDGE_KINDS}, not {self.bridge!r}"),
            (self.hidden >= 1, f"hidden units must be >= 1, got {self.hidden}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.patience >= 1, f"patience must be >= 1, got {self.patience}"),
            (self.batch_size >= 2, f"batch size must be >= 2, got {self.batch_size}"),
            (self.batches in BATCH_KINDS, f"batches must be one of {BATCH_KINDS}, not {self.batches!r}"),
            (self.per_target >= 2, f"drugs per target in a batch must be >= 2, got {self.per_target}"),
            (self.lr > 0, f"learning rate must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"weight decay must be >= 0, got {self.weight_decay}"),
            (self.protocol in PROTOCOLS, f"protocol must be one of {PROTOCOLS}, not {self.protocol!r}"),
            (self.n_boot >= 0, f"bootstrap resamples must be >= 0, got {self.n_boot}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise UserError(msg)
        return self

    @property
    def hidden_units(self) -> int:
        """Hidden units per head: 0 for a linear bridge."""
        return self.hidden if self.bridge == "mlp" else 0

    @property
    def run_name(self) -> str:
        """The folder name the book gives a run of this configuration: ``scaffold_rich_noname``."""
        return f"{self.split}_{self.text_view}_{'name' if self.with_name else 'noname'}"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sizes"] = list(self.sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str | None = None) -> "RunConfig":
        """A config from ``config.json``'s ``config`` block; unknown keys are ignored, a bad value is a
        :class:`UserError` (naming ``source``, the file it came from, when given)."""
        if not isinstance(d, dict):
            raise UserError(f"{source or 'config'}: the run's config is not a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        try:
            if "sizes" in kw:
                kw["sizes"] = tuple(kw["sizes"])
            return cls(**kw).validate()
        except (UserError, TypeError) as e:
            if source is None:
                raise
            raise UserError(f"{source}: {e} (edited by hand? train the run again)") from None
