"""Run a study: plan conditions x seeds, check the data first, train what is missing, then write the report.

Each run is one checkpoint ``DIR/runs/<condition>-seed<k>.pt`` written by the ordinary trainer, so the
comparison app and ``xaicnn inspect`` read study runs like any other. Starting a study again skips the
finished runs and resumes the unfinished ones from their last epoch; ``jobs > 1`` trains independent runs
in parallel processes (fresh interpreters, so each gets a clean torch), splitting the CPU cores between them.

One study writes a folder at a time (an :class:`~xaicnn._io.OutputLock` on ``study.json``). Ctrl-C or
SIGTERM starts nothing new and stops within about two seconds: each worker is told once to save the step it
is at and stop (a worker that does not stop within ``local_backend.STOP_GRACE`` seconds is killed, and its last
checkpoint is what is kept), then one sentence says what was kept (:class:`~xaicnn.errors.Interrupted`).
Workers run in their own process groups, so a terminal's Ctrl-C reaches only the study, which passes it on
exactly once (a second signal to a training means "stop at once", not "save first").

Where the runs train is a backend (:data:`BACKENDS`): ``local`` (the worker processes above, the default) or
``ray`` (each run a Ray task on a local Ray instance or a cluster, ``pip install 'xaicnn[ray]'``; see
docs/cluster.md). Whichever trains a run, its checkpoint lands in the same ``runs/`` file, so a study started
on one backend is finished on the other.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import Interrupted, Terminated, UserError
from .._io import OutputLock, write_json
from . import local_backend, ray_backend
from .record import load_record, new_record, run_marker
from .spec import StudySpec, get

DEFAULT_ROOT = Path("studies")  # default --out is studies/<name>/ (git-ignored)

# TrainConfig fields that define what a run trains: a checkpoint whose values differ belongs to another study.
IDENTITY_FIELDS = ("arch", "dataset", "epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay",
                   "label_smoothing", "seed", "augment", "image_size", "train_size", "val_size", "model_options",
                   "time_budget")


@dataclass
class PlannedRun:
    """One training run of a study: ``config`` is a complete TrainConfig (``out`` = its checkpoint)."""

    condition: str
    seed: int
    config: object  # TrainConfig

    @property
    def name(self) -> str:
        return f"{self.condition}-seed{self.seed}"

    @property
    def path(self) -> Path:
        return Path(self.config.out)


def default_out(name: str) -> Path:
    return DEFAULT_ROOT / name


def _image_size(spec: StudySpec, dataset: str, data_dir, option_sets: list[tuple[str, dict]]) -> int | None:
    """The input side every condition trains on: the original's (``spec.image_size``) or the dataset's own,
    raised to the smallest size every architecture accepts (MNIST's 28 -> 32 for VGG); ``None`` when it is
    the dataset's own size (no resizing)."""
    from .. import data, models

    import torch

    info = data.info(dataset, data_dir)
    native = info.image_size[0]
    target = spec.image_size or native
    for arch, opts in option_sets:
        try:  # the common case: it fits (one shape pass on the meta device, no bisection)
            with torch.device("meta"):
                models.create(arch, in_channels=info.in_channels, num_classes=info.num_classes, image_size=target,
                              **opts)
        except UserError:
            target = max(target, models.min_image_size(arch, in_channels=info.in_channels, num_classes=info.num_classes,
                                                       **opts))
    return None if target == native and info.image_size[0] == info.image_size[1] else target


def plan_runs(spec: StudySpec, preset: str, *, seeds: int | None = None, dataset: str | None = None,
              data_dir: str | None = None, out: str | Path | None = None, jobs: int = 1) -> list[PlannedRun]:
    """Every run of ``spec`` under ``preset`` as a complete TrainConfig, in condition-major order."""
    from ..training.config import TrainConfig

    p = spec.preset(preset)
    n = seeds or p.seeds
    if n < 1:
        raise UserError(f"--seeds must be at least 1; got {n}.")
    dataset = dataset or spec.dataset
    out = Path(out) if out else default_out(spec.name)
    settings = {c.label: spec.settings(c, preset) for c in spec.conditions}
    size = _image_size(spec, dataset, data_dir, [(c.arch, settings[c.label][1]) for c in spec.conditions])
    runs = []
    for c in spec.conditions:
        config, options = settings[c.label]
        config = {"image_size": size, **config}  # a preset's explicit image_size wins
        threads = config.pop("threads", None) or (max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None)
        for k in range(n):
            cfg = TrainConfig(arch=c.arch, dataset=dataset, **config, model_options=dict(options), seed=k,
                              data_dir=str(data_dir) if data_dir else None, threads=threads,
                              out=str(out / "runs" / f"{c.label}-seed{k}.pt"))
            runs.append(PlannedRun(c.label, k, cfg))
    return runs


def check_dataset(spec: StudySpec, dataset: str, data_dir: str | None, download: bool,
                  sizes: tuple[int | None, int | None] | None = None) -> None:
    """Make sure ``dataset`` can be read before anything trains; a missing one is one sentence naming the
    embedded dataset to run on instead. ``sizes`` (train, val) also loads both splits once, so parallel
    workers find the decoded cache instead of decoding it side by side."""
    from .. import data
    from ..data._cache import default_data_dir

    info = data.info(dataset, data_dir)
    splits = [("val", sizes[1] if sizes else 1)] + ([("train", sizes[0])] if sizes or download else [])
    try:
        for split, size in splits:
            data.load(dataset, split, data_dir=data_dir, download=download, size=size, progress=bool(sizes))
    except UserError:
        if info.embedded or download:
            raise
        where = Path(data_dir).expanduser() if data_dir else default_data_dir()
        raise UserError(f"The {spec.name} study trains on {dataset}, which is not under {where}; pass --data-dir with "
                        f"the folder that holds it or --download to fetch it, or run it on embedded data with "
                        f"--dataset {spec.fallback}.") from None


def _identity(config: dict) -> dict:
    return {k: config.get(k) for k in IDENTITY_FIELDS}


def _existing(run: PlannedRun) -> str:
    """'new', 'done' or 'resume' for a planned run, from what its checkpoint (or failure marker) says."""
    from ..training.checkpoint import STATUS_RUNNING, read_checkpoint

    if run_marker(run.path).exists():
        return "done"
    if not run.path.exists():
        return "new"
    meta = read_checkpoint(run.path)["meta"]
    old, new = _identity(meta["config"]), _identity(run.config.to_dict())
    if old != new:
        key = next(k for k in IDENTITY_FIELDS if old[k] != new[k])
        raise UserError(f"{run.path} was trained with {key}={old[key]!r}, not the {new[key]!r} this study now asks "
                        f"for; pass --out to run the study in another folder, or delete that folder.")
    return "resume" if meta["status"] == STATUS_RUNNING else "done"


def _describe(result: dict) -> str:
    from ..training.checkpoint import read_checkpoint

    path = Path(result.get("path", ""))
    if result["status"] != "complete" or not path.exists():
        return result["status"]
    h = read_checkpoint(path)["history"]
    return f"val acc {h[-1]['val_acc']:.3f}" if h else "no epochs"


def run_study(name: str | StudySpec, preset: str = "quick", *, seeds: int | None = None, dataset: str | None = None,
              data_dir: str | None = None, download: bool = False, out: str | Path | None = None, jobs: int = 1,
              progress: bool = True, log: Callable = print, backend: str = "local", address: str | None = None) -> Path:
    """Run study ``name`` (or a :class:`StudySpec`) under ``preset`` and write its report; returns the folder.

    ``seeds`` overrides the preset's number of seeds; ``dataset`` replaces the original dataset (e.g.
    ``digits`` when CIFAR-10 is not on disk); ``out`` defaults to ``studies/<name>/``. Finished runs in
    ``out/runs/`` are skipped, unfinished ones resumed. A missing dataset raises :class:`UserError` before
    anything trains, and so does a folder another study is writing. Ctrl-C or SIGTERM stops the runs in
    training (each saves its step) and raises :class:`~xaicnn.errors.Interrupted` saying what was kept.
    ``backend`` is a name in :data:`BACKENDS`; ``address`` (``ray`` only) is the Ray cluster to join ("auto" or
    HOST:PORT; none: a local Ray instance with ``jobs`` CPUs is started for the study).
    """
    spec = get(name) if isinstance(name, str) else name
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1; got {jobs}.")
    if backend not in BACKENDS:
        raise UserError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if address is not None and not BACKENDS[backend].takes_address:
        raise UserError(f"--address names a Ray cluster; pass --backend ray with it (the {backend} backend trains here).")
    BACKENDS[backend].check()  # e.g. Ray not installed: one sentence before anything is written
    out = Path(out) if out else default_out(spec.name)
    dataset = dataset or spec.dataset
    if spec.compute is None:
        spec.preset(preset)  # an unknown preset is refused before anything is written
    created = not out.exists()
    try:
        with OutputLock(out / "study.json", flag="--out"):  # one study writes a folder at a time
            return _run_locked(spec, preset, seeds=seeds, dataset=dataset, data_dir=data_dir, download=download,
                               out=out, jobs=jobs, progress=progress, log=log, backend=BACKENDS[backend],
                               address=address)
    finally:
        if created:  # refused before anything was written (e.g. a missing dataset): leave no empty folder
            with contextlib.suppress(OSError):
                out.rmdir()


def _run_locked(spec: StudySpec, preset: str, *, seeds, dataset, data_dir, download, out: Path, jobs: int, progress,
                log, backend: "Backend", address: str | None) -> Path:
    previous = load_record(out)
    if previous and tuple(previous.get(k) for k in ("name", "preset", "dataset")) != (spec.name, preset, dataset):
        raise UserError(f"{out} holds the {previous.get('preset')} preset of {previous.get('name')} on "
                        f"{previous.get('dataset')}; pass --out to run this one in another folder, or delete {out} "
                        f"to start over.")
    from .report import write_report

    started = time.perf_counter()
    spent_before = (previous or {}).get("seconds", 0.0)
    if spec.compute is not None:  # trains nothing: compute, then report
        record = new_record(spec, preset, 0, dataset, data_dir, jobs, [])
        write_json(out / "study.json", record)
        return write_report(out, log=log, seconds=spent_before + time.perf_counter() - started)

    # (on a cluster the runs' threads are not this machine's cores split by --jobs: each asks for what it needs)
    runs = plan_runs(spec, preset, seeds=seeds, dataset=dataset, data_dir=data_dir, out=out,
                     jobs=1 if address else jobs)
    p = spec.preset(preset)
    check_dataset(spec, dataset, data_dir, download, sizes=(p.train_size, p.val_size) if jobs > 1 or download else None)
    record = new_record(spec, preset, seeds or p.seeds, dataset, data_dir, jobs, runs)
    record["seconds"] = spent_before
    (out / "runs").mkdir(parents=True, exist_ok=True)
    write_json(out / "study.json", record)

    states: dict[str, str] = {}  # run name -> 'new', 'done' or 'resume' as this session found it
    begun: list[dict] = []  # the tasks handed to a trainer so far (filled by _execute_all)
    finished: set[str] = set()  # the checkpoint paths of the runs that came back
    try:
        for r in runs:
            states[r.name] = _existing(r)
        todo = [r for r in runs if states[r.name] != "done"]
        skipped = len(runs) - len(todo)
        log(f"study {spec.name} ({preset}): {len(spec.conditions)} conditions x {seeds or p.seeds} seeds on {dataset}; "
            f"{len(todo)} runs to train" + (f", {skipped} already finished" if skipped else "") + f" -> {out}")
        # (the check above downloaded what was asked for: workers never race to download the same files)
        one_bar = backend.grid_bar and progress  # one bar for the grid instead of each run's own
        tasks = [{"config": replace(r.config, download=False).to_dict(),
                  "progress": progress and jobs == 1 and not backend.grid_bar,
                  "mode": "resume" if states[r.name] == "resume" else "train"} for r in todo]
        bar = _grid_bar(len(tasks)) if one_bar and tasks else None
        # closing stops the workers (or cancels the tasks) still running
        with bar or contextlib.nullcontext(), contextlib.closing(backend.execute(tasks, jobs, begun, address)) as results:
            for i, (task, result) in enumerate(results, 1):
                finished.add(task["config"]["out"])
                result["path"] = task["config"]["out"]
                line = f"[{i}/{len(tasks)}] {result['name']}: {_describe(result)} ({result['seconds']:.0f}s)"
                if bar is not None:
                    with bar.external_write_mode():
                        log(line)
                    bar.update()
                else:
                    log(line)
        return write_report(out, log=log, seconds=spent_before + time.perf_counter() - started)
    except BaseException as err:  # keep the time spent, so the report's total counts every session
        write_json(out / "study.json", {**record, "seconds": spent_before + time.perf_counter() - started})
        if isinstance(err, (KeyboardInterrupt, Interrupted)):  # Ctrl-C, SIGTERM, or a trainer that was stopped
            terminated = isinstance(err, Terminated) or getattr(err, "exit_code", 130) == 143
            raise Interrupted(_kept(out, runs, states, finished, begun), terminated=terminated) from None
        raise


def _kept(out: Path, runs: list[PlannedRun], states: dict[str, str], finished: set[str], begun: list[dict]) -> str:
    """The sentence that says what an interrupted study kept: finished runs, unfinished ones with a checkpoint
    and runs stopped before their first one. Only the runs whose files may have changed this session are read
    again (the ones that began, or all of them if it was interrupted before it had looked)."""
    begun_paths = {task["config"]["out"] for task in begun}
    count = {"done": 0, "saved": 0, "none": 0}
    for r in runs:
        path = str(r.path)
        if path in finished:
            state = "done"
        elif path in begun_paths or r.name not in states:
            state = _state_now(r.path)
        else:  # untouched this session
            state = {"done": "done", "resume": "saved"}.get(states[r.name], "untouched")
        if state != "none" or path in begun_paths:  # (a run never begun has lost nothing)
            count[state] = count.get(state, 0) + 1
    done, saved, lost, total = count["done"], count["saved"], count["none"], len(runs)
    runs_dir = out / "runs"
    if done == total:
        return (f"all {total} runs finished (kept in {runs_dir}) but the report was not written; run the same command "
                f"again to write it.")
    parts = [f"{done} of {total} runs finished (kept in {runs_dir})" if done else f"none of the {total} runs had finished"]
    if saved:
        parts.append(f"{saved} unfinished run{'s' * (saved != 1)} {'were' if saved != 1 else 'was'} saved at "
                     f"{'their' if saved != 1 else 'its'} last checkpoint" + ("" if done else f" in {runs_dir}"))
    if lost:
        parts.append(f"{lost} run{'s' * (lost != 1)} stopped before {'their' if lost != 1 else 'its'} first "
                     f"checkpoint and will start over")
    return "; ".join(parts) + "; run the same command again to continue."


def _state_now(path: Path) -> str:
    """'done', 'saved' (an unfinished run with a checkpoint) or 'none' (no checkpoint yet) for a run's file."""
    from ..training.checkpoint import STATUS_RUNNING, read_checkpoint

    if run_marker(path).exists():
        return "done"
    if not path.exists():
        return "none"
    try:
        return "saved" if read_checkpoint(path)["meta"]["status"] == STATUS_RUNNING else "done"
    except (UserError, OSError):  # unreadable: it is not a finished run
        return "none"


# ----------------------------------------------------------------------------------------------------
# backends: where the runs of a study train


@dataclass(frozen=True)
class Backend:
    """Where a study's runs train. ``execute(tasks, jobs, begun, address)`` yields (task, result) as runs
    finish, with the run's checkpoint already in its ``runs/`` file, and appends each task to ``begun`` as
    it is handed to a trainer; closing it stops what still runs (each run keeps its last checkpoint).
    ``check()`` raises :class:`UserError` before anything is written when the backend can't be used."""

    execute: Callable
    check: Callable = lambda: None
    takes_address: bool = False  # runs elsewhere: --address names where
    grid_bar: bool = False  # one progress bar for the grid (runs done / total) instead of each run's own


def _grid_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="run", desc="runs", dynamic_ncols=True, smoothing=0)


BACKENDS: dict[str, Backend] = {
    "local": Backend(execute=lambda tasks, jobs, begun, address: local_backend.execute_all(tasks, jobs, begun)),
    "ray": Backend(execute=ray_backend.execute_ray, check=lambda: ray_backend.import_ray() and None, takes_address=True,
                   grid_bar=True),
}
