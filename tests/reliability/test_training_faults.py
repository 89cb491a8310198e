"""Faults around training, each a reproduction from issue 12: two writers, kills and Ctrl-C, read-only and
full disks, bad flags, exploding losses. Real signals go to real ``xaicnn train`` processes; the disks are
small tmpfs mounts (root only: skipped with the reason elsewhere)."""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from xaicnn.errors import Interrupted, UserError
from xaicnn.training import TrainConfig, load_checkpoint, read_checkpoint, resume, train

TINY = dict(arch="vgg_block", dataset="digits", batch_size=32, train_size=160, val_size=60)
# a CLI run that lasts long enough to be signalled mid-training (about 5 steps a second on a busy machine)
LONG = ["--arch", "vgg_block", "--dataset", "digits", "--train-size", "512", "--val-size", "60", "--batch-size", "32",
        "--epochs", "200", "--threads", "1"]


def quiet(*args, **kwargs):
    pass


def xaicnn(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "xaicnn", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def wait_for(predicate, timeout=120.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def leftovers(folder: Path) -> list[str]:
    """Temp and lock files: what an interrupted writer may leave (and must not, after a clean stop)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".lock")))


def same_weights(a, b) -> None:
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), name


# --- 1. two writers ---------------------------------------------------------------------------------


def test_a_second_run_on_the_same_out_is_refused_and_the_first_completes(tmp_path):
    out = tmp_path / "same.pt"
    first = xaicnn("train", *LONG, "--time-budget", 0.4, "--quiet", "--out", out)
    try:
        wait_for(lambda: out.exists(), what="the first run's first checkpoint")
        second = xaicnn("train", "--arch", "transformer_block", "--dataset", "digits", "--epochs", 2, "--out", out)
        again = xaicnn("train", "--resume", "--out", out)
        refusals = [(p, *p.communicate(timeout=120)) for p in (second, again)]
        assert first.poll() is None  # both were refused while the first was still training
    finally:
        stdout, stderr = first.communicate(timeout=300)
    for refused, _, refused_err in refusals:
        assert refused.returncode == 2, refused_err
        assert f"being written by another xaicnn process (pid {first.pid})" in refused_err
        assert "Traceback" not in refused_err and len(refused_err.strip().splitlines()) == 1
    assert first.returncode == 0, stderr
    meta = read_checkpoint(out)["meta"]
    assert meta["arch"] == "vgg_block" and meta["status"] == "stopped_at_budget"
    assert leftovers(tmp_path) == []


# --- 2. kills, Ctrl-C, SIGTERM ------------------------------------------------------------------------


def test_temps_left_by_a_sigkill_are_removed_by_the_next_writer(tmp_path):
    out = tmp_path / "run.pt"
    run = xaicnn("train", *LONG, "--save-every", 0.001, "--quiet", "--out", out)  # writes a checkpoint every step
    wait_for(lambda: out.exists(), what="a checkpoint")
    time.sleep(1.0)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    (tmp_path / f".run.pt.{run.pid}.abcdefgh.tmp").write_bytes(b"x" * 1000)  # as a kill mid-write leaves
    (tmp_path / ".run.pt.k2j4h5g6.tmp").write_bytes(b"x")  # the name temp files had before the pid was added
    resume(out, epochs=read_checkpoint(out)["meta"]["epochs_done"] + 1, progress=False, log=quiet)
    assert load_checkpoint(out).status == "complete"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_the_run_where_it_is_and_says_so(tmp_path, signum, code):
    out = tmp_path / "run.pt"
    run = xaicnn("train", *LONG, "--out", out)
    wait_for(lambda: out.exists(), what="the first checkpoint")
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == code, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("xaicnn train: interrupted: saved the run at ") and "Traceback" not in stderr
    assert f"continue with 'xaicnn train --resume --out {out}'." in last
    state = read_checkpoint(out)
    assert state["meta"]["status"] == "running" and leftovers(tmp_path) == []
    done = state["meta"]["epochs_done"]
    resume(out, epochs=done + 1, progress=False, log=quiet)
    assert load_checkpoint(out).meta["epochs_done"] == done + 1


def test_ctrl_c_before_the_first_step_says_nothing_was_saved(tmp_path):
    out = tmp_path / "run.pt"
    run = xaicnn("train", *LONG, "--out", out)
    wait_for(lambda: (tmp_path / ".run.pt.lock").exists(), what="the run to start")  # locked, still loading
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    if out.exists():
        pytest.skip("the machine was fast enough to reach the first checkpoint before the signal")
    # 130, or killed by SIGINT (-2): when the interrupt lands inside code that C extensions run while being
    # imported, CPython remembers it and, after main() returned 130, ends the process with SIGINT itself (as
    # for an unhandled Ctrl-C). A shell reports both as 130.
    assert run.returncode in (130, -signal.SIGINT) and "nothing was saved" in stderr.strip().splitlines()[-1], stderr
    assert leftovers(tmp_path) == []


class _SignalAtStep:
    """Wraps the trainer's cross_entropy to deliver real signals (to this process) at chosen training steps."""

    def __init__(self, monkeypatch, steps_per_epoch: int, at: dict[int, int]):
        from xaicnn.training import trainer

        self.real, self.calls, self.at = trainer.F.cross_entropy, 0, at
        self.per_epoch = steps_per_epoch + 1  # each epoch's validation calls it once too
        monkeypatch.setattr(trainer.F, "cross_entropy", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls in self.at:
            signal.raise_signal(self.at[self.calls])
        return self.real(*args, **kwargs)


def test_ctrl_c_mid_epoch_saves_that_step_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    kw = dict(**TINY, epochs=3, augment="strong", schedule="onecycle")
    straight = load_checkpoint(train(TrainConfig(**kw, out=str(tmp_path / "straight.pt")), progress=False, log=quiet))
    config = TrainConfig(**kw, out=str(tmp_path / "resumed.pt"))
    _SignalAtStep(monkeypatch, 5, {6 + 3: signal.SIGINT})  # epoch 2's third step
    with pytest.raises(Interrupted, match=r"saved the run at epoch 2, step 3 of 5 in .*resumed.pt; continue with") as err:
        train(config, progress=False, log=quiet)
    assert err.value.exit_code == 130
    state = read_checkpoint(tmp_path / "resumed.pt")
    assert state["position"]["step"] == 3 and state["meta"]["epochs_done"] == 1 and len(state["history"]) == 1
    monkeypatch.undo()
    resume(tmp_path / "resumed.pt", progress=False, log=quiet)
    resumed = load_checkpoint(tmp_path / "resumed.pt")
    assert resumed.status == "complete" and len(resumed.history) == 3
    same_weights(straight, resumed)
    assert straight.gradient_flow == resumed.gradient_flow
    assert [h["val_acc"] for h in straight.history] == [h["val_acc"] for h in resumed.history]
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in resumed.history]


def test_a_second_signal_stops_at_once_and_keeps_the_periodic_checkpoint(tmp_path, monkeypatch):
    kw = dict(**TINY, epochs=2)
    straight = load_checkpoint(train(TrainConfig(**kw, out=str(tmp_path / "straight.pt")), progress=False, log=quiet))
    # every step checkpoints (save_every ~ 0); SIGTERM then Ctrl-C within epoch 1's fourth step
    config = TrainConfig(**kw, save_every=1e-9, out=str(tmp_path / "resumed.pt"))
    _SignalAtStep(monkeypatch, 5, {4: signal.SIGTERM})
    from xaicnn.training import trainer

    real_step = trainer._Training._step

    def step_then_second_signal(self, perm, step, totals):
        result = real_step(self, perm, step, totals)
        if self.stop.requested:  # the first signal arrived in this step: the second comes before it is saved
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(trainer._Training, "_step", step_then_second_signal)
    with pytest.raises(Interrupted, match=r"stopped at once, mid-step; the last checkpoint \(epoch 1, step 3 of 5\) is "
                                          r"kept in") as err:
        train(config, progress=False, log=quiet)
    assert err.value.exit_code == 130
    monkeypatch.undo()
    resume(tmp_path / "resumed.pt", progress=False, log=quiet)
    same_weights(straight, load_checkpoint(tmp_path / "resumed.pt"))


# --- 3. read-only and full disks -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """``mount(name, size_bytes, read_only=False)`` -> a fresh tmpfs folder (unmounted after the test)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small or read-only tmpfs needs root")
    mounted = []

    def mount(name: str, size: int, read_only: bool = False) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    def read_only(folder: Path) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)

    mount.read_only = read_only
    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_read_only_disk_is_one_sentence_before_any_work(tmp_path, small_disk, cli):
    disk = small_disk("ro", 8 << 20)
    good = train(TrainConfig(**TINY, epochs=1, out=str(disk / "run.pt")), progress=False, log=quiet)
    small_disk.read_only(disk)
    code, out, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--out", disk / "new.pt")
    assert code == 2 and "training vgg_block" not in out  # refused before the run started, not after an epoch
    assert err.strip() == (f"xaicnn train: error: Cannot write to {disk} (the checkpoint's folder): its file system is "
                           f"read-only; choose an output on a writable disk.")
    code, _, err = cli("evaluate", "--ckpt", good)  # its default output folder is beside the checkpoint
    assert code == 2 and "Cannot write to" in err and "read-only" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("train", "--resume", "--out", good, "--epochs", "2")
    assert code == 2 and "read-only" in err


def test_a_full_disk_keeps_the_previous_checkpoint_and_leaves_no_temp(tmp_path, small_disk, cli):
    size = train(TrainConfig(**TINY, epochs=1, out=str(tmp_path / "probe.pt")), progress=False, log=quiet).stat().st_size
    tiny = small_disk("tiny", 64 << 10)
    code, _, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--out", tiny / "run.pt")
    assert code == 2 and "is free on the disk of" in err and "a checkpoint of this run needs about" in err
    # room for one checkpoint and the check's estimate, not for a second one beside it while it is replaced
    disk = small_disk("full", int(size * 1.7))
    code, _, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--train-size", 160, "--val-size", 60,
                       "--batch-size", 32, "--epochs", 3, "--quiet", "--out", disk / "run.pt")
    assert code == 2, err
    assert err.strip() == (f"xaicnn train: error: Could not write {disk / 'run.pt'}: the disk is full; free some space "
                           f"or write to another disk.")
    state = read_checkpoint(disk / "run.pt")  # epoch 1's checkpoint, intact
    assert state["meta"]["epochs_done"] == 1 and state["meta"]["status"] == "running"
    assert leftovers(disk) == []


