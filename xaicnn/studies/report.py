"""A study's outputs: ``study.json`` (the record), ``results.csv`` (one row per condition), ``report.md``
and ``figures/*.png``; and the readers the app uses (:func:`find_studies`, :func:`read_study`).

``write_report(folder)`` works from the folder alone (``study.json`` names the study, preset and runs),
so it runs after the training and again on its own (``xaicnn study NAME --report-only``).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import UserError
from . import stats
from .results import METRICS, TABLE_METRICS, condition_table, evaluate_claim, exact_values, run_record
from .runner import FORMAT, FORMAT_VERSION, _marker, _study_json, utc_now, write_json
from .spec import StudySpec, get

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
    claims: list[dict]  # {claim, metric, original, ours, p_value, verdict, test, ...}
    figures: list[Path]
    runs: list[dict]  # one row per run: condition, run, seed, status, metrics
    runs_dir: Path
    report_md: Path
    results_csv: Path
    reductions: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of every invocation together
    record: dict = field(default_factory=dict, repr=False)  # the whole study.json


def new_record(spec: StudySpec, preset: str, seeds: int, dataset: str, data_dir, jobs: int, runs: list) -> dict:
    """The ``study.json`` written before anything trains (the plan), completed by :func:`write_report`."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": spec.name, "description": spec.description,
            "preset": preset, "seeds": seeds, "dataset": dataset, "original_dataset": spec.dataset,
            "data_dir": str(data_dir) if data_dir else None, "jobs": jobs, "status": "running", "started": utc_now(),
            "planned": [{"name": r.name, "condition": r.condition, "seed": r.seed} for r in runs],
            "reductions": spec.reductions(preset) if spec.compute is None else [], "original": spec.original}


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
    if dataset != original:
        note += f" - substituted for the original {original}, so the numbers are not comparable with the original's"
    return note


def _load_records(folder: Path, planned: list[dict]) -> tuple[list[dict], list[dict]]:
    """(records of finished runs, rows of every planned run with its status)."""
    from ..training.checkpoint import read_checkpoint

    records, rows = [], []
    for run in planned:
        path = folder / "runs" / f"{run['name']}.pt"
        if _marker(path).exists():  # finished too: it is not retried, and counts as no result
            rows.append({**run, "run": run["name"], "status": "diverged", "detail": "before its first epoch ended"})
        elif not path.exists():
            rows.append({**run, "run": run["name"], "status": "not run"})
        else:
            record = run_record(read_checkpoint(path), run["condition"], path)
            rows.append(record)
            if record["status"] in FINISHED:
                records.append(record)
    return records, rows


def write_report(folder: str | Path, *, log: Callable = print, seconds: float | None = None) -> Path:
    """(Re)write ``report.md``, ``results.csv``, ``figures/`` and the results in ``study.json``; returns the folder."""
    folder = Path(folder)
    record = _study_json(folder)
    if record is None:
        raise UserError(f"{folder} holds no study.json; run the study first (xaicnn study NAME --out {folder}).")
    spec = get(record["name"])
    sections: list[str] = []
    if spec.compute is not None:
        computed = spec.compute()
        table, claims, rows, sections = computed.table, computed.claims, [], computed.sections
        figures, figure_errors = [], []
    else:
        records, rows = _load_records(folder, record["planned"])
        table = condition_table(spec, records)
        exact = exact_values(spec) if any(c.kind == "exact" for c in spec.claims) else {}
        claims = [evaluate_claim(c, records, exact.get(c.metric)) for c in spec.claims]
        from .figures import make_figures

        preset = spec.presets.get(record["preset"])
        figures, figure_errors = make_figures(spec, folder, records, log=log,
                                              options=preset.figure_options if preset else None)
    done = sum(r.get("status") in FINISHED for r in rows)
    record.update({
        "status": "complete" if done == len(record["planned"]) else "incomplete", "finished": utc_now(),
        "seconds": seconds if seconds is not None else record.get("seconds", 0.0),
        "train_seconds": sum(r.get("total_time") or 0 for r in rows), "machine": machine(),
        "dataset_note": dataset_note(record["dataset"], spec.dataset, record.get("data_dir")),
        "table": table, "claims": claims, "runs": rows, "figures": figures, "figure_errors": figure_errors,
        "report": "report.md", "results": "results.csv",
    })
    _write_csv(folder / "results.csv", table)
    (folder / "report.md").write_text(render_markdown(spec, record, sections))
    write_json(folder / "study.json", record)
    log(f"report: {folder / 'report.md'} ({len(claims)} claims: " +
        ", ".join(f"{sum(c['verdict'] == v for c in claims)} {v}" for v in stats.VERDICTS
                  if any(c["verdict"] == v for c in claims)) + ")")
    return folder


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()})
    path.write_text(buffer.getvalue())


