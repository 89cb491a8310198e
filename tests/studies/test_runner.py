"""Studies end to end on the smoke preset: plan, train, resume, statistics, report, figures."""
import csv
import os
from dataclasses import replace
from pathlib import Path

import pytest

from xaicnn import studies
from xaicnn.errors import Interrupted, UserError
from xaicnn.studies import verdicts



TRAINED = [n for n in studies.available() if studies.get(n).compute is None]


@pytest.mark.parametrize("name", TRAINED)
def test_smoke_study_writes_runs_table_claims_report_and_figures(smoke, name):
    folder, log = smoke(name)
    spec = studies.get(name)
    result = studies.read_study(folder)
    assert (result.name, result.preset, result.seeds, result.status) == (name, "smoke", 2, "complete")
    labels = [c.label for c in spec.conditions]
    # one checkpoint per condition x seed, named as the app expects
    assert sorted(p.name for p in result.runs_dir.glob("*.pt")) == sorted(f"{l}-seed{k}.pt" for l in labels for k in (0, 1))
    assert [r["condition"] for r in result.table] == labels and all(r["n"] == 2 for r in result.table)
    for row in result.table:
        assert row["final_acc_n"] == 2 and 0 <= row["final_acc_mean"] <= 1
        assert row["final_acc_ci_low"] <= row["final_acc_mean"] <= row["final_acc_ci_high"]
        assert row["params"] > 0 and row["sec_per_epoch_mean"] > 0
    with open(result.results_csv) as f:
        assert [r["condition"] for r in csv.DictReader(f)] == labels
    assert [c["claim"] for c in result.claims] == [c.text for c in spec.claims]
    assert all(c["verdict"] in verdicts.VERDICTS and c["ours"] and c["original"] and c["source"]
               for c in result.claims)
    assert result.record["tally"] == verdicts.tally(result.claims)
    # the figures the spec names exist as PNGs, and none failed
    assert result.record["figure_errors"] == []
    assert result.figures and all(p.is_file() and p.read_bytes()[:4] == b"\x89PNG" for p in result.figures)
    assert any(p.name == "curves.png" for p in result.figures)
    report = result.report_md.read_text()
    for needle in ("`smoke`", "What this preset can and cannot say", "Reductions from the original settings", "epochs",
                   "Machine", "Total time", "substituted"
                   if studies.get(name).fallback != spec.dataset else studies.get(name).fallback, *(c.text for c in spec.claims)):
        assert needle in report, needle
    assert any(line.startswith("[") and "seed1" in line for line in log)  # per-run progress lines


def test_figure_kinds_match_each_study(smoke):
    figures = {p.name for p in studies.read_study(smoke("depth50")[0]).figures}
    assert {"gradflow-heatmap-vgg50.png", "gradflow-lines-inception50.png", "curves.png"} <= figures
    figures = {p.name for p in studies.read_study(smoke("resnet_depth")[0]).figures}
    assert "gradflow-stages.png" in figures
    figures = {p.name for p in studies.read_study(smoke("alpha_bottleneck")[0]).figures}
    assert {"confusion-plain.png", "attributions.png"} <= figures


def test_gradient_claims_read_the_first_layer(smoke):
    result = studies.read_study(smoke("depth50")[0])
    row = {r["condition"]: r for r in result.table}
    # a 50-layer plain VGG without batch norm: orders of magnitude less gradient at its first layer
    assert row["vgg50"]["grad_first_mean"] < row["vgg16"]["grad_first_mean"] - 1
    claim = next(c for c in result.claims if c["metric"] == "grad_first" and c["a"] == "vgg16")
    # the smoke nets sit at chance after one epoch: the gradient of a net that learned nothing is no evidence
    assert claim["verdict"] == verdicts.NOT_TESTABLE and "at chance" in claim["reason"]
    assert claim["difference"] > 1  # the numbers are still shown


def test_report_only_rewrites_from_the_runs(smoke, cli):
    folder, _ = smoke("vgg_kernel")
    before = {p: p.stat().st_mtime_ns for p in (folder / "runs").glob("*.pt")}
    assert len(before) == 2 * len(studies.get("vgg_kernel").conditions)  # two smoke seeds per condition
    (folder / "report.md").unlink()
    for png in (folder / "figures").glob("*.png"):
        png.unlink()
    code, out, err = cli("study", "vgg_kernel", "--report-only", "--out", folder)
    assert code == 0, err
    assert (folder / "report.md").is_file() and (folder / "figures" / "curves.png").is_file()
    assert {p: p.stat().st_mtime_ns for p in (folder / "runs").glob("*.pt")} == before  # nothing retrained
    assert "exact match" in out and "VGG-16 3x3 has 33,638,218 parameters" in out


