"""`xaicnn study`: the listing, and every bad input as one sentence with exit status 2."""
import subprocess
import sys

import pytest

from xaicnn import studies


def test_list_shows_every_study_with_conditions_and_costs(cli):
    code, out, err = cli("study", "--list")
    assert code == 0 and not err
    for name in studies.available():
        assert f"{name}: {studies.available()[name]}" in out
    assert "conditions: k3 (vgg16), k7 (vgg16_7x7), rf (vgg16_rf)" in out
    assert "claims: 4 statistical + 2 exact checks (from 000_17c1f6e4dcaf675a.txt, 003_5e4d8ea69c0591df.txt)" in out
    assert "quick: 15 runs (3 conditions x 5 seeds) x 16 epochs x 2,000 images, ~" in out
    assert "full: 10 runs (2 conditions x 5 seeds) x 30 epochs x 50,000 images" in out  # inception_1x1
    for name in studies.available():  # every quick preset states its cost, at most 15 minutes
        spec = studies.get(name)
        if spec.conditions:
            assert spec.presets["quick"].minutes <= 15
    assert "embedded stand-in: --dataset digits" in out


def test_help_does_not_import_torch():
    code = ("import sys; from xaicnn.cli import main\ntry:\n    main(['study', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--preset" in result.stdout and "--report-only" in result.stdout


@pytest.mark.parametrize("argv,needle", [
    ([], "Name the study to run"),
    (["vgg_kernels"], "did you mean vgg_kernel"),
    (["vgg_kernel", "--list"], "drop the study name"),
    (["vgg_kernel", "--seeds", "0"], "--seeds must be at least 1"),
    (["vgg_kernel", "--jobs", "0"], "--jobs must be at least 1"),
    (["vgg_kernel", "--dataset", "nosuch"], "Unknown dataset 'nosuch'"),
])
def test_bad_input_is_one_sentence_and_exit_2(cli, tmp_path, argv, needle):
    code, out, err = cli("study", *argv, "--preset", "smoke", "--out", tmp_path / "s")
    assert code == 2, (out, err)
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "s" / "runs").exists()


def test_missing_dataset_names_the_embedded_one(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = cli("study", "depth50", "--preset", "smoke", "--data-dir", empty, "--out", tmp_path / "s")
    assert code == 2 and "--dataset digits" in err and err.count("\n") == 1
    assert not (tmp_path / "s" / "runs").exists()


def test_report_only_needs_a_study_folder(cli, tmp_path):
    code, _, err = cli("study", "vgg_kernel", "--report-only", "--out", tmp_path)
    assert code == 2 and "holds no study.json" in err


def test_report_only_refuses_another_studys_folder(cli, smoke):
    folder, _ = smoke("vgg_kernel")
    code, _, err = cli("study", "depth50", "--report-only", "--out", folder)
    assert code == 2 and "holds the vgg_kernel study" in err


def test_smoke_through_the_cli(cli, tmp_path):
    code, out, err = cli("study", "inception_1x1", "--preset", "smoke", "--dataset", "digits", "--seeds", "1",
                         "--out", tmp_path / "s", "--quiet")
    assert code == 0, err
    assert out.startswith("inception_1x1 (smoke): complete; report ")
    assert "mismatch" in out and (tmp_path / "s" / "runs" / "naive-seed0.pt").is_file()
    report = (tmp_path / "s" / "report.md").read_text()
    assert "no variance to test against" in report or "at chance" in report  # n=1: no test, and the report says why