# --- markdown -------------------------------------------------------------------------------------------


def _fmt(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return METRICS[metric].fmt.format(value)


def _cell(row: dict, key: str) -> str:
    if METRICS[key].exact:
        return _fmt(key, row.get(key))
    n, mean, std = row.get(f"{key}_n", 0), row.get(f"{key}_mean"), row.get(f"{key}_std")
    if not n:
        return "-"
    if n == 1:
        return _fmt(key, mean)
    low, high = _fmt(key, row[f"{key}_ci_low"]), _fmt(key, row[f"{key}_ci_high"])
    return f"{_fmt(key, mean)} +- {_fmt(key, std)} [{low}, {high}]"


def _table(header: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in line) + " |" for line in lines]
    return "\n".join(out)


def render_markdown(spec: StudySpec, record: dict, sections: list[str]) -> str:
    """The whole ``report.md``: facts, reductions, the per-condition table, the claims, extra sections
    (``lecture_shapes``' per-layer tables), figures and the list of runs."""
    lines = [f"# Study `{spec.name}`: {spec.description}", ""]
    lines += [f"- **{k}:** {v}" for k, v in _facts(spec, record)] + [""]
    if record.get("reductions"):
        lines += [f"## Reductions from the original settings ({record['preset']} preset)", ""]
        lines += [f"- {r}" for r in record["reductions"]] + [""]
    if record.get("table") and spec.compute is None:
        lines += ["## Results per condition", "", "Mean +- standard deviation [95% t-interval] over seeds; parameters "
                  "and FLOPs are per run (as trained); seconds/epoch is training only, after the first epoch.", ""]
        header = ["condition", "arch", "n"] + [METRICS[k].label for k in TABLE_METRICS]
        rows = [[row["title"], f"`{row['arch']}`", row["n"]] + [_cell(row, k) for k in TABLE_METRICS]
                for row in record["table"]]
        lines += [_table(header, rows), ""]
    if record.get("claims"):
        lines += _claims_section(record["claims"])
    lines += sections
    if record.get("figures"):
        lines += ["## Figures", "", "Each figure shows one run per condition (its lowest seed).", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in record["figures"]] + [""]
    if record.get("figure_errors"):
        lines += ["Figures that failed (the numbers above are unaffected):", ""]
        lines += [f"- {e}" for e in record["figure_errors"]] + [""]
    if record.get("runs"):
        header = ["run", "status", "epochs", "final val acc", "best val acc", "s/epoch"]
        rows = [[f"`runs/{r.get('run', r.get('name'))}.pt`", r.get("status"), r.get("epochs", "-"),
                 _fmt("final_acc", r.get("final_acc")), _fmt("best_acc", r.get("best_acc")),
                 _fmt("sec_per_epoch", r.get("sec_per_epoch"))] for r in record["runs"]]
        lines += ["## Runs", "", _table(header, rows), ""]
    return "\n".join(lines)


def _facts(spec: StudySpec, record: dict) -> list[tuple[str, str]]:
    seeds = f", {record['seeds']} seeds per condition" if record.get("seeds") else ""
    jobs = f"; {record['jobs']} runs in parallel" if record.get("jobs", 1) > 1 else ""
    total = f"{record.get('seconds', 0) / 60:.1f} min wall clock"
    if record.get("planned"):
        total += f" ({record.get('train_seconds', 0) / 60:.1f} min of training summed over runs)"
    facts = [("Preset", f"`{record['preset']}`{seeds}"), ("Dataset", record.get("dataset_note", record["dataset"])),
             ("Original setting", spec.original or "-"), ("Machine", record.get("machine", "-") + jobs),
             ("Total time", total), ("Status", f"{record['status']} (written {record.get('finished', '-')})")]
    if spec.compute is not None:  # a computed study (lecture_shapes) trains nothing: no preset, data or seeds
        facts = [f for f in facts if f[0] not in ("Preset", "Dataset")]
    return facts


