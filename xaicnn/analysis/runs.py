"""Run discovery and the overview table: what the comparison app's sidebar and Overview page show.

``scan_runs(folder)`` lists every checkpoint under a folder as a :class:`RunEntry` (cheap: it reads the
checkpoint dict and checks its architecture and weight shapes on the meta device, loading no model); a file
that is not a readable checkpoint, names an unknown architecture or holds weights that don't fit it is listed
too, with ``ok=False`` and the one-sentence reason, so one broken file never hides the others.

``confine(folder, allowed_roots(...))`` is the app's fence: the folder, resolved (``..`` and symlinks
followed), if it lies under one of the folders the app serves, else one sentence.

``overview_rows(entries, group_seeds=...)`` turns entries into table rows: one row per run, or, with
``group_seeds=True``, one row per group of runs that share everything but the seed (architecture, its
options, dataset and training configuration), with mean, sample standard deviation and n - the
repeated-seed tables of the original reports.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

# Config fields that say where or how fast a run ran, not what was trained: runs differing only in these
# (and the seed) are repeats of one condition.
PLACEMENT_FIELDS = ("seed", "out", "device", "threads", "data_dir", "download", "save_every")

# The numeric columns averaged in a seed group (mean, std over the group).
GROUPED_METRICS = ("best_val_acc", "last_val_acc", "macro_f1", "seconds_per_epoch", "total_time")

MAX_FILES = 500  # a folder with more checkpoints than this is not a run folder (e.g. a home directory)
MAX_DEPTH = 3  # folders below the chosen one that are searched (a study keeps its runs in <study>/runs/)


@dataclass
class RunEntry:
    """One checkpoint file as the app lists it. Metrics are fractions (0..1); times are seconds."""

    path: Path
    name: str  # path relative to the scanned folder, without ".pt" (unique within the folder)
    ok: bool
    error: str = ""  # the one sentence saying why the file can't be read (ok=False only)
    arch: str = ""
    dataset: str = ""
    input_size: tuple[int, ...] = ()  # (C, H, W) the model takes
    status: str = ""  # complete | running | stopped_at_budget | diverged | broken
    seed: int | None = None
    params: int | None = None
    flops: int | None = None  # per image, FLOPs = 2 x MACs
    best_val_acc: float | None = None
    last_val_acc: float | None = None
    macro_f1: float | None = None  # macro F1 of the last epoch (the weights the checkpoint holds)
    epochs: int = 0
    seconds_per_epoch: float | None = None  # training only, after the first epoch (run_summary.SECONDS_PER_EPOCH)
    total_time: float | None = None  # wall time of the whole run
    model_options: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # the full TrainConfig dict
    mtime: float = 0.0  # file modification time: a cache key together with the path

    @property
    def condition(self) -> str:
        """A key shared by runs that differ only in seed (and where they ran): the seed-group key."""
        config = {k: v for k, v in self.config.items() if k not in PLACEMENT_FIELDS}
        return json.dumps([self.arch, self.model_options, self.dataset, config], sort_keys=True, default=str)

    @property
    def data_label(self) -> str:
        """``dataset CxHxW``: runs with the same data label can be compared on the same dataset images."""
        return f"{self.dataset} {'x'.join(map(str, self.input_size))}"


def _entry(path: Path, root: Path) -> RunEntry:
    from ..training._weights import check_weights
    from ..training.checkpoint import read_checkpoint
    from ..training.run_summary import summarize_run

    name = path.relative_to(root).with_suffix("").as_posix()
    mtime = path.stat().st_mtime
    try:
        state = read_checkpoint(path)
        check_weights(state.get("meta"), state.get("model"), path)  # a bad file is listed broken, not run on a page
        meta, s = state["meta"], summarize_run(state)
        return RunEntry(
            path=path, name=name, ok=True, arch=s.arch, dataset=s.dataset, status=s.status,
            input_size=(meta["in_channels"], *meta["image_size"]), seed=s.seed, params=s.params, flops=s.flops,
            best_val_acc=s.best_val_acc, last_val_acc=s.last_val_acc, macro_f1=s.macro_f1, epochs=s.epochs,
            seconds_per_epoch=s.seconds_per_epoch, total_time=s.total_time,
            model_options=dict(meta.get("model_options") or {}), config=dict(meta.get("config") or {}), mtime=mtime)
    except UserError as err:
        return RunEntry(path=path, name=name, ok=False, error=str(err), status="broken", mtime=mtime)
    except (KeyError, TypeError, AttributeError) as err:
        return RunEntry(path=path, name=name, ok=False, status="broken", mtime=mtime,
                        error=f"{path} is missing part of its metadata ({err}); it was not written by this xaicnn.")


def allowed_roots(*study_roots: str | Path) -> list[Path]:
    """The folders the comparison app serves, as given (not resolved): the checkpoint folder
    (``$XAICNN_CHECKPOINT_DIR``, else ``checkpoints/``) and the ``study_roots`` its Studies page reads."""
    from ..training.checkpoint import checkpoint_dir

    return [checkpoint_dir(), *(Path(r) for r in study_roots)]


def roots_text(roots: list[Path]) -> str:
    """``checkpoints/, studies/ and docs/studies/``: the served folders as a sentence names them."""
    names = [r.as_posix().rstrip("/") + "/" for r in roots]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def confine(folder: str | Path, roots: list[Path]) -> Path:
    """``folder`` resolved (``~``, ``..`` and symlinks followed, so none of them can lead out) if it is one of
    ``roots`` or lies under one; else :class:`UserError` with one sentence saying how to serve it."""
    resolved = Path(folder).expanduser().resolve()
    if any(resolved.is_relative_to(Path(root).expanduser().resolve()) for root in roots):
        return resolved
    raise UserError(f"{str(folder) or '.'} is outside the folders this app serves ({roots_text(roots)}); pick a "
                    f"folder under them, or start the app with XAICNN_CHECKPOINT_DIR={resolved} to serve it.")


def list_checkpoints(folder: str | Path, max_depth: int = MAX_DEPTH) -> list[Path]:
    """The ``*.pt`` files under ``folder`` (at most ``max_depth`` folders down, hidden folders skipped),
    sorted. Raises :class:`UserError` if ``folder`` is not a folder or holds more than ``MAX_FILES``:
    the walk stops there, so pointing the app at ``/`` or a home folder answers at once."""
    import os

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UserError(f"{root} is not a folder; pick a folder that holds checkpoints (*.pt).")
    found: list[Path] = []
    for here, dirs, files in os.walk(root):
        depth = len(Path(here).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
        found += [Path(here) / f for f in files if f.endswith(".pt")]
        if len(found) > MAX_FILES:
            raise UserError(f"{root} holds more than {MAX_FILES} .pt files; pick the folder of one experiment instead.")
    return sorted(p for p in found if p.is_file())


def scan_runs(folder: str | Path) -> list[RunEntry]:
    """Every checkpoint under ``folder`` (see :func:`list_checkpoints`; sorted by path) as a :class:`RunEntry`.

    Broken files come back with ``ok=False`` and ``error`` set instead of raising.
    """
    root = Path(folder).expanduser()
    return [_entry(p, root) for p in list_checkpoints(root)]


def _run_row(e: RunEntry) -> dict:
    return {"run": e.name, "arch": e.arch, "dataset": e.dataset, "params": e.params, "flops": e.flops,
            "best_val_acc": e.best_val_acc, "last_val_acc": e.last_val_acc, "macro_f1": e.macro_f1,
            "epochs": e.epochs, "seconds_per_epoch": e.seconds_per_epoch, "total_time": e.total_time,
            "status": e.status, "seed": e.seed}


def _mean_std(values: list) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _group_row(members: list[RunEntry]) -> dict:
    members = sorted(members, key=lambda m: (m.seed is None, m.seed or 0, m.name))
    first = members[0]
    row = {"runs": ", ".join(m.name for m in members), "arch": first.arch, "dataset": first.dataset,
           "options": ", ".join(f"{k}={v}" for k, v in sorted(first.model_options.items())),
           "n": len(members), "seeds": ", ".join(str(m.seed) for m in members),
           "params": first.params, "flops": first.flops, "epochs": first.epochs}
    for key in GROUPED_METRICS:
        row[key], row[f"{key}_std"] = _mean_std([getattr(m, key) for m in members])
    statuses = sorted({m.status for m in members})
    row["status"] = statuses[0] if len(statuses) == 1 else "mixed: " + ", ".join(statuses)
    return row


def overview_rows(entries: list[RunEntry], group_seeds: bool = True) -> list[dict]:
    """Overview table rows for the readable ``entries`` (broken ones are left out).

    ``group_seeds=False``: one row per run - ``run, arch, dataset, params, flops, best_val_acc,
    last_val_acc, macro_f1, epochs, seconds_per_epoch, total_time, status, seed``.

    ``group_seeds=True``: one row per condition (runs equal in everything but the seed), in first-seen
    order - ``runs, arch, dataset, options, n, seeds, params, flops, epochs, status`` and, for each of
    best_val_acc, last_val_acc, macro_f1, seconds_per_epoch, total_time, the mean and ``<key>_std`` (the
    sample standard deviation, ``None`` when n = 1).
    """
    good = [e for e in entries if e.ok]
    if not group_seeds:
        return [_run_row(e) for e in good]
    groups: dict[str, list[RunEntry]] = {}
    for e in good:
        groups.setdefault(e.condition, []).append(e)
    return [_group_row(members) for members in groups.values()]

