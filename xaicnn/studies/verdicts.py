"""From claims and runs to verdicts that say what was shown.

Every verdict is computed from the data (never typed by hand) and is one of:

- *effect reproduced*: significant in the claimed direction, and our effect's 95% interval (a difference,
  or a ratio for timings and sizes) contains the source's effect;
- *direction reproduced*: significant in the claimed direction, but with an effect unlike the source's;
- *equivalent* / *not equivalent*: for "about the same" claims, TOST within the claim's stated margin
  (equivalent when the 90% interval lies inside +-margin; not equivalent when it lies wholly outside);
- *refuted*: significant in the opposite direction;
- *inconclusive*: none of the above, stated with the smallest effect this n could have detected;
- *not testable under this preset*: a condition the claim needs sits at chance or is still improving
  (rules in :data:`RULES`) - a preset artefact never reads as a finding;
- *hardware-dependent*: timings measured on hardware unlike the source's (the ratio is still shown);
- *exact match* / *mismatch*: deterministic quantities (parameters, shapes, operations), tallied apart.

"Significant" is two-sided p < 0.05 after Holm's adjustment over the study's statistical claims.
"""
from __future__ import annotations

import math

from . import stats
from .results import METRICS
from .spec import Claim

EFFECT = "effect reproduced"
DIRECTION = "direction reproduced"
EQUIVALENT = "equivalent"
NOT_EQUIVALENT = "not equivalent"
REFUTED = "refuted"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable under this preset"
HARDWARE = "hardware-dependent"
NO_DATA = "no data"
EXACT_MATCH = "exact match"
MISMATCH = "mismatch"

STATISTICAL = (EFFECT, DIRECTION, EQUIVALENT, NOT_EQUIVALENT, REFUTED, INCONCLUSIVE, NOT_TESTABLE, HARDWARE, NO_DATA)
EXACT = (EXACT_MATCH, MISMATCH)
VERDICTS = STATISTICAL + EXACT

CHANCE_LOSS = 0.98  # at chance: mean final training loss >= 98% of ln K
IMPROVING_GAIN = 0.01  # still improving: final val accuracy beats the best earlier epoch by > 1 point
RULES = {
    "chance": f"a condition is *at chance* when its mean final training loss is within {1 - CHANCE_LOSS:.0%} of "
              "ln K (K classes: the loss of a uniform guess)",
    "improving": f"a condition is *still improving* when its final validation accuracy beats the best earlier "
                 f"epoch by more than {IMPROVING_GAIN * 100:g} point (mean over seeds)",
    "significance": f"significant: two-sided p < {stats.ALPHA} after Holm's adjustment over every test the study "
                    "reports (untestable and timing claims count in the family but take no verdict from it)",
}


def is_exact(claim: dict) -> bool:
    return claim.get("kind") == "exact"


def condition_state(records: list[dict], label: str) -> dict:
    """{n, at_chance, improving, train_loss, gain, classes} of one condition's finished runs."""
    mine = [r for r in records if r["condition"] == label]
    classes = next((r["num_classes"] for r in mine if r.get("num_classes")), None)
    losses = stats.clean(r.get("final_train_loss") for r in mine)
    gains = stats.clean(r.get("last_gain") for r in mine)
    loss = sum(losses) / len(losses) if losses else None
    gain = sum(gains) / len(gains) if gains else None
    at_chance = bool(classes and loss is not None and loss >= CHANCE_LOSS * math.log(classes))
    return {"n": len(mine), "classes": classes, "train_loss": loss, "gain": gain, "at_chance": at_chance,
            "improving": gain is not None and gain > IMPROVING_GAIN}


def _values(records: list[dict], label: str, metric: str) -> list[float]:
    return stats.clean(r.get(metric) for r in records if r["condition"] == label)


def _mean_text(metric: str, values: list[float]) -> str:
    fmt = METRICS[metric].fmt if metric in METRICS else "{:.3g}"
    if not values:
        return "no runs"
    s = stats.summarize(values)
    if s.n == 1:
        return f"{fmt.format(s.mean)} (n=1)"
    return f"{fmt.format(s.mean)} +- {fmt.format(s.std)} (n={s.n})"


