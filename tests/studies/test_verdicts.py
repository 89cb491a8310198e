"""Verdict classes on constructed runs: each class appears exactly where the data support it."""
import math

import pytest

from xaicnn.studies import verdicts
from xaicnn.studies.spec import Claim

SRC = "test.txt §1"


def runs(label, accs, loss=0.5, gain=0.0, classes=10, val=1000, **extra):
    return [{"condition": label, "final_acc": a, "final_train_loss": loss, "last_gain": gain, "num_classes": classes,
             "val_images": val, **{k: v[i] for k, v in extra.items()}} for i, a in enumerate(accs)]


def spread(mean, k=0.004):
    return [mean + k * d for d in (-2, -1, 0, 1, 2)]


ORIGINAL = Claim("a beats b", "final_acc", "a", ">", "b", "0.869 vs 0.825", SRC, values=(0.869, 0.825))


def verdict(claim, records):
    return verdicts.evaluate([claim], records)[0]


def test_an_effect_of_the_originals_size_is_reproduced():
    row = verdict(ORIGINAL, runs("a", spread(0.80)) + runs("b", spread(0.756)))
    assert row["verdict"] == verdicts.EFFECT
    assert row["ci_low"] <= 0.044 <= row["ci_high"] and row["p_holm"] < 0.05 and row["hedges_g"] > 0


def test_half_the_effect_is_only_the_direction():
    row = verdict(ORIGINAL, runs("a", spread(0.80, 0.002)) + runs("b", spread(0.778, 0.002)))
    assert row["verdict"] == verdicts.DIRECTION and row["ci_high"] < 0.044


def test_the_opposite_direction_refutes():
    assert verdict(ORIGINAL, runs("a", spread(0.75)) + runs("b", spread(0.80)))["verdict"] == verdicts.REFUTED


def test_overlap_is_inconclusive_with_a_detectable_effect():
    row = verdict(ORIGINAL, runs("a", spread(0.80, 0.02)) + runs("b", spread(0.795, 0.02)))
    assert row["verdict"] == verdicts.INCONCLUSIVE and row["detectable"] > 0.005
    assert "smallest detectable difference" in row["reason"]


def test_equal_means_with_small_spread_are_equivalent():
    claim = Claim("a about b", "final_acc", "a", "~", "b", "0.761 vs 0.759", SRC, values=(0.761, 0.759), margin=0.02)
    row = verdict(claim, runs("a", spread(0.76, 0.002)) + runs("b", spread(0.761, 0.002)))
    assert row["verdict"] == verdicts.EQUIVALENT
    far = verdict(claim, runs("a", spread(0.70, 0.002)) + runs("b", spread(0.76, 0.002)))
    assert far["verdict"] == verdicts.NOT_EQUIVALENT


def test_a_chance_level_arm_is_not_testable():
    dead = runs("b", [0.1] * 5, loss=math.log(10) * 0.995)
    row = verdict(ORIGINAL, runs("a", spread(0.80)) + dead)
    assert row["verdict"] == verdicts.NOT_TESTABLE and "b is at chance" in row["reason"]


def test_chance_is_a_finding_where_the_source_reports_it():
    claim = Claim("b at chance", "final_acc", "b", "~", "chance", "0.10", SRC, margin=0.02, at_chance=("b",))
    row = verdict(claim, runs("b", [0.1] * 5, loss=math.log(10)))
    assert row["verdict"] == verdicts.EQUIVALENT
    assert row["p_value"] is None and row["p_tost"] > 0  # zero spread: pooled predictions, never p = 0


def test_a_still_improving_arm_is_not_testable():
    row = verdict(ORIGINAL, runs("a", spread(0.80), gain=0.03) + runs("b", spread(0.756)))
    assert row["verdict"] == verdicts.NOT_TESTABLE and "still improving" in row["reason"]


def test_zero_variance_never_gives_p_zero():
    row = verdict(ORIGINAL, runs("a", [0.8] * 5) + runs("b", [0.7] * 5))
    assert row["p_value"] is None or row["p_value"] > 0
    assert "pooled" in row["test"]


def test_timings_are_hardware_dependent_with_their_ratio():
    claim = Claim("b slower", "sec_per_epoch", "b", ">", "a", "29.8 vs 22.8", SRC, values=(29.8, 22.8))
    row = verdict(claim, runs("a", spread(0.8), sec_per_epoch=[10, 11, 10, 11, 10]) +
                  runs("b", spread(0.8), sec_per_epoch=[20, 21, 20, 21, 22]))
    assert row["verdict"] == verdicts.HARDWARE and row["ratio"] == pytest.approx(2.0, rel=0.05)
    assert row["original_effect"] == pytest.approx(29.8 / 22.8)


def test_holm_adjusts_within_the_study():
    claims = [Claim(f"c{i}", "final_acc", "a", ">", "b", "", SRC) for i in range(3)]
    rows = verdicts.evaluate(claims, runs("a", spread(0.80, 0.01)) + runs("b", spread(0.785, 0.01)))
    assert all(r["p_holm"] == pytest.approx(min(1, 3 * rows[0]["p_value"])) for r in rows)


def test_the_originals_own_data_is_tested_the_same_way():
    claim = Claim("a beats b", "final_acc", "a", ">", "b", "", SRC, values=(0.869, 0.825),
                  original_runs=((0.875, 0.8686, 0.872, 0.8638, 0.8663), (0.8302, 0.82, 0.8265, 0.8266, 0.8202)))
    own = verdict(claim, runs("a", spread(0.8)) + runs("b", spread(0.7)))["original_data"]
    assert own["p_value"] < 1e-5 and own["n"] == [5, 5]


def test_exact_checks_are_counted_apart():
    exact = verdicts.evaluate_exact(Claim("sizes", "params", "a", "<", "b", "", SRC, kind="exact", values=(1, 2)),
                                    {"a": 1, "b": 2})
    ratio = verdicts.evaluate_exact(Claim("half", "params", "b", ">", "a", "", SRC, kind="exact", values=(661, 320),
                                          match="ratio", rel_tol=0.1), {"a": 10, "b": 126})
    assert exact["verdict"] == verdicts.EXACT_MATCH and ratio["verdict"] == verdicts.MISMATCH
    tally = verdicts.tally([exact, ratio, {"kind": "runs", "verdict": verdicts.REFUTED}])
    assert tally["exact"] == {verdicts.EXACT_MATCH: 1, verdicts.MISMATCH: 1}
    assert tally["statistical"][verdicts.REFUTED] == 1
