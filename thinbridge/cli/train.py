"""``thinbridge train``: train one bridge and score it into a run folder."""
from __future__ import annotations

from pathlib import Path

from thinbridge._util.errors import UserError
from thinbridge.cli.common import number, print_summary


def add_subparser(sub):
    from thinbridge.config import BATCH_KINDS, BRIDGE_KINDS, DRUG_ENCODERS, PROTOCOLS, SPLIT_KINDS, TEXT_VIEWS, RunConfig

    d = RunConfig()
    p = sub.add_parser("train", help="train a bridge and score it (writes model.safetensors, config.json, metrics.json)")
    p.add_argument("--data", required=True, help="folder written by `thinbridge prepare`")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--cache", default=None, help="feature cache folder (default: DATA/cache)")
    p.add_argument("--split", choices=SPLIT_KINDS, default=d.split)
    p.add_argument("--split-seed", type=number(int, 0), default=d.split_seed)
    p.add_argument("--seed", type=number(int, 0), default=d.seed, help="initialisation and batch-order seed")
    p.add_argument("--temperature", "-T", type=number(float), default=d.temperature)
    p.add_argument("--margin", "-m", type=number(float, 0), default=d.margin)
    p.add_argument("--hard-weight", type=number(float, 0), default=d.hard_weight,
                   help="weight of in-batch negatives sharing the anchor's target (1 = plain InfoNCE)")
    p.add_argument("--text-view", choices=TEXT_VIEWS, default=d.text_view)
    name = p.add_mutually_exclusive_group()
    name.add_argument("--with-name", dest="with_name", action="store_true", default=d.with_name,
                      help="put the drug name in the text")
    name.add_argument("--no-name", dest="with_name", action="store_false")
    p.add_argument("--text-model", default=None, help="sentence-transformers name or folder (default: offline all-MiniLM-L6-v2)")
    p.add_argument("--drug-encoder", choices=DRUG_ENCODERS, default=d.drug_encoder, metavar="NAME",
                   help=f"frozen drug encoder: {', '.join(DRUG_ENCODERS)} (default: ecfp4, 2,048 bits, as the paper)")
    p.add_argument("--epochs", type=number(int, 1), default=d.epochs)
    p.add_argument("--patience", type=number(int, 1), default=d.patience)
    p.add_argument("--dim", "-d", type=number(int, 1), default=d.dim)
    p.add_argument("--bridge", choices=BRIDGE_KINDS, default=d.bridge,
                   help="linear heads (the paper's, default) or 'mlp': one hidden ReLU layer per head")
    p.add_argument("--hidden", type=number(int, 1), default=d.hidden,
                   help=f"hidden units per head with --bridge mlp (default: {d.hidden})")
    p.add_argument("--batch-size", type=number(int, 2), default=d.batch_size)
    p.add_argument("--batches", choices=BATCH_KINDS, default=d.batches,
                   help="random batches, or 'target': several targets with several drugs each, so that "
                        "same-target (hard) negatives are in every batch (default: random)")
    p.add_argument("--per-target", type=number(int, 2), default=d.per_target,
                   help="with --batches target: drugs of one target kept together in a batch (default: 8)")
    p.add_argument("--lr", type=number(float), default=d.lr)
    p.add_argument("--protocol", choices=PROTOCOLS, default=d.protocol,
                   help="retrieval candidates and what counts as correct (see thinbridge.evaluation.tasks)")
    p.add_argument("--n-boot", type=number(int, 0), default=d.n_boot, help="bootstrap resamples for 95%% CIs")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=run)


def run(a) -> int:
    from thinbridge.config import RunConfig
    from thinbridge._util.paths import check_out_dir

    cfg = RunConfig(split=a.split, split_seed=a.split_seed, seed=a.seed, temperature=a.temperature, margin=a.margin,
                    hard_weight=a.hard_weight, text_view=a.text_view, with_name=a.with_name,
                    text_model=a.text_model, drug_encoder=a.drug_encoder, bridge=a.bridge, hidden=a.hidden,
                    epochs=a.epochs, patience=a.patience, dim=a.dim,
                    batch_size=a.batch_size, batches=a.batches, per_target=a.per_target, lr=a.lr,
                    protocol=a.protocol, n_boot=a.n_boot).validate()
    check_out_dir(a.out)
    if not Path(a.data, "pairs.tsv").is_file():
        raise UserError(f"--data {a.data}: no pairs.tsv here; run `thinbridge prepare --out {a.data}` first")
    if a.cache:
        check_out_dir(a.cache, "--cache")
    from thinbridge.training.run import train_run

    res = train_run(a.data, a.out, cfg, a.cache, show_progress=not a.quiet)
    print_summary(res["metrics"])
    tr = res["config"]["training"]
    print(f"best epoch {tr['best_epoch']} of {tr['epochs_run']}; wrote {a.out}/model.safetensors, config.json, "
          f"metrics.json ({res['seconds']:.1f} s)")
    return 0