def test_find_studies_lists_study_folders(smoke, tmp_path):
    folder, _ = smoke("vgg_kernel")
    root = folder.parent
    found = studies.find_studies(root)
    assert folder in found and all((f / "study.json").is_file() for f in found)
    assert studies.find_studies(tmp_path) == []
    with pytest.raises(UserError, match="no study.json"):
        studies.read_study(tmp_path)


def _tiny_three_epoch_spec():
    spec = studies.get("vgg_kernel")
    return replace(spec, presets={**spec.presets, "smoke": replace(spec.presets["smoke"], epochs=3)})


def test_interrupted_study_resumes_unfinished_and_skips_finished_runs(tmp_path, monkeypatch):
    from xaicnn.training import load_checkpoint, trainer

    spec = _tiny_three_epoch_spec()
    real_train, real_resume, trained, resumed = trainer.train, trainer.resume, [], []

    def train_then_interrupt(config, **kw):  # the second run is interrupted after its first epoch
        trained.append(Path(config.out).name)

        def stop(epoch):
            if len(trained) == 2 and epoch == 1:
                raise KeyboardInterrupt

        return real_train(config, on_epoch_end=stop, **kw)

    monkeypatch.setattr(trainer, "train", train_then_interrupt)
    with pytest.raises(Interrupted) as stopped:
        studies.run_study(spec, "smoke", dataset="digits", out=tmp_path, progress=False, log=lambda *a: None)
    assert stopped.value.exit_code == 130  # what was kept, in one sentence
    assert str(stopped.value) == (f"1 of 6 runs finished (kept in {tmp_path / 'runs'}); 1 unfinished run was saved at "
                                  f"its last checkpoint; run the same command again to continue.")
    runs = tmp_path / "runs"
    first, second = runs / "k3-seed0.pt", runs / "k3-seed1.pt"
    assert load_checkpoint(first).status == "complete" and load_checkpoint(second).status == "running"
    assert len(load_checkpoint(second).history) == 1 and not (runs / "k7-seed0.pt").exists()
    finished_at = first.stat().st_mtime_ns
    interrupted = studies.read_study(tmp_path)
    assert interrupted.status == "running" and interrupted.seconds > 0  # the time spent so far is kept

    trained.clear()
    monkeypatch.setattr(trainer, "train", lambda config, **kw: trained.append(Path(config.out).name) or real_train(config, **kw))
    monkeypatch.setattr(trainer, "resume", lambda path, **kw: resumed.append(Path(path).name) or real_resume(path, **kw))
    studies.run_study(spec, "smoke", dataset="digits", out=tmp_path, progress=False, log=lambda *a: None)
    assert first.stat().st_mtime_ns == finished_at  # finished: skipped
    assert resumed == ["k3-seed1.pt"]  # unfinished: resumed from its checkpoint, not restarted
    assert trained == ["k7-seed0.pt", "k7-seed1.pt", "rf-seed0.pt", "rf-seed1.pt"]  # never started: trained
    assert [h["epoch"] for h in load_checkpoint(second).history] == [1, 2, 3]
    result = studies.read_study(tmp_path)
    assert result.status == "complete" and all(r["n"] == 2 for r in result.table)