def _claims_section(claims: list[dict]) -> list[str]:
    lines = ["## Claims of the original report", "",
             f"Welch's t-test (two-sided, alpha {stats.ALPHA}) across seeds: a significant difference in the claimed "
             "direction confirms a claim, one in the other direction refutes it, anything else is not significant at "
             "this number of seeds. Exact claims are checked on the architectures at the original settings.", ""]
    rows = [[c["claim"], _metric_label(c["metric"]), c.get("original", ""), c.get("ours", ""),
             "-" if c.get("p_value") is None else f"{c['p_value']:.3g}", f"**{c['verdict']}**"] for c in claims]
    lines += [_table(["claim", "metric", "original", "ours", "p", "verdict"], rows), ""]
    if any(c["verdict"] == stats.NO_TEST for c in claims):
        lines += ["With one run per condition there is no variance to test against: those claims show our numbers "
                  "but no verdict. Run more seeds (`--seeds 3`) to test them.", ""]
    return lines


# --- readers (the app's Studies page) -------------------------------------------------------------------


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
                       runs_dir=folder / "runs", report_md=_report_path(folder), results_csv=folder / "results.csv",
                       reductions=r.get("reductions", []), seconds=r.get("seconds", 0.0), record=r)


def _report_path(folder: Path) -> Path:
    """``report.md`` in the folder; a published study keeps it beside the folder as ``<name>.md``."""
    inside = folder / "report.md"
    beside = folder.parent / f"{folder.name}.md"
    return beside if not inside.is_file() and beside.is_file() else inside


def publish_study(folder: str | Path, docs_dir: str | Path) -> Path:
    """Copy a study's report for readers: ``DOCS/<name>.md`` (figure links pointing into ``DOCS/<name>/``) and
    ``DOCS/<name>/`` with ``study.json``, ``results.csv`` and ``figures/`` - everything but the checkpoints.
    The app lists the copy like any study folder. Returns the path of the published ``.md``."""
    import shutil

    result = read_study(folder)
    if not result.report_md.is_file():
        raise UserError(f"{folder} has no report.md yet; run the study (or --report-only) first.")
    target = Path(docs_dir) / result.name
    if target.exists() and (target.resolve() == result.folder.resolve() or (target / "runs").is_dir()):
        # the copy replaces DOCS/NAME whole; never when that is the study itself (--publish studies)
        raise UserError(f"{target} is a study folder with its runs, not a published copy; publish into another "
                        f"folder, e.g. --publish docs/studies.")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("study.json", "results.csv"):
        if (result.folder / name).is_file():
            shutil.copy2(result.folder / name, target / name)
    for relative in result.record.get("figures", []):  # e.g. figures/curves.png, figures/attributions/attributions.png
        if (result.folder / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(result.folder / relative, target / relative)
    text = result.report_md.read_text().replace("](figures/", f"]({result.name}/figures/")
    md = Path(docs_dir) / f"{result.name}.md"
    md.write_text(text)
    write_index(docs_dir)
    return md


def write_index(docs_dir: str | Path) -> Path:
    """``DOCS/README.md``: one line per published study with its preset, dataset and verdict counts."""
    docs_dir = Path(docs_dir)
    lines = ["# Study reports", "", "Written by `xaicnn study NAME --publish docs/studies` from runs on the machine "
             "each report names; the checkpoints are not included. Verdicts compare our runs with the numbers of "
             "the original reports (Welch's t-test across seeds, alpha 0.05).", "",
             "| study | preset | dataset | runs | confirmed | refuted | not significant | other |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for folder in find_studies(docs_dir, max_depth=1):
        r = read_study(folder)
        verdicts = [c["verdict"] for c in r.claims]
        counts = [verdicts.count(v) for v in (stats.CONFIRMED, stats.REFUTED, stats.NOT_SIGNIFICANT)]
        dataset = "-" if not r.runs else r.dataset
        lines.append(f"| [{r.name}]({r.name}.md) | {r.preset if r.runs else '-'} | {dataset} | {len(r.runs)} | "
                     + " | ".join(map(str, counts)) + f" | {len(verdicts) - sum(counts)} |")
    path = docs_dir / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _metric_label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric.replace("_", " ")
