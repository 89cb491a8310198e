"""Publishing: a study's report and figures copied for readers (no checkpoints), and the index of them all."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from . import verdicts
from .record import find_studies, read_study


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


INDEX_COLUMNS = (verdicts.EFFECT, verdicts.DIRECTION, verdicts.EQUIVALENT, verdicts.NOT_EQUIVALENT, verdicts.REFUTED,
                 verdicts.INCONCLUSIVE, verdicts.NOT_TESTABLE, verdicts.HARDWARE)


def write_index(docs_dir: str | Path) -> Path:
    """``DOCS/README.md``: one line per published study - statistical verdicts and exact checks counted apart."""
    docs_dir = Path(docs_dir)
    lines = ["# Study reports", "",
             "Written by `xaicnn study NAME --publish docs/studies` from runs on the machine each report names; the "
             "checkpoints are not included. Each claim of the original reports is tested on our runs and gets the "
             "verdict its numbers support:", "",
             "- **effect reproduced**: significant in the claimed direction (two-sided Welch test, Holm-adjusted "
             "p < 0.05 within the study) and our 95% interval contains the original's effect;",
             "- **direction reproduced**: significant in the claimed direction, with an effect size unlike the "
             "original's;",
             "- **equivalent / not equivalent**: 'about the same' claims, TOST with the margin the claim states;",
             "- **refuted**: significant in the opposite direction;",
             "- **inconclusive**: none of these at this number of seeds (each report states the smallest difference "
             "it could have detected);",
             "- **not testable under this preset**: a condition the claim needs is at chance or still improving, so "
             "the preset cannot test it (rules in each report);",
             "- **hardware-dependent**: timings, measured on this CPU while the originals used GPUs (ratios shown, "
             "not judged).",
             "",
             "Exact checks (parameter counts, shapes, operations) are *exact match* or *mismatch* and are counted "
             "apart. Each report's first section says what its preset can and cannot say.", "",
             "| study | preset | dataset | runs | " + " | ".join(INDEX_COLUMNS) + " | exact match | mismatch |",
             "|---|---|---|---:|" + "---:|" * (len(INDEX_COLUMNS) + 2)]
    totals = [0] * (len(INDEX_COLUMNS) + 2)
    for folder in find_studies(docs_dir, max_depth=1):
        r = read_study(folder)
        counts = verdicts.tally(r.claims)
        row = [counts["statistical"].get(v, 0) for v in INDEX_COLUMNS] + [counts["exact"][verdicts.EXACT_MATCH],
                                                                          counts["exact"][verdicts.MISMATCH]]
        totals = [t + n for t, n in zip(totals, row)]
        dataset = "—" if not r.runs else r.dataset
        lines.append(f"| [{r.name}]({r.name}.md) | {r.preset if r.runs else '—'} | {dataset} | {len(r.runs)} | "
                     + " | ".join(map(str, row)) + " |")
    lines.append("| **total** | | | | " + " | ".join(f"**{n}**" for n in totals) + " |")
    path = docs_dir / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
