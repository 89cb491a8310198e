"""lecture_shapes trains nothing: its shapes and counts are checked exactly, against arithmetic done here."""

from xaicnn import studies
from xaicnn.studies import verdicts
from xaicnn.studies.catalog.lecture_shapes import compute, inception_module_costs

H = W = 28  # the lecture's module sees 28x28x256


def conv(cin, cout, k):
    """(params, MACs) of a k x k conv with bias and 'same' padding on the 28x28 map."""
    return cin * cout * k * k + cout, H * W * cin * cout * k * k


def test_inception_module_costs_match_hand_arithmetic():
    # the lecture's module: 1x1 128; 3x3 192; 5x5 96; 3x3 pool; reductions to 64 before 3x3 / 5x5 and after the pool
    naive = [conv(256, 128, 1), conv(256, 192, 3), conv(256, 96, 5)]  # the pool branch has no weights
    reduced = [conv(256, 128, 1), conv(256, 64, 1), conv(64, 192, 3), conv(256, 64, 1), conv(64, 96, 5), conv(256, 64, 1)]
    costs = inception_module_costs()
    assert costs["naive"]["macs"] == sum(m for _, m in naive) == 854_196_224  # the lecture's "854M ops"
    assert costs["reduced"]["macs"] == sum(m for _, m in reduced) == 271_351_808  # not the lecture's "358M"
    assert costs["naive"]["params"] == sum(p for p, _ in naive)
    assert costs["reduced"]["params"] == sum(p for p, _ in reduced)
    assert (costs["naive"]["out_channels"], costs["reduced"]["out_channels"]) == (128 + 192 + 96 + 256, 480)


def test_lecture_tables_and_verdicts():
    result = compute()
    rows = {r["item"]: r for r in result.table}
    alex = rows["AlexNet"]
    assert alex["input"] == "3x227x227" and alex["first_output"] == "96x55x55"
    assert alex["first_params"] == 11 * 11 * 3 * 96 + 96 == 34_944
    assert rows["ZFNet"]["first_output"] == "96x110x110"
    assert rows["LeNet-5"]["params"] == 61_706 and rows["VGG-16"]["params"] == 138_357_544
    assert rows["ResNet-50"]["params"] == 25_557_032  # torchvision's count
    assert rows["GoogLeNet"]["params"] < rows["AlexNet"]["params"] / 5
    assert [c["claim"] for c in result.claims] == [c.text for c in studies.get("lecture_shapes").claims]
    verdict = {c["claim"]: c["verdict"] for c in result.claims}
    # where the notes contradict themselves or round far, the check says so; everything else matches
    mismatches = {"as written: 3*(3²C²) vs 7*(7²C²)", "GoogLeNet has about 5M parameters",
                  "the module with 1x1 reductions costs 358M operations"}
    assert {k for k, v in verdict.items() if v == verdicts.MISMATCH} == mismatches
    assert all(v == verdicts.EXACT_MATCH for k, v in verdict.items() if k not in mismatches)
    assert all(c["source"].startswith("003_") for c in result.claims)
    assert {c["claim"] for c in result.claims if c["reference"]} >= {"VGG-16 has 138,357,544 parameters"}
    text = "\n".join(result.sections)
    assert "28x28x256" in text and "672" in text


def test_lecture_study_report(tmp_path, cli):
    code, out, err = cli("study", "lecture_shapes", "--out", tmp_path / "lecture")
    assert code == 0, err
    result = studies.read_study(tmp_path / "lecture")
    assert result.status == "complete" and result.runs == [] and len(result.table) == 8
    report = result.report_md.read_text()
    assert "55x55x96" in report and "### AlexNet" in report and "lecture's Inception module" in report
    assert "Exact checks (20, tallied apart" in report
    assert sum(line.strip().startswith(("exact match", "mismatch")) for line in out.splitlines()) == len(result.claims)
