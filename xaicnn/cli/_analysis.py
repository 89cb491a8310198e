"""Helpers shared by the run-analysis commands (evaluate, gradflow, curves); imports torch lazily."""
from __future__ import annotations

import json
from pathlib import Path


def add_checkpoint_arguments(parser, *, several: bool) -> None:
    """--ckpt (repeatable when ``several``), --out and --json, the same in every analysis command."""
    help_text = "checkpoint file (a bare name is looked up in the checkpoint folder)"
    if several:
        parser.add_argument("--ckpt", action="append", required=True, metavar="PATH",
                            help=help_text + "; repeat to compare runs")
    else:
        parser.add_argument("--ckpt", required=True, metavar="PATH", help=help_text)
    parser.add_argument("--out", metavar="DIR", help="output folder (default: beside the (first) checkpoint)")
    parser.add_argument("--json", action="store_true", help="print the JSON record to stdout (figures are still written)")


def load_runs(paths: list[str]):
    """Each checkpoint as a :class:`~xaicnn.training.Run` (bare names resolved, one-sentence errors)."""
    from ..training import load_checkpoint

    return [load_checkpoint(p) for p in paths]


def out_dir(out: str | None, checkpoint: Path, suffix: str) -> Path:
    """``--out`` if given, else ``<checkpoint dir>/<checkpoint stem>_<suffix>/``; created, and proven writable
    before any work is done (a file there, a read-only disk: one sentence now, not after the analysis)."""
    from .._io import check_writable

    folder = Path(out) if out else checkpoint.parent / f"{checkpoint.stem}_{suffix}"
    return check_writable(folder, what="--out" if out else "the default output folder, beside the checkpoint")


def run_labels(runs) -> list[str]:
    """One distinct file-name-safe label per run: the checkpoint stem, numbered when stems repeat."""
    stems = [r.path.stem for r in runs]
    return [s if stems.count(s) == 1 else f"{s}-{i + 1}" for i, s in enumerate(stems)]


def finish(doc: dict, as_json: bool, text: str) -> int:
    """Print ``doc`` as JSON (``--json``) or the human ``text``."""
    print(json.dumps(doc, indent=2) if as_json else text)
    return 0
