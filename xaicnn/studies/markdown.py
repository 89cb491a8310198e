"""``report.md`` of a study: facts, what the preset can say, departures, the per-condition table, the claims
(statistical verdicts and exact checks in separate tables), extra sections, figures and runs."""
from __future__ import annotations

import math
from pathlib import Path

from . import verdicts
from .results import METRICS, TABLE_METRICS
from .spec import StudySpec


def fmt(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return METRICS[metric].fmt.format(value) if metric in METRICS else f"{value:,}"


def _signed(metric: str, value) -> str:
    text = fmt(metric, value)
    return text if text == "—" or text.startswith(("-", "+")) else f"+{text}"


def _p(value) -> str:
    return "—" if value is None else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _cell(row: dict, key: str) -> str:
    if METRICS[key].exact:
        return fmt(key, row.get(key))
    n, mean, std = row.get(f"{key}_n", 0), row.get(f"{key}_mean"), row.get(f"{key}_std")
    if not n:
        return "—"
    if n == 1:
        return fmt(key, mean)
    low, high = fmt(key, row[f"{key}_ci_low"]), fmt(key, row[f"{key}_ci_high"])
    return f"{fmt(key, mean)} +- {fmt(key, std)} [{low}, {high}]"


def table(header: list[str], lines: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in line) + " |" for line in lines]
    return "\n".join(out)


def effect_text(c: dict) -> str:
    """'+0.044 [+0.031, +0.057]' or 'x1.31 [1.20, 1.43]' (ratio metrics) - our effect with its 95% interval."""
    metric = c["metric"]
    if c.get("ratio") is not None:
        low, high = c.get("ratio_low"), c.get("ratio_high")
        interval = f" [{low:.2f}, {high:.2f}]" if low is not None else ""
        return f"x{c['ratio']:.2f}{interval}"
    if c.get("difference") is None:
        return "—"
    interval = (f" [{_signed(metric, c['ci_low'])}, {_signed(metric, c['ci_high'])}]"
                if c.get("ci_low") is not None else "")
    return _signed(metric, c["difference"]) + interval


def source_effect_text(c: dict) -> str:
    e = c.get("original_effect")
    if e is None:
        return "—"
    return f"x{e:.2f}" if c.get("scale") == "ratio" else _signed(c["metric"], e)


def _claim_text(c: dict) -> str:
    text = c["claim"]
    if c.get("direction") == "~" and c.get("margin"):
        text += f" (margin +-{fmt(c['metric'], c['margin'])})"
    return text


def _source(c: dict) -> str:
    return c.get("source", "") + (f"; figures from **{c['reference']}** (not the original)" if c.get("reference") else "")


def limits_section(spec: StudySpec, record: dict) -> list[str]:
    """What this preset can and cannot say: computed from the verdicts, plus the preset's own sentence."""
    claims = [c for c in record.get("claims", []) if not verdicts.is_exact(c)]
    lines = ["## What this preset can and cannot say", ""]
    preset = spec.presets.get(record.get("preset"))
    if spec.compute is not None:
        return lines + ["Every figure here is computed from the architectures themselves (no training, no seeds): "
                        "each check is exact, and says nothing about how the nets train.", ""]
    seeds = record.get("seeds")
    text = [f"{seeds} seeds per condition." if seeds else ""]
    untestable = [c for c in claims if c["verdict"] == verdicts.NOT_TESTABLE]
    if untestable:
        reasons = sorted({part for c in untestable for part in c["reason"].split("; ")})
        text.append(f"{len(untestable)} of {len(claims)} statistical claims cannot be tested here because a condition "
                    "they need is at chance or still improving (" + "; ".join(reasons) + ").")
    mdes = [(c["detectable"], c["metric"]) for c in claims if c.get("detectable") is not None
            and c["metric"] == "final_acc" and c["verdict"] not in (verdicts.NOT_TESTABLE, verdicts.HARDWARE)]
    if mdes:
        lo, hi = min(m for m, _ in mdes), max(m for m, _ in mdes)
        text.append(f"At this spread, accuracy differences smaller than {lo * 100:.1f}-{hi * 100:.1f} points could "
                    "not have been detected with 80% power, so an inconclusive verdict says no more than that.")
    if any(c["verdict"] == verdicts.HARDWARE for c in claims):
        text.append("Timings were measured on this machine's CPU; the sources used GPUs, so timing ratios are shown "
                    "but not judged.")
    if record.get("dataset") != spec.dataset:
        text.append(f"Trained on {record.get('dataset')} instead of {spec.dataset}: no number here is comparable "
                    "with the source's.")
    if preset is not None and preset.limits:
        text.append(preset.limits)
    return lines + [" ".join(t for t in text if t), ""]


