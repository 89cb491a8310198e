import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xaicnn.errors import Interrupted, UserError
from xaicnn.training import TrainConfig, load_checkpoint, read_checkpoint, resume, train
from xaicnn.training.trainer import TrainingDiverged

TINY = dict(arch="vgg_block", dataset="digits", epochs=2, batch_size=32, train_size=160, val_size=60)


def quiet(*args, **kwargs):
    pass


def run_tiny(tmp_path, name="run.pt", **kw):
    config = TrainConfig(**{**TINY, **kw}, out=str(tmp_path / name))
    return train(config, progress=False, log=quiet)


def test_checkpoint_holds_the_whole_run(tmp_path):
    path = run_tiny(tmp_path, augment="strong")
    state = torch.load(path, weights_only=True)  # plain tensors and values only
    run = load_checkpoint(path)
    assert run.status == "complete" and not run.model.training
    m = run.meta
    assert (m["arch"], m["dataset"], m["in_channels"], m["num_classes"], m["image_size"]) == ("vgg_block", "digits", 1, 10, [32, 32])
    assert m["params"] == sum(p.numel() for p in run.model.parameters()) and m["flops"] > 0
    assert m["config"]["epochs"] == 2 and m["seed"] == 0 and m["versions"]["torch"] and m["wall_time"] > 0
    assert len(m["mean"]) == 1 and m["classes"] == [str(i) for i in range(10)]
    assert [h["epoch"] for h in run.history] == [1, 2]
    for h in run.history:
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "precision", "recall", "f1", "seconds", "images_per_s", "lr"):
            assert math.isfinite(h[key])
    names = [n for n, _ in run.model.named_parameters()]
    assert list(run.gradient_flow) == names
    for stats in run.gradient_flow.values():
        assert len(stats["norm"]) == 2 and all(v > 0 for v in stats["norm"])
        assert all(mx >= ma for mx, ma in zip(stats["max_abs"], stats["mean_abs"]))
    assert {"model", "optimizer", "rng", "history"} <= set(state)


