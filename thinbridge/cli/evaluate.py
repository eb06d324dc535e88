"""``thinbridge evaluate``: re-score a saved run on its test split."""
from __future__ import annotations

from pathlib import Path

from thinbridge._util import jsonio
from thinbridge._util.errors import UserError
from thinbridge.cli.common import print_summary


def add_subparser(sub):
    p = sub.add_parser("evaluate", help="re-score a saved run on its test split")
    p.add_argument("run", help="run folder written by `thinbridge train`")
    p.add_argument("--data", default=None, help="prepared data folder (default: the one recorded in the run)")
    p.add_argument("--cache", default=None)
    p.add_argument("--out", default=None, help="write metrics here (default: print only)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=run)


def run(a) -> int:
    from thinbridge import data as D
    from thinbridge.config import RunConfig
    from thinbridge.bridge.model import load_run, read_config
    from thinbridge._util.paths import check_out_file

    if a.out:
        check_out_file(a.out)
    rec = read_config(a.run)
    if not isinstance(rec.get("config"), dict):
        raise UserError(f"{a.run}: incomplete run folder (config.json has no 'config'); train one with `thinbridge train`")
    data_dir = a.data or rec.get("data_dir")
    if not data_dir or not Path(data_dir, "pairs.tsv").is_file():
        raise UserError(f"prepared data for {a.run} not found at {data_dir}; pass --data DIR")
    if rec.get("data_hash") and D.data_hash(data_dir) != rec["data_hash"]:
        raise UserError(f"{data_dir}/pairs.tsv is not the data {a.run} was trained on (hash differs)")
    cfg = RunConfig.from_dict(rec["config"], source=str(Path(a.run) / "config.json"))
    from thinbridge.training.run import load_inputs, score_run

    inp = load_inputs(data_dir, cfg, a.cache, show_progress=not a.quiet)
    model, _ = load_run(a.run, expect={"text": inp.encoders["text"], "drug": inp.encoders["drug"],
                                       "text_dim": inp.x_text.shape[1]})
    m = score_run(model, inp, cfg)
    print_summary(m)
    if a.out:
        jsonio.write(a.out, m)
        print(f"wrote {a.out}")
    return 0