def _pooled_counts(records: list[dict], label: str) -> tuple[int, int]:
    """(correct, total) predictions over every run's validation set, from its accuracy."""
    mine = [r for r in records if r["condition"] == label and r.get("final_acc") is not None]
    total = sum(int(r.get("val_images") or 0) for r in mine)
    correct = sum(round(r["final_acc"] * int(r.get("val_images") or 0)) for r in mine)
    return correct, total


def _untestable(claim: Claim, labels: list[str], states: dict) -> str | None:
    """Why the claim's conditions cannot carry it under this preset (None: they can)."""
    reasons = []
    for label in labels:
        s = states[label]
        if s["at_chance"] and label not in claim.at_chance:
            reasons.append(f"{label} is at chance (final train loss {s['train_loss']:.3f}, ln {s['classes']} = "
                           f"{math.log(s['classes']):.3f})")
        elif s["improving"]:
            reasons.append(f"{label} is still improving (last epoch +{s['gain'] * 100:.1f} points)")
    return "; ".join(reasons) or None


def _original_effect(claim: Claim, metric: str, b_value: float | None) -> float | None:
    vals = [float(v) for v in claim.values]
    ratio = METRICS[metric].scale == "ratio"
    if len(vals) >= 2:
        return vals[0] / vals[1] if ratio else vals[0] - vals[1]
    if len(vals) == 1 and b_value is not None:
        return vals[0] / b_value if ratio else vals[0] - b_value
    return None


def _original_data(claim: Claim) -> dict | None:
    """The same test on the original's own per-seed values."""
    if len(claim.original_runs) != 2:
        return None
    a, b = claim.original_runs
    c = stats.compare(a, b)
    out = {"difference": c.difference, "ci_low": c.ci_low, "ci_high": c.ci_high, "hedges_g": c.hedges_g,
           "p_value": c.p_value, "n": list(c.n), "test": c.test}
    if claim.direction == "~":
        out["p_tost"] = stats.tost(c, claim.margin)
    return out


def evaluate_runs_claim(claim: Claim, records: list[dict]) -> dict:
    """Everything about one statistical claim except the Holm-dependent verdict (see :func:`evaluate`)."""
    metric = METRICS[claim.metric]
    labels = [claim.a] + ([claim.b] if isinstance(claim.b, str) and claim.b != "chance" else [])
    states = {label: condition_state(records, label) for label in labels}
    a = _values(records, claim.a, claim.metric)
    out = _base(claim) | {"original_effect": None, "scale": metric.scale, "states": states,
                          "original_data": _original_data(claim)}
    if claim.b == "chance" or isinstance(claim.b, (int, float)):
        classes = states[claim.a]["classes"]
        b: list[float] | float = (1 / classes if classes else math.nan) if claim.b == "chance" else float(claim.b)
        b_text = f"chance = {b:.3f}" if claim.b == "chance" else metric.fmt.format(b)
    else:
        b = _values(records, claim.b, claim.metric)
        b_text = _mean_text(claim.metric, b)
    out["ours"] = f"{_mean_text(claim.metric, a)} vs {b_text}"
    out["original_effect"] = _original_effect(claim, claim.metric, b if isinstance(b, float) else None)
    if not a or (isinstance(b, list) and not b):
        return out | {"verdict": NO_DATA, "reason": "a condition has no finished run"}
    c = stats.compare(a, b)
    out |= {"difference": c.difference, "ci_low": c.ci_low, "ci_high": c.ci_high, "hedges_g": c.hedges_g,
            "p_value": c.p_value, "test": c.test, "n": list(c.n), "detectable": stats.detectable(c)}
    if metric.scale == "ratio" and isinstance(b, list):
        r, low, high, _ = stats.ratio(a, b)
        out |= {"ratio": r, "ratio_low": low, "ratio_high": high}
    elif metric.scale == "ratio" and b:  # against a number: the mean's interval, divided by it
        out |= {"ratio": (c.difference + b) / b, "ratio_low": None if c.ci_low is None else (c.ci_low + b) / b,
                "ratio_high": None if c.ci_high is None else (c.ci_high + b) / b}
    if claim.direction == "~":
        out["p_tost"] = stats.tost(c, claim.margin)
        interval = stats.equivalence_interval(c)
        out["equivalence_interval"] = list(interval) if interval else None
    if c.p_value is None and c.test.startswith("degenerate") and claim.metric == "final_acc":
        out |= _pooled(claim, records, b)
    # Every test the study reports is in the Holm family (the correction counts them all); only claims that
    # reach a verdict by their p-value take it from the adjusted one.
    p = out.get("p_tost") if claim.direction == "~" else out.get("p_value")
    if metric.timing:
        return out | {"verdict": HARDWARE, "p_test": p,
                      "reason": "timings depend on the hardware; the source's were measured on a GPU, ours on "
                                "this machine's CPU"}
    why = _untestable(claim, labels, states) if metric.learned else None
    if why:
        return out | {"verdict": NOT_TESTABLE, "reason": why, "p_test": p}
    if p is None:
        return out | {"verdict": INCONCLUSIVE, "reason": c.test}
    return out | {"decide": True, "p_test": p}