def test_validation_metrics_match_the_saved_model(tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    run = load_checkpoint(run_tiny(tmp_path))
    val = run.val_data()
    assert len(val) == 60
    with torch.no_grad():
        preds = run.model(run.normalize(val.images)).argmax(1)
    assert accuracy_score(val.labels, preds) == pytest.approx(run.history[-1]["val_acc"], abs=1e-6)
    assert f1_score(val.labels, preds, average="macro") == pytest.approx(run.history[-1]["f1"], abs=1e-6)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    kw = dict(epochs=3, augment="strong", train_size=128, schedule="onecycle")
    straight = load_checkpoint(run_tiny(tmp_path, "straight.pt", **kw))

    def interrupt(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    config = TrainConfig(**{**TINY, **kw}, out=str(tmp_path / "resumed.pt"))
    with pytest.raises(Interrupted, match="the last checkpoint \\(the end of epoch 1\\) is kept"):
        train(config, progress=False, log=quiet, on_epoch_end=interrupt)
    half = read_checkpoint(tmp_path / "resumed.pt")["meta"]
    assert (half["status"], half["epochs_done"]) == ("running", 1)
    with pytest.raises(UserError, match="--resume"):
        train(config, progress=False, log=quiet)
    resume(tmp_path / "resumed.pt", progress=False, log=quiet)
    resumed = load_checkpoint(tmp_path / "resumed.pt")
    assert resumed.status == "complete" and len(resumed.history) == 3
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert straight.gradient_flow == resumed.gradient_flow
    assert [h["val_acc"] for h in straight.history] == [h["val_acc"] for h in resumed.history]


def test_finished_run_is_not_overwritten_silently(tmp_path):
    path = run_tiny(tmp_path, epochs=1)
    with pytest.raises(UserError, match="--out .*--overwrite"):
        run_tiny(tmp_path, epochs=1)
    with pytest.raises(UserError, match="already complete"):
        resume(path, progress=False, log=quiet)
    resume(path, epochs=2, progress=False, log=quiet)  # more epochs extend a finished run
    assert len(load_checkpoint(path).history) == 2


@pytest.mark.parametrize("epochs,train_size", [(1, 32), (2, 64), (1, 96), (3, 32)])
def test_onecycle_schedule_with_very_few_steps(tmp_path, epochs, train_size):
    # 1, 4, 3 and 3 optimiser steps in all: the one-cycle phases must never be empty
    run = load_checkpoint(run_tiny(tmp_path, epochs=epochs, train_size=train_size, schedule="onecycle"))
    assert run.status == "complete" and len(run.history) == epochs


def test_max_params_refuses_before_any_work(tmp_path):
    with pytest.raises(UserError, match="150,378 parameters, over the --max-params budget of 1,000"):
        run_tiny(tmp_path, max_params=1000)
    assert not (tmp_path / "run.pt").exists()


def test_time_budget_stops_cleanly_and_keeps_the_checkpoint(tmp_path):
    path = run_tiny(tmp_path, epochs=50, time_budget=0.5 / 60)  # half a second
    run = load_checkpoint(path)
    assert run.status == "stopped_at_budget" and "time budget" in run.meta["status_detail"]
    assert len(run.history) < 50 and run.history[-1].get("partial")
    assert run.meta["wall_time"] < 10


def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_good(tmp_path, monkeypatch):
    from xaicnn.training import trainer

    real = trainer.F.cross_entropy
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 + 1 + 3 else loss  # 5 steps + 1 validation per epoch

    monkeypatch.setattr(trainer.F, "cross_entropy", poisoned)
    with pytest.raises(TrainingDiverged, match="epoch 2, step 3.*last good checkpoint \\(the end of epoch 1\\)"):
        run_tiny(tmp_path, epochs=3)
    state = read_checkpoint(tmp_path / "run.pt")
    assert state["meta"]["status"] == "diverged" and state["meta"]["epochs_done"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_gradient_flow_recorder_matches_a_hand_computation():
    from xaicnn.training import GradientFlowRecorder

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    rec = GradientFlowRecorder(model)
    grads = []
    for _ in range(3):
        model.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        rec.update()
        grads.append([p.grad.clone() for p in model.parameters()])
    rec.end_epoch()
    flow = rec.to_dict()
    for i, name in enumerate(n for n, _ in model.named_parameters()):
        g = [step[i] for step in grads]
        assert flow[name]["norm"][0] == pytest.approx(sum(x.norm().item() for x in g) / 3, rel=1e-5)
        assert flow[name]["mean_abs"][0] == pytest.approx(sum(x.abs().mean().item() for x in g) / 3, rel=1e-5)
        assert flow[name]["max_abs"][0] == pytest.approx(sum(x.abs().max().item() for x in g) / 3, rel=1e-5)


# --- bad checkpoints: one sentence, exit 2, no code run --------------------------------------------


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['XAICNN_EVIL_MARKER']}",))


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    files = {}
    files["truncated"] = tmp_path / "truncated.pt"
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["text"] = tmp_path / "notes.pt"
    files["text"].write_text("hello")
    files["foreign"] = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, files["foreign"])
    files["pickle_with_code"] = tmp_path / "evil.pt"
    torch.save({"format": "xaicnn.checkpoint", "payload": _Evil()}, files["pickle_with_code"])
    files["junk"] = tmp_path / "junk.pt"
    files["junk"].write_bytes(bytes(range(256)) * 8)
    files["raw_pickle"] = tmp_path / "evil.pkl"
    files["raw_pickle"].write_bytes(pickle.dumps(_Evil()))
    state = read_checkpoint(good)
    state["meta"]["arch"] = "sppf_block"  # weights of vgg_block under another architecture's name
    files["wrong_arch"] = tmp_path / "wrong.pt"
    torch.save(state, files["wrong_arch"])
    return files


@pytest.mark.parametrize("case,needle", [
    ("missing", "No checkpoint at"), ("truncated", "truncated or corrupt"), ("text", "truncated or corrupt"),
    ("junk", "not a readable"), ("foreign", "not an xaicnn checkpoint"), ("pickle_with_code", "would run code"), ("raw_pickle", "not a readable"),
    ("wrong_arch", "don't fit its architecture sppf_block"),
])
def test_bad_checkpoints_one_sentence_and_no_code_runs(tmp_path, cli, monkeypatch, case, needle):
    marker = tmp_path / "code-ran"
    monkeypatch.setenv("XAICNN_EVIL_MARKER", str(marker))
    good = run_tiny(tmp_path, "good.pt", epochs=1)
    path = tmp_path / "absent.pt" if case == "missing" else _bad_files(tmp_path, good)[case]
    with pytest.raises(UserError, match=needle):
        load_checkpoint(path)
    code, out, err = cli("inspect", "--ckpt", path)
    assert code == 2 and needle.split(" ")[0] in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists(), "loading a checkpoint ran code"


# --- the CLI ------------------------------------------------------------------------------------------


def test_cli_train_then_inspect_json_contract(tmp_path, cli, monkeypatch):
    import json

    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(tmp_path))
    code, out, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--epochs", "1", "--train-size", "100",
                         "--val-size", "50", "--quiet")
    assert code == 0, err
    assert (tmp_path / "vgg_block.pt").is_file()
    code, out, _ = cli("inspect", "--ckpt", "vgg_block.pt", "--json")  # bare name: looked up in the checkpoint dir
    doc = json.loads(out)
    assert {"arch", "dataset", "status", "params", "flops", "epochs", "seed", "history", "gradient_flow"} <= set(doc)
    assert set(doc["history"][0]) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "precision", "recall",
                                      "f1", "seconds", "images_per_s", "lr"}
    first = next(iter(doc["gradient_flow"].values()))
    assert set(first) == {"norm", "mean_abs", "max_abs"} and len(first["norm"]) == 1
    code, out, _ = cli("inspect", "--ckpt", "vgg_block.pt")
    assert "gradient flow" in out and "val acc" in out
    code, _, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--epochs", "1", "--quiet")
    assert code == 2 and "--overwrite" in err


