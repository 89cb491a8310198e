"""lecture_shapes trains nothing: its shapes and counts are checked exactly, against arithmetic done here."""

from xaicnn import studies
from xaicnn.studies import stats
from xaicnn.studies.catalog.lecture_shapes import compute, inception_module_costs

H = W = 28  # Inception 3a sees 28x28x192


def conv(cin, cout, k):
    """(params, MACs) of a k x k conv with bias and 'same' padding on the 28x28 map."""
    return cin * cout * k * k + cout, H * W * cin * cout * k * k


def test_inception_module_costs_match_hand_arithmetic():
    # 3a: 1x1 64; 1x1 96 -> 3x3 128; 1x1 16 -> 5x5 32; pool -> 1x1 32 (Szegedy et al. 2015, table 1)
    reduced = [conv(192, 64, 1), conv(192, 96, 1), conv(96, 128, 3), conv(192, 16, 1), conv(16, 32, 5), conv(192, 32, 1)]
    naive = [conv(192, 64, 1), conv(192, 128, 3), conv(192, 32, 5)]  # the pool branch has no weights
    costs = inception_module_costs()
    assert costs["reduced"]["params"] == sum(p for p, _ in reduced) == 163_696
    assert costs["naive"]["params"] == sum(p for p, _ in naive) == 387_296
    assert costs["reduced"]["flops"] == 2 * sum(m for _, m in reduced) == 256_098_304
    assert costs["naive"]["flops"] == 2 * sum(m for _, m in naive) == 606_928_896
    assert (costs["naive"]["out_channels"], costs["reduced"]["out_channels"]) == (64 + 128 + 32 + 192, 256)


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
    assert rows["Inception 3a naive"]["flops"] - rows["Inception 3a reduced"]["flops"] == 606_928_896 - 256_098_304
    assert [c["claim"] for c in result.claims] == [c.text for c in studies.get("lecture_shapes").claims]
    assert all(c["verdict"] == stats.CONFIRMED for c in result.claims), [c for c in result.claims if c["verdict"] != "confirmed"]
    text = "\n".join(result.sections)
    assert "costs 350.83M more FLOPs" in text and "387,296 vs 163,696" in text and "2.37x" in text


def test_lecture_study_report(tmp_path, cli):
    code, out, err = cli("study", "lecture_shapes", "--out", tmp_path / "lecture")
    assert code == 0, err
    result = studies.read_study(tmp_path / "lecture")
    assert result.status == "complete" and result.runs == [] and len(result.table) == 8
    report = result.report_md.read_text()
    assert "55x55x96" in report and "### AlexNet" in report and "Inception module 3a" in report
    assert sum(line.strip().startswith("confirmed") for line in out.splitlines()) == len(result.claims)