def _pooled(claim: Claim, records: list[dict], b) -> dict:
    """Zero spread on both sides: test the pooled predictions instead (never p = 0 from a t statistic)."""
    ka, na = _pooled_counts(records, claim.a)
    if not na:
        return {}
    if isinstance(b, float):
        if claim.direction == "~":
            lo = stats.pooled_accuracy_test(ka, na, None, None, max(b - claim.margin, 0.0), "greater")
            hi = stats.pooled_accuracy_test(ka, na, None, None, min(b + claim.margin, 1.0), "less")
            return {"p_tost": max(lo, hi), "test": "binomial TOST on pooled predictions (no spread across seeds)"}
        return {"p_value": stats.pooled_accuracy_test(ka, na, None, None, b),
                "test": "binomial test on pooled predictions (no spread across seeds)"}
    kb, nb = _pooled_counts(records, claim.b)
    if claim.direction == "~" or not nb:
        return {}
    return {"p_value": stats.pooled_accuracy_test(ka, na, kb, nb),
            "test": "Fisher's exact test on pooled predictions (no spread across seeds)"}


def _base(claim: Claim) -> dict:
    return {"claim": claim.text, "kind": claim.kind, "metric": claim.metric, "a": claim.a, "b": claim.b,
            "direction": claim.direction, "margin": claim.margin or None, "original": claim.original,
            "values": list(claim.values), "source": claim.source, "reference": claim.reference, "note": claim.note,
            "p_value": None, "p_holm": None, "difference": None}


def _decide(row: dict, claim: Claim) -> dict:
    """The verdict of a claim in the Holm family, from its adjusted p-value."""
    if claim.direction == "~":
        p = row["p_tost_holm"]
        interval = row.get("equivalence_interval")
        if p is not None and p < stats.ALPHA:
            return row | {"verdict": EQUIVALENT, "reason": f"90% interval inside +-{claim.margin:g}"}
        if interval and (interval[0] > claim.margin or interval[1] < -claim.margin):
            return row | {"verdict": NOT_EQUIVALENT, "reason": f"90% interval wholly outside +-{claim.margin:g}"}
        return row | {"verdict": INCONCLUSIVE, "reason": f"equivalence within +-{claim.margin:g} not shown"}
    p = row["p_holm"]
    diff = row["difference"]
    if p is not None and p < stats.ALPHA and diff:
        agrees = diff > 0 if claim.direction == ">" else diff < 0
        if not agrees:
            return row | {"verdict": REFUTED, "reason": "significant in the opposite direction"}
        effect = row.get("original_effect")
        low, high = (row.get("ratio_low"), row.get("ratio_high")) if row["scale"] == "ratio" and "ratio" in row \
            else (row.get("ci_low"), row.get("ci_high"))
        if effect is not None and low is not None and low <= effect <= high:
            return row | {"verdict": EFFECT, "reason": "the source's effect lies in our 95% interval"}
        return row | {"verdict": DIRECTION,
                      "reason": "the source's effect lies outside our 95% interval" if effect is not None
                      else "the source gives no effect size to compare"}
    mde = row.get("detectable")
    return row | {"verdict": INCONCLUSIVE, "reason": "no significant difference" + (
        f"; smallest detectable difference at 80% power: {METRICS[claim.metric].fmt.format(mde)}"
        if mde is not None and claim.metric in METRICS else "")}