@pytest.mark.parametrize("argv,needle", [
    (["train", "--arch", "vgg_block", "--dataset", "cifar100"], "Unknown dataset"),
    (["train", "--arch", "vgg_blok"], "did you mean vgg_block"),
    (["train", "--dataset", "digits"], "--arch is required"),
    (["train", "--arch", "vgg_block", "--epochs", "0"], "--epochs must be at least 1"),
    (["train", "--arch", "lenet5", "--dataset", "mnist", "--data-dir", "."], "MNIST not found"),
    (["train", "--arch", "vgg16", "--dataset", "digits", "--image-size", "16"], "at least 32x32"),
    (["train", "--resume"], "--resume needs"),
    (["train", "--arch", "vgg_block", "--dataset", "digits", "--threads", "-2"], "--threads must be at least 1"),
    (["train", "--arch", "vgg_block", "--dataset", "digits", "--threads", "0"], "--threads must be at least 1"),
    (["train", "--arch", "vgg_block", "--dataset", "digits", "--grad-flow-every", "-5"], "--grad-flow-every must be 0"),
    (["train", "--arch", "vgg_block", "--dataset", "digits", "--val-subset", "0"], "--val-subset must be a positive"),
])
def test_cli_train_bad_input(cli, tmp_path, monkeypatch, argv, needle):
    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(tmp_path))
    code, _, err = cli(*argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "ddp.pt"
    result = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "xaicnn", "train",
                             "--arch", "vgg_block", "--dataset", "digits", "--epochs", "2", "--batch-size", "32",
                             "--train-size", "128", "--val-size", "40", "--augment", "basic", "--out", str(out), "--quiet"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run = load_checkpoint(out)
    assert run.status == "complete" and run.meta["world_size"] == 2 and len(run.history) == 2
    assert run.gradient_flow and all(len(v["norm"]) == 2 for v in run.gradient_flow.values())


ALLOCATOR_PROBE = """
import torch
from xaicnn.training.allocator import keep_freed_memory_for_reuse, mmapped_bytes
tuned = keep_freed_memory_for_reuse()
mapped = mmapped_bytes()
buffer = torch.ones(24 << 18)  # 24 MiB of float32: an activation-sized buffer
print(tuned, mmapped_bytes() - mapped)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the allocator setting is glibc's")
@pytest.mark.parametrize("opt_out", ["", "off"])
def test_allocator_setting_keeps_activation_buffers_in_the_heap_unless_opted_out(opt_out):
    """With the trainer's setting an activation-sized buffer comes from the heap (reused by the next step)
    instead of a fresh mmap; XAICNN_MALLOC_TUNING=off leaves glibc's default. (How many page faults this
    saves per step is measured, not asserted, by bench/allocator_faults.py.)"""
    env = {**os.environ, "XAICNN_MALLOC_TUNING": opt_out}
    result = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    tuned, mapped = result.stdout.split()[-2:]
    if opt_out:
        assert tuned == "False" and int(mapped) >= 24 << 20  # glibc's default: the buffer gets its own mmap
    else:
        assert tuned == "True" and int(mapped) == 0


def test_checkpoint_names_resolve_under_the_checkpoint_folder(tmp_path, monkeypatch):
    from xaicnn.errors import UserError
    from xaicnn.training.checkpoint import resolve_checkpoint

    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.chdir(tmp_path)
    demo = tmp_path / "checkpoints" / "demo"
    demo.mkdir(parents=True)
    for name in ("vgg_block.pt", "transformer_block.pt"):
        (demo / name).write_bytes(b"x")
    (tmp_path / "checkpoints" / "other").mkdir()
    (tmp_path / "checkpoints" / "other" / "transformer_block.pt").write_bytes(b"x")
    assert resolve_checkpoint("vgg_block.pt") == demo / "vgg_block.pt"  # one match in a sub-folder: used
    assert resolve_checkpoint("vgg_block") == demo / "vgg_block.pt"  # the suffix may be left out
    assert resolve_checkpoint("demo/transformer_block.pt") == demo / "transformer_block.pt"  # relative to the folder
    with pytest.raises(UserError) as err:  # two matches: both listed, nothing guessed
        resolve_checkpoint("transformer_block.pt")
    assert "matches 2 checkpoints" in str(err.value) and "other/transformer_block.pt" in str(err.value)
    with pytest.raises(UserError, match="also looked in .* and its sub-folders"):
        resolve_checkpoint("lenet5.pt")
    (tmp_path / "checkpoints" / "vgg_block.pt").write_bytes(b"x")
    assert resolve_checkpoint("vgg_block.pt") == tmp_path / "checkpoints" / "vgg_block.pt"  # the folder itself first


def test_one_run_summary_behind_inspect_the_app_and_the_studies(tmp_path):
    from xaicnn.training.run_summary import summarize_run
    from xaicnn.analysis.runs import scan_runs
    from xaicnn.studies.results import METRICS
    from xaicnn.training import train
    from xaicnn.training.checkpoint import read_checkpoint
    from xaicnn.training.config import TrainConfig
    from xaicnn.training.inspect import describe

    out = tmp_path / "r.pt"
    train(TrainConfig(arch="vgg_block", dataset="digits", epochs=3, train_size=60, val_size=30, out=str(out)),
          progress=False, log=lambda *a, **k: None)
    state = read_checkpoint(out)
    s = summarize_run(state)
    history = state["history"]
    assert s.seconds_per_epoch == pytest.approx(sum(h["train_seconds"] for h in history[1:]) / 2)  # after the first
    assert all(h["train_seconds"] < h["seconds"] for h in history)  # validation is not in it
    assert s.last_gain == pytest.approx(history[-1]["val_acc"] - max(h["val_acc"] for h in history[:-1]))
    assert set(s.gradient) == {"first", "middle", "last"}
    # the same numbers everywhere
    assert scan_runs(tmp_path)[0].seconds_per_epoch == s.seconds_per_epoch
    assert describe(out)["summary"]["seconds_per_epoch"] == s.seconds_per_epoch
    assert METRICS["sec_per_epoch"].fn(state) == s.seconds_per_epoch


# --- validation subsets, fast evaluation and per-architecture recipes (issue #16) ----------------------------------


def test_val_subset_each_epoch_and_the_whole_split_at_the_end(tmp_path):
    from sklearn.metrics import accuracy_score

    run = load_checkpoint(run_tiny(tmp_path, epochs=3, val_subset=20))
    assert [h["val_images"] for h in run.history] == [20, 20, 60]
    val = run.val_data()
    with torch.no_grad():
        preds = run.model(run.normalize(val.images)).argmax(1)
    assert accuracy_score(val.labels, preds) == pytest.approx(run.history[-1]["val_acc"], abs=1e-6)
    # without --val-subset every epoch evaluates the whole split
    assert [h["val_images"] for h in load_checkpoint(run_tiny(tmp_path, name="all.pt")).history] == [60, 60]


def test_predict_folds_batch_norm_and_restores_the_mode():
    from xaicnn import models
    from xaicnn.training.evaluation import FUSE_FROM, inference_copy, predict

    torch.manual_seed(0)
    model = models.create("bottleneck_alpha", in_channels=1, num_classes=52, image_size=(40, 40))
    with torch.no_grad():  # running statistics away from 0/1, so folding them into the convolutions matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    images = torch.randint(0, 256, (FUSE_FROM, 1, 40, 40), dtype=torch.uint8)
    normalize = lambda x: x.float() / 255  # noqa: E731
    model.train()
    fused = predict(model, images, normalize)  # FUSE_FROM images: batch norm folded into the convolutions
    assert model.training
    model.eval()
    with torch.no_grad():
        plain = model(normalize(images))
    assert torch.allclose(fused, plain, atol=1e-4)
    folded = inference_copy(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the model itself is left alone


def test_the_archs_recipe_reaches_the_trainer_and_flags_override_it(cli, monkeypatch, tmp_path):
    import xaicnn.training
    from xaicnn.training.recipes import RECIPES, recipe_for

    seen = []
    monkeypatch.setattr(xaicnn.training, "train", lambda config, **kw: seen.append(config))
    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(tmp_path))
    recipe = recipe_for("bottleneck_alpha")
    assert "bottleneck_alpha" in RECIPES and recipe
    code, out, err = cli("train", "--arch", "bottleneck_alpha")
    assert code == 0, err
    assert {k: getattr(seen[-1], k) for k in recipe} == recipe and "recipe for bottleneck_alpha" in out
    code, _, err = cli("train", "--arch", "bottleneck_alpha", "--epochs", "2", "--lr", "0.01")
    assert code == 0, err
    assert (seen[-1].epochs, seen[-1].lr) == (2, 0.01)
    assert {k: getattr(seen[-1], k) for k in recipe if k not in ("epochs", "lr")} == \
        {k: v for k, v in recipe.items() if k not in ("epochs", "lr")}
    code, _, err = cli("train", "--arch", "vgg_block")  # no recipe: TrainConfig's defaults
    assert code == 0 and seen[-1] == TrainConfig(arch="vgg_block")


def test_alpha_bottleneck_full_preset_keeps_the_reports_settings_not_the_recipe(tmp_path):
    from xaicnn.studies import get
    from xaicnn.studies.runner import plan_runs

    for run in plan_runs(get("alpha_bottleneck"), "full", out=tmp_path):
        c = run.config
        assert (c.epochs, c.batch_size, c.lr, c.optimizer, c.schedule, c.time_budget) == (12, 50, 1e-4, "adam", "none", 15.0)
        assert (c.label_smoothing, c.val_subset, c.augment) == (0.0, None, "none")
