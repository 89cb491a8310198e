"""Write a study's outputs from its folder alone: ``study.json`` (completed), ``results.csv`` (one row per
condition), ``report.md`` and ``figures/*.png``.

``write_report(folder)`` runs after the training and again on its own (``xaicnn study NAME --report-only``):
``study.json`` names the study, preset and runs; the claims are re-evaluated from the checkpoints.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable

from ..errors import UserError
from . import verdicts
from .markdown import render_markdown
from .._io import write_json
from .record import FINISHED, dataset_note, load_record, machine, run_marker, utc_now
from .results import condition_table, exact_values, run_record
from .spec import get


def _load_records(folder: Path, planned: list[dict]) -> tuple[list[dict], list[dict]]:
    """(records of finished runs, rows of every planned run with its status)."""
    from ..training.checkpoint import read_checkpoint

    records, rows = [], []
    for run in planned:
        path = folder / "runs" / f"{run['name']}.pt"
        if run_marker(path).exists():  # finished too: it is not retried, and counts as no result
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
    record = load_record(folder)
    if record is None:
        raise UserError(f"{folder} holds no study.json; run the study first (xaicnn study NAME --out {folder}).")
    spec = get(record["name"])
    sections: list[str] = []
    figure_data: dict = {}
    if spec.compute is not None:
        computed = spec.compute()
        table, claims, rows, sections = computed.table, computed.claims, [], computed.sections
        figures, figure_errors = [], []
    else:
        records, rows = _load_records(folder, record["planned"])
        table = condition_table(spec, records)
        for row in table:
            row.update({k: v for k, v in verdicts.condition_state(records, row["condition"]).items()
                        if k in ("at_chance", "improving", "gain", "train_loss")})
        exact = exact_values(spec) if any(c.kind == "exact" for c in spec.claims) else {}
        claims = verdicts.evaluate(spec.claims, records, exact)
        from .figures import make_figures

        preset = spec.presets.get(record["preset"])
        out = make_figures(spec, folder, records, log=log, options=preset.figure_options if preset else None)
        figures, figure_errors, figure_data = out.paths, out.errors, out.data
        sections = list(out.sections)
    done = sum(r.get("status") in FINISHED for r in rows)
    record.update({
        "format_version": max(record.get("format_version", 1), 2),
        "status": "complete" if done == len(record["planned"]) else "incomplete", "finished": utc_now(),
        "seconds": seconds if seconds is not None else record.get("seconds", 0.0),
        "train_seconds": sum(r.get("total_time") or 0 for r in rows), "machine": machine(),
        "dataset_note": dataset_note(record["dataset"], spec.dataset, record.get("data_dir")),
        "rules": verdicts.RULES, "departures": list(spec.departures),
        "reductions": spec.reductions(record["preset"]) if spec.compute is None and record["preset"] in spec.presets
        else record.get("reductions", []),
        "table": table, "claims": claims, "tally": verdicts.tally(claims), "runs": rows, "figures": figures,
        "figure_errors": figure_errors, "figure_data": figure_data, "report": "report.md", "results": "results.csv",
    })
    _write_csv(folder / "results.csv", table)
    (folder / "report.md").write_text(render_markdown(spec, record, sections))
    write_json(folder / "study.json", record)
    counts = record["tally"]
    log(f"report: {folder / 'report.md'} ({len(claims)} claims; " + "; ".join(
        f"{group}: " + (", ".join(f"{n} {v}" for v, n in c.items() if n) or "none") for group, c in counts.items())
        + ")")
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