def test_parallel_jobs_train_in_separate_processes(tmp_path):
    spec = studies.get("vgg_kernel")
    one_seed = replace(spec, presets={**spec.presets, "smoke": replace(spec.presets["smoke"], seeds=1,
                                                                         config={"batch_size": 20})})
    folder = studies.run_study(one_seed, "smoke", dataset="digits", out=tmp_path, jobs=2, progress=False,
                               log=lambda *a: None)
    result = studies.read_study(folder)
    assert result.status == "complete" and result.record["jobs"] == 2
    from xaicnn.training import load_checkpoint

    paths = sorted(result.runs_dir.glob("*.pt"))
    assert [p.stem for p in paths] == sorted(f"{c.label}-seed0" for c in spec.conditions)
    for path in paths:
        assert load_checkpoint(path).meta["config"]["threads"] == max(1, (os.cpu_count() or 1) // 2)
    # one run per condition: the claims are reported without a test, and the report says so
    measured = [c for c in result.claims if c["kind"] == "runs"]
    assert measured and all(c["p_value"] is None and c["verdict"] != verdicts.REFUTED for c in measured)
    assert "no variance to test against" in result.report_md.read_text()


def test_missing_dataset_is_one_sentence_before_training(tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(UserError) as err:
        studies.run_study("vgg_kernel", "smoke", data_dir=empty, out=tmp_path / "out", progress=False, log=lambda *a: None)
    message = str(err.value)
    assert "--dataset digits" in message and str(empty) in message and message.count(". ") == 0
    assert not (tmp_path / "out" / "runs").exists()
    with pytest.raises(UserError, match="--dataset digits"):
        studies.run_study("mnist_blocks", "smoke", data_dir=empty, out=tmp_path / "m", progress=False, log=lambda *a: None)


def test_a_folder_of_another_preset_is_refused(smoke):
    folder, _ = smoke("vgg_kernel")
    with pytest.raises(UserError, match="smoke preset of vgg_kernel"):
        studies.run_study("vgg_kernel", "quick", dataset="digits", out=folder, progress=False, log=lambda *a: None)


def test_plan_adapts_the_input_size_to_the_dataset():
    from xaicnn.studies.runner import plan_runs

    spec = studies.get("vgg_kernel")
    assert {r.config.image_size for r in plan_runs(spec, "quick", dataset="glyphs")} == {32}  # 100px glyphs -> 32
    assert {r.config.image_size for r in plan_runs(spec, "quick", dataset="digits")} == {None}  # already 32
    blocks = studies.get("mnist_blocks")
    assert {r.config.image_size for r in plan_runs(blocks, "quick", dataset="mnist")} == {32}  # 28 -> 32
    runs = plan_runs(spec, "quick", seeds=2, out="x")
    assert [r.name for r in runs] == ["k3-seed0", "k3-seed1", "k7-seed0", "k7-seed1", "rf-seed0", "rf-seed1"]
    assert [r.config.seed for r in runs] == [0, 1] * 3 and runs[0].config.out == str(Path("x/runs/k3-seed0.pt"))
    assert runs[2].config.arch == "vgg16_7x7" and runs[0].config.model_options == {"width": 0.25, "batch_norm": True}


def test_dataset_note_says_where_cifar_came_from(tmp_path):
    from xaicnn.studies.record import dataset_note

    (tmp_path / "cifar10" / "train").mkdir(parents=True)
    assert "JPEG re-encoding" in dataset_note("cifar10", "cifar10", tmp_path)
    (tmp_path / "cifar-10-batches-py").mkdir()
    assert "batch files" in dataset_note("cifar10", "cifar10", tmp_path)
    assert "substituted for the original cifar10" in dataset_note("digits", "cifar10", None)


def test_a_run_that_diverges_is_recorded_and_not_retried(tmp_path, monkeypatch):
    from xaicnn.training import trainer

    spec = studies.get("vgg_kernel")
    real_train, trained = trainer.train, []

    def diverge_k7(config, **kw):
        trained.append(Path(config.out).name)
        if "k7-seed0" in config.out:
            raise trainer.TrainingDiverged("Training diverged: the loss became nan at epoch 1, step 1; try a lower --lr.")
        return real_train(config, **kw)

    monkeypatch.setattr(trainer, "train", diverge_k7)
    folder = studies.run_study(spec, "smoke", dataset="digits", out=tmp_path, progress=False, log=lambda *a: None)
    result = studies.read_study(folder)
    assert result.status == "complete"
    row = next(r for r in result.runs if r["run"] == "k7-seed0")
    assert row["status"] == "diverged" and "final_acc" not in row
    assert {r["condition"]: r["n"] for r in result.table} == {"k3": 2, "k7": 1, "rf": 2}
    trained.clear()
    studies.run_study(spec, "smoke", dataset="digits", out=tmp_path, progress=False, log=lambda *a: None)
    assert trained == []  # nothing is retried: the divergence is a result


def test_publish_copies_report_and_figures_without_checkpoints(smoke, tmp_path, cli):
    folder, _ = smoke("mnist_blocks")
    docs = tmp_path / "docs" / "studies"
    md = studies.publish_study(folder, docs)
    assert md == docs / "mnist_blocks.md"
    published = studies.read_study(docs / "mnist_blocks")  # the app reads the copy like any study folder
    assert published.report_md == md and published.claims == studies.read_study(folder).claims
    assert published.figures and all(f.is_file() for f in published.figures)
    assert not list((docs / "mnist_blocks").rglob("*.pt"))
    assert "| [mnist_blocks](mnist_blocks.md) | smoke |" in (docs / "README.md").read_text()
    text = md.read_text()
    assert "](mnist_blocks/figures/" in text and "](figures/" not in text
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert links and all(link.startswith("mnist_blocks/figures/") for link in links), links
    for link in links:
        assert (docs / link).is_file(), link
    code, out, _ = cli("study", "mnist_blocks", "--report-only", "--out", folder, "--publish", tmp_path / "again")
    assert code == 0 and (tmp_path / "again" / "mnist_blocks.md").is_file()


def test_publish_never_replaces_the_study_it_copies(smoke, tmp_path, cli):
    import shutil

    folder, _ = smoke("mnist_blocks")
    study = tmp_path / "studies" / "mnist_blocks"  # the default layout: studies/NAME
    shutil.copytree(folder, study)
    runs = sorted(p.name for p in (study / "runs").glob("*.pt"))
    assert runs
    code, _, err = cli("study", "mnist_blocks", "--report-only", "--out", study, "--publish", tmp_path / "studies")
    assert code == 2 and "is a study folder with its runs" in err and "Traceback" not in err
    assert sorted(p.name for p in (study / "runs").glob("*.pt")) == runs
