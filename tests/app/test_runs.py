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


# --- the app's fence: confine() and allowed_roots() ---


def test_confine_keeps_folders_under_the_roots_and_refuses_the_rest(tmp_path):
    from xaicnn.analysis.runs import confine

    served, studies, outside = tmp_path / "ckpt", tmp_path / "studies", tmp_path / "outside"
    for folder in (served / "demo", studies, outside, tmp_path / "ckpt-other"):
        folder.mkdir(parents=True)
    (served / "link").symlink_to(outside, target_is_directory=True)
    roots = [served, studies]
    assert confine(served, roots) == served.resolve()
    assert confine(served / "demo", roots) == (served / "demo").resolve()
    assert confine(served / "demo" / ".." / ".." / "studies", roots) == studies.resolve()
    for escape in (outside, served / ".." / "outside", served / "link", tmp_path / "ckpt-other", "/etc"):
        with pytest.raises(UserError) as err:  # '..', a symlink out, a name that merely starts like a root
            confine(escape, roots)
        assert str(err.value) == (f"{escape} is outside the folders this app serves ({served}/ and {studies}/); "
                                  f"pick a folder under them, or start the app with "
                                  f"XAICNN_CHECKPOINT_DIR={Path(escape).resolve()} to serve it.")


def test_the_served_roots_are_the_checkpoint_folder_and_the_studies_folders(monkeypatch, tmp_path):
    from xaicnn.analysis.runs import allowed_roots, roots_text

    monkeypatch.delenv("XAICNN_CHECKPOINT_DIR", raising=False)
    assert allowed_roots("studies", "docs/studies") == [Path("checkpoints"), Path("studies"), Path("docs/studies")]
    assert roots_text(allowed_roots("studies", "docs/studies")) == "checkpoints/, studies/ and docs/studies/"
    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(tmp_path))
    assert allowed_roots() == [tmp_path] and roots_text([tmp_path]) == f"{tmp_path}/"


# --- check_weights: the scan's (and load_checkpoint's) test that a file's weights fit its architecture ---


@pytest.fixture(scope="module")
def vgg_state(trained_runs):
    import torch

    return torch.load(trained_runs / "vgg_block.pt", map_location="cpu", weights_only=True)


def _variant(state, **meta):
    import copy

    edited = copy.deepcopy({"meta": state["meta"], "model": state["model"]})
    edited["meta"].update(meta)
    return edited


def test_weights_that_fit_pass_and_every_misfit_is_one_sentence(vgg_state):
    import torch

    from xaicnn.training._weights import check_weights

    check_weights(vgg_state["meta"], vgg_state["model"], "v.pt")  # the trained run fits
    first, weight = next(iter(vgg_state["model"].items()))
    shape = tuple(weight.shape)
    cases = []
    wrong = _variant(vgg_state)
    wrong["model"][first] = torch.zeros(shape[0] // 2, *shape[1:])
    expected, got = "x".join(map(str, shape)), "x".join(map(str, (shape[0] // 2, *shape[1:])))
    cases.append((wrong, f"v.pt's weights don't fit its architecture vgg_block ({first} is {got} in the file, "
                         f"{expected} in the model); retrain the run, or check that the file was not edited."))
    missing = _variant(vgg_state)
    del missing["model"][first]
    cases.append((missing, f"({first} is missing from the file)"))
    extra = _variant(vgg_state)
    extra["model"]["head.weight"] = torch.zeros(3)
    cases.append((extra, "(the file has head.weight, which the model lacks)"))
    cases.append((_variant(vgg_state, arch="no_such_arch"), "v.pt was trained with an architecture this xaicnn does "
                                                            "not have ('no_such_arch'); upgrade xaicnn"))
    cases.append((_variant(vgg_state, arch=7), "v.pt names its architecture 7, which is not a name"))
    cases.append((_variant(vgg_state, image_size=None), "v.pt is missing part of its metadata (TypeError"))
    no_meta = _variant(vgg_state)
    no_meta["meta"] = None
    cases.append((no_meta, "v.pt has no architecture in its metadata; it was not written by this xaicnn."))
    no_weights = _variant(vgg_state)
    no_weights["model"] = [1, 2]
    cases.append((no_weights, "v.pt holds no weights; it was not written by 'xaicnn train'."))
    for state, message in cases:
        with pytest.raises(UserError) as err:
            check_weights(state["meta"], state["model"], "v.pt")
        assert message in str(err.value), (message, str(err.value))
        assert str(err.value).endswith(".") and str(err.value).count(". ") == 0  # one sentence