def evaluate_exact(claim: Claim, ours: dict, show=None) -> dict:
    """An exact claim against ``ours`` (label -> value) -> exact match / mismatch; ``show`` formats a value."""
    fmt = METRICS[claim.metric].fmt if claim.metric in METRICS else "{:,}"
    show = show or fmt.format
    labels = [claim.a] + ([claim.b] if isinstance(claim.b, str) else [])
    values = [ours.get(label) for label in labels]
    row = _base(claim) | {"test": "exact" if not claim.rel_tol else f"exact within {claim.rel_tol:.0%}"}
    if any(v is None for v in values):
        return row | {"ours": "not computed", "verdict": NO_DATA}
    text = " vs ".join(show(v) for v in values)
    if claim.match == "ratio":
        mine, theirs = values[0] / values[1], claim.values[0] / claim.values[1]
        ok = _close(mine, theirs, claim.rel_tol)
        return row | {"ours": f"{text} (ratio {mine:.3g}; source {theirs:.3g})", "ratio": mine,
                      "verdict": EXACT_MATCH if ok else MISMATCH}
    checks = [_close(o, e, claim.rel_tol) for o, e in zip(values, claim.values)]
    if isinstance(claim.b, (int, float)) and not isinstance(claim.b, bool):  # a limit ("within 1.2M")
        checks.append(values[0] > claim.b if claim.direction == ">" else values[0] < claim.b)
        text += f" (limit {show(claim.b)})"
    elif len(values) == 2 and claim.direction in "<>":
        checks.append(values[0] > values[1] if claim.direction == ">" else values[0] < values[1])
    return row | {"ours": text, "verdict": EXACT_MATCH if checks and all(checks) else MISMATCH}


def _close(ours, expected, rel_tol: float) -> bool:
    if isinstance(expected, (tuple, list)):
        return tuple(ours) == tuple(expected)
    if isinstance(expected, str) or isinstance(ours, str):
        return ours == expected
    return ours == expected if not rel_tol else abs(ours - expected) <= rel_tol * abs(expected)


def evaluate(claims, records: list[dict], exact_values: dict | None = None) -> list[dict]:
    """Verdicts of a study's claims: exact ones against ``exact_values`` (metric -> label -> value), the
    statistical ones against ``records`` with Holm's adjustment over those that reach a test."""
    rows: list[dict] = []
    for claim in claims:
        if claim.kind == "exact":
            rows.append(evaluate_exact(claim, (exact_values or {}).get(claim.metric, {})))
        else:
            rows.append(evaluate_runs_claim(claim, records))
    adjusted = stats.holm([r.get("p_test") for r in rows])
    for i, (row, p) in enumerate(zip(rows, adjusted)):
        # p_holm is the adjusted p of the test the verdict rests on: TOST for "about the same" claims
        row["p_holm"] = p
        if claims[i].direction == "~":
            row["p_tost_holm"] = p
        if row.get("kind") == "runs":
            row["p_holm_of"] = "tost" if claims[i].direction == "~" else "difference"
        if row.pop("decide", False):
            rows[i] = _decide(row, claims[i])
    for r in rows:
        r.pop("p_test", None)
    return rows


def tally(claims: list[dict]) -> dict:
    """{"statistical": {verdict: count}, "exact": {verdict: count}} - the two never added together."""
    out = {"statistical": {v: 0 for v in STATISTICAL}, "exact": {v: 0 for v in EXACT}}
    for c in claims:
        group = "exact" if is_exact(c) else "statistical"
        out[group][c["verdict"]] = out[group].get(c["verdict"], 0) + 1
    return out
