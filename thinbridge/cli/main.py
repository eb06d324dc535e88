"""The parser and the entry point: one module per subcommand adds its parser and runs it.

Building the parser imports no heavy library (torch, numpy, pandas, RDKit): each subcommand
imports what it needs when it runs, so ``thinbridge --help`` answers at once.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings

from thinbridge._util.errors import UserError
from thinbridge.cli import download, evaluate, index, prepare, query, serve, train
from thinbridge.cli.common import Parser


def build_parser() -> argparse.ArgumentParser:
    from thinbridge import __version__

    ap = Parser(prog="thinbridge", description="Thin contrastive bridges between frozen drug and "
                                 "text encoders (a reproduction of arXiv 2510.03309).")
    ap.add_argument("--version", action="version", version=f"thinbridge {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for command in (prepare, download, train, evaluate, query, index, serve):
        command.add_subparser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed in one line
        return e.code if isinstance(e.code, int) else 2
    if not getattr(a, "func", None):
        ap.print_help()
        return 2
    if getattr(a, "quiet", False):
        os.environ["THINBRIDGE_PROGRESS"] = "0"
        from thinbridge._util.progress import set_progress

        set_progress(False)
    warnings.filterwarnings("ignore", category=FutureWarning)
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    previous = signal.signal(signal.SIGTERM, _terminated) if _main_thread() else None
    try:
        return int(a.func(a) or 0)
    except UserError as e:
        print(f"thinbridge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"thinbridge: interrupted; {_cleanup_note(e)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `thinbridge query ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except _Terminated as e:
        print(f"thinbridge: terminated; {_cleanup_note(e)}", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _cleanup_note(e: BaseException) -> str:
    """What an interrupted command left: the note a step attached (``thinbridge_note``), or the usual."""
    return getattr(e, "thinbridge_note", "partial output removed, worker processes stopped")


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up (``finally``, pool shutdown) runs."""


def _terminated(signum, frame):
    raise _Terminated()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

