"""Run discovery and the overview table (xaicnn.analysis.runs): the library half of the app's Overview."""
import statistics
from pathlib import Path

import pytest

from xaicnn.analysis.runs import RunEntry, overview_rows, scan_runs
from xaicnn.errors import UserError
from xaicnn.training import load_checkpoint


def test_scan_reads_every_run_and_matches_the_checkpoint(runs_folder):
    (runs_folder / "nested").mkdir()
    (runs_folder / "vgg_block.pt").rename(runs_folder / "nested" / "vgg_block.pt")
    entries = scan_runs(runs_folder)
    assert [e.name for e in entries] == ["nested/vgg_block", "transformer_block"]
    assert all(e.ok and not e.error for e in entries)
    entry = entries[0]
    run = load_checkpoint(entry.path)
    assert (entry.arch, entry.dataset, entry.status, entry.seed) == ("vgg_block", "digits", "complete", 0)
    assert entry.input_size == run.input_size == (1, 32, 32) and entry.data_label == "digits 1x32x32"
    assert entry.params == sum(p.numel() for p in run.model.parameters()) and entry.flops == run.meta["flops"]
    assert entry.best_val_acc == run.best("val_acc") and entry.last_val_acc == run.last("val_acc")
    assert entry.macro_f1 == run.history[-1]["f1"] and entry.epochs == 2
    # one definition everywhere: training time only (no validation), the epochs after the first
    assert entry.seconds_per_epoch == pytest.approx(statistics.fmean(h["train_seconds"] for h in run.history[1:]))
    assert entry.total_time == run.meta["wall_time"] and entry.mtime == entry.path.stat().st_mtime


def test_broken_files_are_listed_with_one_sentence_and_the_rest_still_read(runs_folder):
    good = (runs_folder / "vgg_block.pt").read_bytes()
    (runs_folder / "truncated.pt").write_bytes(good[: len(good) // 2])
    (runs_folder / "notes.pt").write_text("not a checkpoint")
    entries = {e.name: e for e in scan_runs(runs_folder)}
    assert entries["vgg_block"].ok and entries["transformer_block"].ok
    for name in ("truncated", "notes"):
        broken = entries[name]
        assert not broken.ok and broken.status == "broken" and broken.arch == ""
        assert str(runs_folder / f"{name}.pt") in broken.error
        assert broken.error.count(". ") == 0 and broken.error.endswith(".")  # one sentence
    assert len(overview_rows(list(entries.values()), group_seeds=False)) == 2  # broken files are not table rows


def test_scan_refuses_a_missing_folder(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        scan_runs(tmp_path / "nowhere")


def test_the_walk_is_bounded_in_depth_and_in_files(tmp_path, monkeypatch):
    from xaicnn.analysis import runs

    for sub in ("a", "a/b/c", "a/b/c/d", ".hidden"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        (tmp_path / sub / "x.pt").write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in runs.list_checkpoints(tmp_path)] == ["a/b/c/x.pt", "a/x.pt"]
    monkeypatch.setattr(runs, "MAX_FILES", 1)
    with pytest.raises(UserError, match=r"holds more than 1 \.pt files; pick the folder of one experiment instead\.$"):
        runs.list_checkpoints(tmp_path)


def _entry(name, seed, acc, arch="vgg_block", lr=2e-3, **kw):
    config = {"arch": arch, "dataset": "digits", "epochs": 3, "lr": lr, "seed": seed, "out": f"/x/{name}.pt",
              "device": "cpu", "threads": None}
    return RunEntry(path=Path(f"/x/{name}.pt"), name=name, ok=True, arch=arch, dataset="digits", status="complete",
                    seed=seed, params=1000, flops=5000, best_val_acc=acc, last_val_acc=acc - 0.01, macro_f1=acc - 0.02,
                    epochs=3, seconds_per_epoch=2.0 + seed, total_time=6.0 + 3 * seed, config=config, **kw)


def test_runs_differing_only_in_seed_are_grouped_with_mean_std_and_n():
    entries = [_entry("a0", 0, 0.90), _entry("a1", 1, 0.94), _entry("a2", 2, 0.92),
               _entry("lr", 0, 0.80, lr=1e-3),  # another learning rate: another condition
               _entry("tb", 0, 0.70, arch="transformer_block"),
               _entry("wide", 0, 0.95, model_options={"width": 2})]
    per_run = overview_rows(entries, group_seeds=False)
    assert [r["run"] for r in per_run] == ["a0", "a1", "a2", "lr", "tb", "wide"]
    assert per_run[1]["best_val_acc"] == 0.94 and per_run[1]["seed"] == 1
    groups = overview_rows(entries, group_seeds=True)
    assert [g["n"] for g in groups] == [3, 1, 1, 1]
    g = groups[0]
    assert g["runs"] == "a0, a1, a2" and g["seeds"] == "0, 1, 2"
    assert g["best_val_acc"] == pytest.approx(0.92) and g["best_val_acc_std"] == pytest.approx(0.02)
    assert g["seconds_per_epoch"] == pytest.approx(3.0) and g["total_time_std"] == pytest.approx(3.0)
    assert groups[1]["best_val_acc"] == 0.80 and groups[1]["best_val_acc_std"] is None
    assert groups[3]["options"] == "width=2"


def test_a_mixed_status_group_says_so():
    entries = [_entry("a0", 0, 0.9), _entry("a1", 1, 0.9)]
    entries[1].status = "diverged"
    assert overview_rows(entries)[0]["status"] == "mixed: complete, diverged"


def test_the_complexity_scatter_places_every_run_with_numbers_and_skips_the_rest():
    from xaicnn.plots import plot_complexity_scatter

    points = [{"name": "small", "params": 1_000, "flops": 2e6, "accuracy": 0.9},
              {"name": "big", "params": 100_000, "flops": 4e8, "accuracy": 0.95},
              {"name": "untrained", "params": 5_000, "flops": 1e7, "accuracy": None}]
    fig, axes = plot_complexity_scatter(points)
    for ax, key in zip(axes, ("params", "flops")):
        assert ax.get_xscale() == "log"
        xy = [tuple(c.get_offsets()[0]) for c in ax.collections]
        assert xy == [(points[0][key], 0.9), (points[1][key], 0.95)]
        assert [t.get_text() for t in ax.texts] == ["small", "big"]
