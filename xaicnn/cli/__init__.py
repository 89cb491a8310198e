"""``xaicnn`` command line: one module per command, each a thin layer over the library.

Command modules import nothing heavy at module level, so ``xaicnn --help`` answers without torch.
A :class:`~xaicnn.errors.UserError` becomes one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module under xaicnn.cli, one-line help); each module has add_arguments(parser) and run(args)
COMMANDS: dict[str, tuple[str, str]] = {
    "archs": ("archs", "list the architectures in the zoo"),
    "summary": ("summary", "per-layer output shapes, parameters and FLOPs of an architecture"),
    "data": ("data", "list the datasets or describe one"),
    "train": ("train", "train an architecture and write a checkpoint"),
    "inspect": ("inspect", "show a checkpoint's settings, history and gradient flow"),
    "attribute": ("attribute", "attribution heatmaps of one or more checkpoints, with faithfulness scores"),
    "evaluate": ("evaluate", "accuracy, per-class metrics and confusion matrix of a trained run"),
    "gradflow": ("gradflow", "per-layer gradient flow of trained runs: bars, heatmap, lines, stages"),
    "curves": ("curves", "learning curves (loss, accuracy) of one or more runs"),
    "similarity": ("similarity", "linear CKA between the layers of two runs (or of one with itself)"),
    "receptive-field": ("receptive_field", "theoretical receptive field per layer; effective field of runs, trained vs init"),
    "features": ("features", "inside the network: first-layer filters, feature maps, dead units per layer"),
    "study": ("study", "run a whole experiment: conditions x seeds -> table, statistics, verdicts, figures"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xaicnn",
        description="Train the classic CNN architectures, then explain and compare the runs.",
        epilog="Run 'xaicnn COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(f"xaicnn.cli.{module}")
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (``kill``, a scheduler's stop) raises :class:`~xaicnn.errors.Terminated` - a KeyboardInterrupt -
    so it takes Ctrl-C's path: temp files removed, a training saved, a sentence instead of a silent exit 143."""
    import signal
    import threading

    from ..errors import Terminated

    def terminate(signum, frame):
        raise Terminated()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xaicnn")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however often main() runs in one process
    # At exit, freeze the heap first: the interpreter's final collection then skips torch's object graph
    # (1-2 s after any command that imported torch, 0.3 s with this). At exit, not here: main() also runs
    # in-process (tests), where a frozen heap would never be collected.
    atexit.register(gc.freeze)
    _terminate_like_ctrl_c()
    return _run_command(args)


def _run_command(args) -> int:
    from ..errors import Terminated, UserError

    try:
        return args._run(args) or 0
    except UserError as err:
        print(f"xaicnn {args.command}: {err.label}: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:  # a command that keeps nothing partial (train and study say what they kept)
        print(f"xaicnn {args.command}: {'terminated' if isinstance(err, Terminated) else 'interrupted'}; "
              f"it stopped before finishing and left no partial file.", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    except BrokenPipeError:  # the reader went away (`xaicnn study --list | head`): stop quietly, like any Unix tool
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return 141
