"""What the subcommands share: the one-line-error parser, number arguments, printing."""
from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``thinbridge: error: argument --lr: ... (see thinbridge train --help)``."""

    def error(self, message):
        self.exit(2, f"thinbridge: error: {message} (see {self.prog} --help)\n")


def number(kind, lo=None, name="value"):
    """An argparse type: a finite int/float, at least ``lo``; a one-line message otherwise."""
    import math

    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole number' if kind is int else 'number'}")
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if lo is not None and v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {text}")
        return v

    parse.__name__ = kind.__name__
    return parse


def print_summary(m: dict) -> None:
    for d in ("text_to_drug", "drug_to_text"):
        g, w = m["test"][d]["global"], m["test"][d]["within_target"]
        line = (f"{d:13s} global R@1 {g['R@1']:.3f} MRR {g['MRR']:.3f} | within-target R@1 {w['R@1']:.3f} "
                f"MRR {w['MRR']:.3f} ({w['n_groups']} groups of 2+)")
        if "baselines" in m:
            rb = m["baselines"]["random_heads"][d]["global"]
            line += f" | random heads R@1 {rb['R@1']:.3f}"
        print(line)


def shown(text: str, width: int = 80) -> str:
    """A query as echoed back: quoted, and cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")
