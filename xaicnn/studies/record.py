"""The study record: ``study.json``, the one file the runner, the report, publishing and the app share.

The runner writes the plan (:func:`new_record`) before anything trains; :func:`xaicnn.studies.report.write_report`
completes it with tables, claims and figures; :func:`read_study` and :func:`find_studies` read it back for
the CLI and the app. Everything that reads or writes the record goes through this module.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UserError

FORMAT = "xaicnn.study"
FORMAT_VERSION = 2  # 2: claims carry source, verdict classes, CIs, Hedges' g and Holm-adjusted p
FINISHED = ("complete", "stopped_at_budget", "diverged")  # runs whose numbers count


@dataclass
class StudyResult:
    """What ``read_study`` returns: the record of one study folder, with paths made absolute."""

    folder: Path
    name: str
    preset: str
    description: str
    dataset: str
    seeds: int
    status: str  # running | complete | incomplete (some planned runs missing or unfinished)
    table: list[dict]  # one row per condition (see results.condition_table)
    claims: list[dict]  # see xaicnn.studies.verdicts.evaluate
    figures: list[Path]
    runs: list[dict]  # one row per run: condition, run, seed, status, metrics
    runs_dir: Path
    report_md: Path
    results_csv: Path
    reductions: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of every invocation together
    record: dict = field(default_factory=dict, repr=False)  # the whole study.json


def new_record(spec, preset: str, seeds: int, dataset: str, data_dir, jobs: int, runs: list) -> dict:
    """The ``study.json`` written before anything trains (the plan), completed by ``write_report``."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": spec.name, "description": spec.description,
            "preset": preset, "seeds": seeds, "dataset": dataset, "original_dataset": spec.dataset,
            "data_dir": str(data_dir) if data_dir else None, "jobs": jobs, "status": "running", "started": utc_now(),
            "planned": [{"name": r.name, "condition": r.condition, "seed": r.seed} for r in runs],
            "reductions": spec.reductions(preset) if spec.compute is None else [], "original": spec.original}


def load_record(folder: Path) -> dict | None:
    """The folder's ``study.json`` as a dict (None if there is none; one sentence if it is unreadable)."""
    path = Path(folder) / "study.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"{path} is not a readable study record; delete it or pass another --out.") from None


def run_marker(path: Path) -> Path:
    """A run that diverged before its first checkpoint leaves this note, so it is not retried forever."""
    return path.with_suffix(".diverged.json")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def machine() -> str:
    """'AMD EPYC, 2 cores, Linux, torch 2.x' - what the report's timings were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} CPU cores{gpu}, {platform.system()}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def dataset_note(dataset: str, original: str, data_dir) -> str:
    from ..data._cache import default_data_dir

    note = dataset
    if dataset == "cifar10":
        root = Path(data_dir).expanduser() if data_dir else default_data_dir()
        note = ("CIFAR-10 from torchvision's batch files" if (root / "cifar-10-batches-py").is_dir() else
                f"CIFAR-10 read from the image folder {root / 'cifar10'}: a JPEG re-encoding of the original images, "
                f"so pixels (and accuracies) differ slightly from the binary batches")
    if dataset == "glyphs":
        note = ("glyphs: letters and digits rendered from the fonts matplotlib ships, validated on fonts the training "
                "set never saw - not the course's dataset, which is not public")
    if dataset != original:
        note += f" - substituted for the original {original}, so the numbers are not comparable with the original's"
    return note


def find_studies(root: str | Path, max_depth: int = 3) -> list[Path]:
    """Folders under ``root`` (itself included, at most ``max_depth`` levels down) holding a ``study.json``."""
    root = Path(root).expanduser()
    found, frontier = [], [root] if root.is_dir() else []
    for _ in range(max_depth + 1):
        nxt = []
        for d in frontier:
            if (d / "study.json").is_file():
                found.append(d)
            try:
                nxt += [c for c in sorted(d.iterdir())
                        if c.is_dir() and not c.name.startswith(".") and c.name not in ("runs", "figures")]
            except OSError:
                continue
        frontier = nxt
    return sorted(found)


def read_study(folder: str | Path) -> StudyResult:
    """The :class:`StudyResult` of a study folder (one sentence if it holds none)."""
    folder = Path(folder).expanduser()
    path = folder / "study.json"
    if not path.is_file():
        raise UserError(f"{folder} holds no study.json; pass a folder written by 'xaicnn study'.")
    try:
        r = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"{path} is not a readable study record (it may be truncated); run the study again.") from None
    if r.get("format") != FORMAT:
        raise UserError(f"{path} is not an xaicnn study record; pass a folder written by 'xaicnn study'.")
    return StudyResult(folder=folder, name=r["name"], preset=r["preset"], description=r.get("description", ""),
                       dataset=r.get("dataset", ""), seeds=r.get("seeds", 0), status=r.get("status", "running"),
                       table=r.get("table", []), claims=r.get("claims", []),
                       figures=[folder / f for f in r.get("figures", [])], runs=r.get("runs", []),
                       runs_dir=folder / "runs", report_md=report_path(folder), results_csv=folder / "results.csv",
                       reductions=r.get("reductions", []), seconds=r.get("seconds", 0.0), record=r)


def report_path(folder: Path) -> Path:
    """``report.md`` in the folder; a published study keeps it beside the folder as ``<name>.md``."""
    inside = folder / "report.md"
    beside = folder.parent / f"{folder.name}.md"
    return beside if not inside.is_file() and beside.is_file() else inside
