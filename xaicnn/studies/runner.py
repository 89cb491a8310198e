"""Run a study: plan conditions x seeds, check the data first, train what is missing, then write the report.

Each run is one checkpoint ``DIR/runs/<condition>-seed<k>.pt`` written by the ordinary trainer, so the
comparison app and ``xaicnn inspect`` read study runs like any other. Starting a study again skips the
finished runs and resumes the unfinished ones from their last epoch; ``jobs > 1`` trains independent runs
in parallel processes (spawned, so each gets a clean torch), splitting the CPU cores between them.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .._io import write_json
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


def _execute(task: dict) -> dict:
    """Train or resume one run (in this process or a spawned worker); returns what the log line needs."""
    import torch

    from ..training import trainer
    from ..training.config import TrainConfig

    config = TrainConfig.from_dict(task["config"])
    progress = task.get("progress", False)
    log = print if progress else (lambda *a, **k: None)
    start, threads = time.perf_counter(), torch.get_num_threads()
    try:
        if task["mode"] == "resume":
            trainer.resume(config.out, progress=progress, log=log, epochs=config.epochs, threads=config.threads)
        else:
            trainer.train(config, progress=progress, log=log)
        status = "complete"
    except trainer.TrainingDiverged as err:
        status = f"diverged: {err}"
        if not Path(config.out).exists():
            run_marker(Path(config.out)).write_text(json.dumps({"status": "diverged", "detail": str(err)}))
    finally:
        torch.set_num_threads(threads)  # the trainer sets a run's thread count process-wide; give it back
    return {"name": Path(config.out).stem, "status": status, "seconds": time.perf_counter() - start}


def _describe(result: dict) -> str:
    from ..training.checkpoint import read_checkpoint

    path = Path(result.get("path", ""))
    if result["status"] != "complete" or not path.exists():
        return result["status"]
    h = read_checkpoint(path)["history"]
    return f"val acc {h[-1]['val_acc']:.3f}" if h else "no epochs"


def run_study(name: str | StudySpec, preset: str = "quick", *, seeds: int | None = None, dataset: str | None = None,
              data_dir: str | None = None, download: bool = False, out: str | Path | None = None, jobs: int = 1,
              progress: bool = True, log: Callable = print) -> Path:
    """Run study ``name`` (or a :class:`StudySpec`) under ``preset`` and write its report; returns the folder.

    ``seeds`` overrides the preset's number of seeds; ``dataset`` replaces the original dataset (e.g.
    ``digits`` when CIFAR-10 is not on disk); ``out`` defaults to ``studies/<name>/``. Finished runs in
    ``out/runs/`` are skipped, unfinished ones resumed. A missing dataset raises :class:`UserError` before
    anything trains.
    """
    spec = get(name) if isinstance(name, str) else name
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1; got {jobs}.")
    out = Path(out) if out else default_out(spec.name)
    dataset = dataset or spec.dataset
    if spec.compute is None:
        spec.preset(preset)  # an unknown preset is refused before anything is written
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

    runs = plan_runs(spec, preset, seeds=seeds, dataset=dataset, data_dir=data_dir, out=out, jobs=jobs)
    p = spec.preset(preset)
    check_dataset(spec, dataset, data_dir, download, sizes=(p.train_size, p.val_size) if jobs > 1 or download else None)
    record = new_record(spec, preset, seeds or p.seeds, dataset, data_dir, jobs, runs)
    record["seconds"] = spent_before
    (out / "runs").mkdir(parents=True, exist_ok=True)
    write_json(out / "study.json", record)

    states = {r.name: _existing(r) for r in runs}
    todo = [r for r in runs if states[r.name] != "done"]
    skipped = len(runs) - len(todo)
    log(f"study {spec.name} ({preset}): {len(spec.conditions)} conditions x {seeds or p.seeds} seeds on {dataset}; "
        f"{len(todo)} runs to train" + (f", {skipped} already finished" if skipped else "") + f" -> {out}")
    # (the check above downloaded what was asked for: workers never race to download the same files)
    tasks = [{"config": replace(r.config, download=False).to_dict(), "progress": progress and jobs == 1,
              "mode": "resume" if states[r.name] == "resume" else "train"} for r in todo]
    try:
        for i, (task, result) in enumerate(_execute_all(tasks, jobs), 1):
            result["path"] = task["config"]["out"]
            log(f"[{i}/{len(tasks)}] {result['name']}: {_describe(result)} ({result['seconds']:.0f}s)")
    except BaseException:  # interrupted: keep the time spent, so the report's total counts every session
        write_json(out / "study.json", {**record, "seconds": spent_before + time.perf_counter() - started})
        raise
    return write_report(out, log=log, seconds=spent_before + time.perf_counter() - started)


def _execute_all(tasks: list[dict], jobs: int):
    """Yield (task, result) as runs finish: in this process, or in ``jobs`` spawned worker processes."""
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, _execute(task)
        return
    import multiprocessing

    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(_execute, task): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        # On an interrupt or an error, don't start queued runs; running ones stop with the process group.
        pool.shutdown(wait=True, cancel_futures=True)