def claims_section(claims: list[dict]) -> list[str]:
    statistical = [c for c in claims if not verdicts.is_exact(c)]
    exact = [c for c in claims if verdicts.is_exact(c)]
    lines = ["## Claims", ""]
    if statistical:
        lines += [f"### Statistical claims ({len(statistical)})", "",
                  "Each row tests one statement of the source on our runs: the difference of the means (a ratio for "
                  "timings) with its 95% Welch interval, Hedges' g, the two-sided p-value raw and Holm-adjusted within "
                  "this study (TOST p for 'about the same' claims), and the verdict it supports. Rules: "
                  + "; ".join(verdicts.RULES.values()) + ".", ""]
        rows = []
        for i, c in enumerate(statistical, 1):
            p = c.get("p_tost") if c.get("direction") == "~" else c.get("p_value")
            holm = c.get("p_tost_holm") if c.get("direction") == "~" else c.get("p_holm")
            g = "—" if c.get("hedges_g") is None else f"{c['hedges_g']:+.2f}"
            rows.append([i, _claim_text(c), c.get("original", ""), source_effect_text(c), c.get("ours", ""),
                         effect_text(c), g, f"{_p(p)} / {_p(holm)}", f"**{c['verdict']}**"])
        lines += [table(["#", "claim", "source's figures", "source's effect", "ours (mean +- sd)",
                         "our effect [95% CI]", "g", "p raw / Holm", "verdict"], rows), ""]
        details = []
        for i, c in enumerate(statistical, 1):
            parts = [f"{c['verdict']}: {c.get('reason', '')}".rstrip(": ")]
            own = c.get("original_data")
            if own:
                p_own = own.get("p_tost") if c.get("direction") == "~" else own.get("p_value")
                g = "" if own.get("hedges_g") is None else f", g = {own['hedges_g']:+.2f}"
                parts.append(f"the original's own data ({own['n'][0]} vs {own['n'][1]} runs): difference "
                             f"{_signed(c['metric'], own['difference'])}{g}, p = {_p(p_own)}")
            if c.get("test"):
                parts.append(f"test: {c['test']}")
            details.append(f"{i}. *{_source(c)}* - " + "; ".join(parts) + (f". **Note:** {c['note']}" if c.get("note")
                                                                             else ""))
        lines += details + [""]
    if exact:
        lines += [f"### Exact checks ({len(exact)}, tallied apart from the statistical claims)", "",
                  "Deterministic quantities of the architectures at the source's settings (our nets built on the "
                  "meta device, nothing trained).", ""]
        rows = [[_claim_text(c), _source(c), c.get("original", ""), c.get("ours", ""), f"**{c['verdict']}**"]
                for c in exact]
        lines += [table(["check", "source", "source's figures", "ours", "verdict"], rows), ""]
        notes = [f"- {c['claim']}: {c['note']}" for c in exact if c.get("note")]
        lines += (["Notes:", ""] + notes + [""]) if notes else []
    return lines


def _state(row: dict) -> str:
    if row.get("at_chance"):
        return "at chance"
    if row.get("improving"):
        return "still improving"
    return "plateau" if row.get("n") else "—"


def render_markdown(spec: StudySpec, record: dict, sections: list[str]) -> str:
    """The whole ``report.md``."""
    lines = [f"# Study `{spec.name}`: {spec.description}", ""]
    lines += [f"- **{k}:** {v}" for k, v in _facts(spec, record)] + [""]
    lines += limits_section(spec, record)
    if spec.departures:
        lines += ["## Departures from the original", ""] + [f"- {d}" for d in spec.departures] + [""]
    if record.get("reductions"):
        lines += [f"## Reductions from the original settings ({record['preset']} preset)", ""]
        lines += [f"- {r}" for r in record["reductions"]] + [""]
    if record.get("table") and spec.compute is None:
        lines += ["## Results per condition", "", "Mean +- standard deviation [95% t-interval] over seeds; parameters "
                  "and FLOPs are per run (as trained); seconds/epoch is training only (no validation), without the "
                  "first epoch. *State* applies the rules above to the condition's runs.", ""]
        header = ["condition", "arch", "n", "state"] + [METRICS[k].label for k in TABLE_METRICS]
        rows = [[row["title"], f"`{row['arch']}`", row["n"], _state(row)] + [_cell(row, k) for k in TABLE_METRICS]
                for row in record["table"]]
        lines += [table(header, rows), ""]
    if record.get("claims"):
        lines += claims_section(record["claims"])
    lines += sections
    if record.get("figures"):
        lines += ["## Figures", "", "Each figure shows one run per condition (its lowest seed).", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in record["figures"]] + [""]
    if record.get("figure_errors"):
        lines += ["Figures that failed (the numbers above are unaffected):", ""]
        lines += [f"- {e}" for e in record["figure_errors"]] + [""]
    if record.get("runs"):
        header = ["run", "status", "epochs", "final val acc", "best val acc", "last epoch's gain", "s/epoch"]
        rows = [[f"`runs/{r.get('run', r.get('name'))}.pt`", r.get("status"), r.get("epochs", "—"),
                 fmt("final_acc", r.get("final_acc")), fmt("best_acc", r.get("best_acc")),
                 fmt("last_gain", r.get("last_gain")), fmt("sec_per_epoch", r.get("sec_per_epoch"))]
                for r in record["runs"]]
        lines += ["## Runs", "", table(header, rows), ""]
    return "\n".join(lines)


def _facts(spec: StudySpec, record: dict) -> list[tuple[str, str]]:
    seeds = f", {record['seeds']} seeds per condition" if record.get("seeds") else ""
    jobs = f"; {record['jobs']} runs in parallel" if record.get("jobs", 1) > 1 else ""
    total = f"{record.get('seconds', 0) / 60:.1f} min wall clock"
    if record.get("planned"):
        total += f" ({record.get('train_seconds', 0) / 60:.1f} min of training summed over runs)"
    counts = verdicts.tally(record.get("claims", []))
    tally = "; ".join(f"{group}: " + (", ".join(f"{n} {v}" for v, n in c.items() if n) or "none")
                      for group, c in counts.items())
    facts = [("Preset", f"`{record['preset']}`{seeds}"), ("Dataset", record.get("dataset_note", record["dataset"])),
             ("Original setting", spec.original or "—"), ("Machine", record.get("machine", "—") + jobs),
             ("Total time", total), ("Verdicts", tally),
             ("Status", f"{record['status']} (written {record.get('finished', '—')})")]
    if spec.compute is not None:  # a computed study (lecture_shapes) trains nothing: no preset, data or seeds
        facts = [f for f in facts if f[0] not in ("Preset", "Dataset")]
    return facts