# --- 4. bad flags and paths --------------------------------------------------------------------------


@pytest.mark.parametrize("flags, message", [
    (["--threads", "-2"], "--threads must be at least 1; got -2."),
    (["--threads", "0"], "--threads must be at least 1; got 0."),
    (["--grad-flow-every", "-5"], "--grad-flow-every must be 0 (off) or a positive number of steps; got -5."),
    (["--save-every", "0"], "--save-every must be a positive number of minutes; got 0.0."),
    (["--time-budget", "inf"], "--time-budget must be a positive number of minutes; got inf."),
    (["--weight-decay", "inf"], "--weight-decay must be 0 or a positive number; got inf."),
    (["--lr", "nan"], "--lr must be a positive number; got nan."),
])
def test_every_numeric_flag_is_checked(tmp_path, cli, flags, message):
    code, _, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--out", tmp_path / "r.pt", *flags)
    assert (code, err.strip()) == (2, f"xaicnn train: error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_out_paths_of_the_wrong_kind_are_one_sentence(tmp_path, cli):
    (tmp_path / "folder").mkdir()
    code, _, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--out", tmp_path / "folder")
    assert code == 2 and f"--out {tmp_path / 'folder'} is a folder; pass a checkpoint file path such as" in err
    run = train(TrainConfig(**TINY, epochs=1, out=str(tmp_path / "v.pt")), progress=False, log=quiet)
    code, _, err = cli("evaluate", "--ckpt", run, "--out", run)
    assert code == 2 and err.strip() == f"xaicnn evaluate: error: {run} (--out) is a file, not a folder; pass a folder path."
    assert read_checkpoint(run)["meta"]["status"] == "complete"  # untouched


# --- 5. divergence -------------------------------------------------------------------------------------


def test_an_exploding_loss_marks_the_run_diverged(tmp_path, cli):
    out = tmp_path / "hot.pt"
    code, _, err = cli("train", "--arch", "vgg_block", "--dataset", "digits", "--train-size", 160, "--val-size", 60,
                       "--epochs", 2, "--lr", "1e6", "--quiet", "--out", out)
    assert code == 1 and "Traceback" not in err
    assert err.strip().startswith("xaicnn train: error: Training diverged: the loss became ") and "try a lower --lr" in err
    meta = read_checkpoint(out)["meta"]
    assert meta["status"] == "diverged" and "the loss became" in meta["status_detail"]
    code, out_text, _ = cli("inspect", "--ckpt", out)
    assert code == 0 and "status: diverged - the loss became" in out_text
    with pytest.raises(UserError, match="diverged"):
        resume(out, progress=False, log=quiet)


def test_a_loss_far_above_chance_at_an_epoch_end_marks_the_run_diverged(tmp_path, monkeypatch):
    from xaicnn.training import trainer

    real = trainer.F.cross_entropy  # scaled by 100: large and finite throughout, never 1000x its first value
    monkeypatch.setattr(trainer.F, "cross_entropy", lambda *a, **k: real(*a, **k) * 100)
    with pytest.raises(trainer.TrainingDiverged, match=r"epoch 1's mean training loss was .*, over 10x the chance level "
                                                       r"ln 10 = 2.30; the run is saved at .*hot.pt, marked diverged"):
        train(TrainConfig(**TINY, epochs=2, out=str(tmp_path / "hot.pt")), progress=False, log=quiet)
    meta = read_checkpoint(tmp_path / "hot.pt")["meta"]
    assert meta["status"] == "diverged" and meta["epochs_done"] == 1


def test_numeric_flags_of_the_other_commands_are_checked(tmp_path, cli):
    run = train(TrainConfig(**TINY, epochs=1, out=str(tmp_path / "r.pt")), progress=False, log=quiet)
    cases = [
        (("summary", "--arch", "vgg_block", "--input-size", "1x32x32", "--num-classes", 0), "--num-classes must be at least 2; got 0."),
        (("evaluate", "--ckpt", run, "--val-size", 0), "--val-size must be at least 1; got 0."),
        (("attribute", "--ckpt", run, "--n", -3), "The number of images must be at least 1; got -3."),
        (("attribute", "--ckpt", run, "--steps", 0), "--steps must be at least 1; got 0."),
        (("attribute", "--ckpt", run, "--top-k", "nan"), "The top-k fraction must be above 0 and at most 1"),
        (("study", "vgg_kernel", "--seeds", 0, "--out", tmp_path / "s"), "--seeds must be at least 1; got 0."),
        (("study", "vgg_kernel", "--jobs", 0, "--out", tmp_path / "s"), "--jobs must be at least 1; got 0."),
    ]
    for argv, message in cases:
        code, _, err = cli(*argv)
        assert code == 2 and err.startswith(f"xaicnn {argv[0]}: error: {message}"), (argv, err)
        assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pt"]  # nothing written by a refused command
