"""The training loop: data as tensors in memory, batched augmentation, checkpoints at every epoch's end
and every ``save_every`` minutes inside long epochs.

``train(config)`` runs a new run; ``resume(path)`` continues an unfinished one from its checkpoint - from
the epoch's end or from inside an epoch - and ends with the same weights as an uninterrupted run (on the
CPU). A run holds its output's lock (:class:`xaicnn._io.OutputLock`) for its whole life, so a second
writer is refused. Ctrl-C or SIGTERM finishes the current step, saves exactly there and stops
(:mod:`.interrupt`). A loss that turns non-finite or explodes marks the run ``diverged``.

Under ``torchrun --nproc-per-node N -m xaicnn train ...`` the same loop runs as DistributedDataParallel
(gloo on the CPU, nccl on GPUs); every process draws the same shuffling and augmentation for the global
batch and takes its slice, and only rank 0 evaluates, prints, locks and writes.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import data as datasets
from .. import models
from .._io import OutputLock, check_room, check_writable
from ..errors import Interrupted, Terminated, UserError
from .allocator import keep_freed_memory_for_reuse
from .checkpoint import (STATUS_BUDGET, STATUS_COMPLETE, STATUS_DIVERGED, STATUS_RUNNING, checkpoint_dir,
                         read_checkpoint, save_checkpoint)
from .config import TrainConfig
from .device import Distributed, use_bf16
from .evaluation import classification_scores, predict
from .gradient_flow import GradientFlowRecorder
from .interrupt import GracefulStop

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine", "onecycle")
EXPLODED = 1000  # a step's loss this many times the run's first one: diverged (cross-entropy starts near ln K)
FAR_ABOVE_CHANCE = 10  # an epoch's mean training loss this many times ln K: diverged (chance level is ln K)


class TrainingDiverged(UserError):
    exit_code = 1


def validate(config: TrainConfig) -> None:
    checks = [
        (config.epochs >= 1, f"--epochs must be at least 1; got {config.epochs}."),
        (config.batch_size >= 2, f"--batch-size must be at least 2; got {config.batch_size}."),
        (config.lr > 0 and math.isfinite(config.lr), f"--lr must be a positive number; got {config.lr}."),
        (config.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}; got {config.optimizer!r}."),
        (config.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}; got {config.schedule!r}."),
        (config.time_budget is None or 0 < config.time_budget < math.inf,
         f"--time-budget must be a positive number of minutes; got {config.time_budget}."),
        (0 < config.save_every < math.inf, f"--save-every must be a positive number of minutes; got {config.save_every}."),
        (config.train_size is None or config.train_size >= 2, f"--train-size must be at least 2; got {config.train_size}."),
        (config.val_size is None or config.val_size >= 1, f"--val-size must be at least 1; got {config.val_size}."),
        (config.val_subset is None or config.val_subset >= 1,
         f"--val-subset must be a positive number of images; got {config.val_subset}."),
        (config.image_size is None or config.image_size >= 1, f"--image-size must be positive; got {config.image_size}."),
        (config.threads is None or config.threads >= 1, f"--threads must be at least 1; got {config.threads}."),
        (config.grad_flow_every >= 0, f"--grad-flow-every must be 0 (off) or a positive number of steps; got "
                                      f"{config.grad_flow_every}."),
        (0 <= config.weight_decay < math.inf, f"--weight-decay must be 0 or a positive number; got {config.weight_decay}."),
        (0 <= config.label_smoothing < 1, f"--label-smoothing must be in [0, 1); got {config.label_smoothing}."),
        (config.max_params is None or config.max_params >= 1, f"--max-params must be positive; got {config.max_params}."),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


def default_out(arch: str) -> Path:
    return checkpoint_dir() / f"{arch}.pt"


def _versions() -> dict:
    import torchvision

    from .. import __version__

    return {"xaicnn": __version__, "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "python": platform.python_version()}


def _output(out: Path) -> contextlib.AbstractContextManager:
    """Prove ``out``'s folder writable and take its lock (rank 0 only: the other ranks never write)."""
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; pass a checkpoint file path such as {out / 'run.pt'}.")
    if int(os.environ.get("RANK", "0")) != 0:
        return contextlib.nullcontext()
    check_writable(out.parent, what="the checkpoint's folder")
    return OutputLock(out)


# ----------------------------------------------------------------------------------------------------
# the run


def train(config: TrainConfig, *, overwrite: bool = False, progress: bool = True, log: Callable = print,
          on_epoch_end: Callable[[int], None] | None = None) -> Path:
    """Train a new run as configured; returns the checkpoint path.

    Refuses (one sentence) to overwrite a finished run unless ``overwrite``, to start over an unfinished
    one (use :func:`resume`), and to write where another process is writing. ``on_epoch_end(epoch)`` is
    called after each epoch's checkpoint.
    """
    validate(config)
    out = Path(config.out) if config.out else default_out(config.arch)
    with _output(out):
        if out.exists() and not overwrite:
            meta = read_checkpoint(out)["meta"]
            if meta.get("status") == STATUS_RUNNING:
                raise UserError(f"{out} holds an unfinished run (epoch {meta.get('epochs_done', 0)} of "
                                f"{meta['config']['epochs']}); pass --resume to continue it, or --overwrite to start again.")
            raise UserError(f"{out} already holds a finished run ({meta.get('status')}); pass --out to write elsewhere "
                            f"or --overwrite to replace it.")
        return _Training(replace(config, out=str(out)), None, progress, log, on_epoch_end).run()


def resume(path: str | Path, *, progress: bool = True, log: Callable = print, on_epoch_end=None, **overrides) -> Path:
    """Continue the run in checkpoint ``path`` with its own configuration (``epochs``, ``time_budget``,
    ``device``, ``threads`` and ``save_every`` may be overridden; more epochs extend a finished run)."""
    allowed = {"epochs", "time_budget", "device", "threads", "save_every"}
    if set(overrides) - allowed:
        raise UserError(f"--resume continues a run with its own settings; only {', '.join(sorted(allowed))} can change "
                        f"(got {', '.join(sorted(set(overrides) - allowed))}).")
    from .checkpoint import resolve_checkpoint

    path = resolve_checkpoint(path)
    with _output(path):
        state = read_checkpoint(path)  # read under the lock: what a writer that just finished left
        config = replace(TrainConfig.from_dict(state["meta"]["config"]), out=str(path),
                         **{k: v for k, v in overrides.items() if v is not None})
        validate(config)
        meta = state["meta"]
        if meta["status"] == STATUS_DIVERGED:
            raise UserError(f"{path} diverged ({meta.get('status_detail')}); start again with a lower --lr and --overwrite.")
        if meta["epochs_done"] >= config.epochs and meta["status"] == STATUS_COMPLETE:
            raise UserError(f"{path} is already complete ({meta['epochs_done']} epochs); pass a larger --epochs to extend it.")
        return _Training(config, state, progress, log, on_epoch_end).run()


class _EpochTotals:
    """What an epoch accumulates over its steps (on the device: no host sync per step)."""

    def __init__(self, device: torch.device, position: dict | None = None):
        position = position or {}
        self.loss_sum = torch.tensor(position.get("loss_sum", 0.0), device=device)
        self.correct = torch.tensor(position.get("correct", 0), device=device, dtype=torch.long)
        self.seen = position.get("seen", 0)
        self.seconds_before = position.get("train_seconds", 0.0)  # training time before a mid-epoch resume

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss_sum += loss.detach() * len(y)
        self.correct += (logits.argmax(1) == y).sum()
        self.seen += len(y)

    def position(self, epoch: int, step: int, train_seconds: float) -> dict:
        """The place inside an epoch that a mid-epoch checkpoint records (steps done, running totals)."""
        return {"epoch": epoch, "step": step, "loss_sum": self.loss_sum.item(), "correct": int(self.correct.item()),
                "seen": self.seen, "train_seconds": train_seconds}


class _Training:
    def __init__(self, config: TrainConfig, state: dict | None, progress: bool, log: Callable, on_epoch_end):
        self.config, self.state, self.log, self.on_epoch_end = config, state, log, on_epoch_end
        self.dist = Distributed(config.device)
        self.progress = progress and self.dist.main
        self.out = Path(config.out)
        self.position: dict | None = None  # where a mid-epoch checkpoint left off (resume)
        self.stop = GracefulStop(enabled=False)
        # what the checkpoint on disk holds: any state of this run, and where (for the stop and divergence messages)
        self.saved, self.saved_position, self.saved_epochs = state is not None, None, 0

    # -- set-up ------------------------------------------------------------------------------------
    def _setup(self) -> None:
        c, dist = self.config, self.dist
        if c.threads:
            torch.set_num_threads(c.threads)
        elif dist.world > 1 and dist.device.type == "cpu":
            local = int(os.environ.get("LOCAL_WORLD_SIZE", dist.world))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        self.device = dist.device
        if self.device.type == "cpu":
            keep_freed_memory_for_reuse()
        self.bf16 = use_bf16(c.precision, self.device)
        spec = models.get_spec(c.arch)
        self.dataset = c.dataset or spec.default_dataset
        info = datasets.info(self.dataset, c.data_dir)
        self.image_size = (c.image_size, c.image_size) if c.image_size else spec.input_size_for(info.image_size)

        torch.manual_seed(c.seed)
        model = models.create(c.arch, in_channels=info.in_channels, num_classes=info.num_classes,
                              image_size=self.image_size, **c.model_options)
        n_params = sum(p.numel() for p in model.parameters())
        if c.max_params is not None and n_params > c.max_params:
            raise UserError(f"{c.arch} has {n_params:,} parameters, over the --max-params budget of {c.max_params:,}; "
                            f"pick a smaller architecture or a width option (-O width=0.5).")
        from ..models.complexity import complexity

        report = complexity(model, (info.in_channels, *self.image_size))

        load = lambda split, size: datasets.load(self.dataset, split, data_dir=c.data_dir, download=c.download,  # noqa: E731
                                                 size=size, image_size=self.image_size, progress=self.progress)
        self.train_data = load("train", c.train_size)
        self.val_data = load("val", c.val_size)
        # what each epoch but the last evaluates: a fixed class-balanced subset (the same images every epoch)
        self.epoch_val = self.val_data if c.val_subset is None or c.val_subset >= len(self.val_data) else \
            self.val_data.subset(datasets.balanced_subset(self.val_data.labels, c.val_subset, len(self.val_data.classes)))
        if len(self.train_data) < c.batch_size:
            self.log(f"note: {len(self.train_data)} training images is fewer than --batch-size {c.batch_size}; "
                     f"each epoch is one step.")
        self.augment = datasets.augment.BatchAugment(c.augment, flips=not info.flips_change_class,
                                                     image_size=self.image_size)
        if c.augment != "none" and info.flips_change_class and self.dist.main:
            self.log(f"note: no horizontal flips on {self.dataset}: flipping changes a character's class.")
        self.mean, self.std = self.train_data.mean, self.train_data.std  # every split normalised with these
        self._mean = torch.tensor(self.mean, device=self.device).view(1, -1, 1, 1)
        self._std = torch.tensor(self.std, device=self.device).view(1, -1, 1, 1)

        self.channels_last = c.channels_last and any(isinstance(m, nn.Conv2d) for m in model.modules())
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.net = model
        if dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self._make_optimizer()
        self.recorder = GradientFlowRecorder(model, c.grad_flow_every) if c.grad_flow else None
        self.g_shuffle = torch.Generator().manual_seed(c.seed)
        self.g_augment = torch.Generator().manual_seed(c.seed + 1)
        self.train_images = self.train_data.images.to(self.device)
        self.train_labels = self.train_data.labels.to(self.device)

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.meta = {
            "arch": c.arch, "model_options": dict(c.model_options), "in_channels": info.in_channels,
            "num_classes": info.num_classes, "image_size": list(self.image_size), "dataset": self.dataset,
            "classes": list(self.train_data.classes), "mean": list(self.mean), "std": list(self.std),
            "train_images": len(self.train_data), "val_images": len(self.val_data), "config": c.to_dict(),
            "seed": c.seed, "params": n_params, "flops": report.flops, "macs": report.macs,
            "status": STATUS_RUNNING, "status_detail": "", "epochs_done": 0, "wall_time": 0.0, "first_loss": None,
            "created": now, "updated": now, "versions": _versions(), "device": str(self.device),
            "world_size": dist.world, "precision": "bf16" if self.bf16 else "fp32", "augment": self.augment.describe(),
        }
        self.history: list[dict] = []
        if self.state is not None:
            self._restore(self.state)

    def _make_optimizer(self) -> None:
        c, params = self.config, self.model.parameters()
        if c.optimizer == "adam":
            self.optimizer = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay) if c.weight_decay else \
                torch.optim.Adam(params, lr=c.lr)
        else:
            self.optimizer = torch.optim.SGD(params, lr=c.lr, momentum=0.9, nesterov=True, weight_decay=c.weight_decay)
        self.steps_per_epoch = self._steps_per_epoch(len(self.train_data))
        total = c.epochs * self.steps_per_epoch
        if c.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=total)
        elif c.schedule == "onecycle" and total >= 2:
            # a quarter of the steps warming up, but at least one step in each phase (OneCycleLR divides by them)
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=c.lr, total_steps=total,
                                                                 pct_start=max(0.25, 1.5 / total))
        else:
            self.scheduler = None

    def _steps_per_epoch(self, n: int) -> int:
        steps = math.ceil(n / self.config.batch_size)
        if steps > 1 and n % self.config.batch_size == 1:
            steps -= 1  # never a batch of one (batch norm can't train on it)
        return steps

    def _restore(self, state: dict) -> None:
        old = state["meta"]
        for key in ("arch", "dataset", "params", "train_images"):
            if old[key] != self.meta[key]:
                raise UserError(f"{self.out} was trained with {key}={old[key]!r} but the data or code now gives "
                                f"{self.meta[key]!r}; it cannot be resumed.")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            sched = dict(state["scheduler"])
            if "total_steps" in sched:  # a longer --epochs extends the one-cycle schedule
                sched["total_steps"] = self.scheduler.total_steps
            if "T_max" in sched:
                sched["T_max"] = self.scheduler.T_max
            self.scheduler.load_state_dict(sched)
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.g_shuffle.set_state(rng["shuffle"])  # a mid-epoch checkpoint keeps the state before the epoch's shuffle
        self.g_augment.set_state(rng["augment"])
        if rng.get("cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        if self.recorder is not None and state.get("gradient_flow"):
            self.recorder.load_state_dict(state["gradient_flow"])
        self.history = list(state["history"])
        if self.history and self.history[-1].get("partial"):  # a budget stop: that epoch runs again in full
            self.history.pop()
            if self.recorder is not None and self.recorder.epochs:
                self.recorder.epochs.pop()
        self.position = state.get("position")
        self.meta.update({k: old[k] for k in ("created", "wall_time", "epochs_done") if k in old})
        self.saved_position, self.saved_epochs = self.position, self.meta["epochs_done"]
        self.meta["first_loss"] = old.get("first_loss")

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> Path:
        try:
            self._setup()
        except KeyboardInterrupt as err:
            raise Interrupted("stopped before the first training step (while loading data and building the model); "
                              "nothing was saved.", terminated=isinstance(err, Terminated)) from None
        c = self.config
        if self.dist.main:
            check_room(self.out.parent, self._checkpoint_bytes(), what="a checkpoint of this run")
            self.log(f"training {c.arch} on {self.dataset} ({len(self.train_data):,} train / {len(self.val_data):,} val, "
                     f"{'x'.join(map(str, (self.meta['in_channels'], *self.image_size)))}), {self.meta['params']:,} params, "
                     f"{self.device}{' bf16' if self.bf16 else ''}, {self.augment.describe()}")
        budget = c.time_budget * 60 if c.time_budget else None
        self.last_save = time.perf_counter()
        self.stop = GracefulStop(enabled=self.dist.world == 1)
        try:
            with self.stop:
                for epoch in range(self.meta["epochs_done"], c.epochs):
                    stopped = self._epoch(epoch, budget)
                    if stopped == "interrupt":
                        raise self._interrupted("saved")
                    self._end_epoch(epoch, stopped)
                    if stopped == "budget":
                        break
                    if self.stop.requested:  # the signal came during validation or the save
                        raise self._interrupted("saved")
        except KeyboardInterrupt as err:  # a second signal: stopped mid-step, the last checkpoint is what is kept
            self.stop.terminated = isinstance(err, Terminated)
            raise self._interrupted("kept") from None
        self.dist.barrier()
        if self.dist.main:
            last = self.history[-1] if self.history else {}
            self.log(f"{self.meta['status']}: {self.meta['epochs_done']} epochs in {self.meta['wall_time']:.0f}s, "
                     f"val acc {last.get('val_acc', float('nan')):.4f}, macro F1 {last.get('f1', float('nan')):.4f} -> {self.out}")
        return self.out

    def _end_epoch(self, epoch: int, stopped: str | None) -> None:
        c = self.config
        self.meta["epochs_done"] = epoch + 1 if stopped is None else epoch
        if stopped == "budget":
            self.meta["status"], self.meta["status_detail"] = STATUS_BUDGET, \
                f"time budget of {c.time_budget:g} min reached during epoch {epoch + 1}"
        elif epoch + 1 == c.epochs:
            self.meta["status"], self.meta["status_detail"] = STATUS_COMPLETE, ""
        chance = math.log(self.meta["num_classes"])
        loss = self.history[-1]["train_loss"]
        if loss > FAR_ABOVE_CHANCE * chance:
            self._diverged(f"epoch {epoch + 1}'s mean training loss was {loss:.4g}, over {FAR_ABOVE_CHANCE}x the "
                           f"chance level ln {self.meta['num_classes']} = {chance:.2f}", keep_current=True)
        self._save()
        if self.on_epoch_end is not None:
            self.on_epoch_end(epoch + 1)

    def _epoch(self, epoch: int, budget: float | None) -> str | None:
        """One epoch (from a mid-epoch checkpoint's step on a resume); returns None, 'budget' (stopped early,
        partial epoch recorded) or 'interrupt' (saved where it stopped); raises on divergence."""
        c, dist = self.config, self.dist
        position, self.position = self.position, None
        shuffle_state = self.g_shuffle.get_state()
        perm = torch.randperm(len(self.train_labels), generator=self.g_shuffle).to(self.device)
        self.net.train()
        totals = _EpochTotals(self.device, position)
        first = position["step"] if position else 0
        seen_before = totals.seen
        bar = self._progress_bar(epoch, first)
        start = time.perf_counter()
        stopped = None
        for step in range(first, self.steps_per_epoch):
            logits, y, loss_value = self._step(perm, step, totals)
            if dist.any(not math.isfinite(loss_value) or loss_value > EXPLODED * max(self.meta["first_loss"], 0.1)):
                self._diverged(f"the loss became {loss_value:.4g} at epoch {epoch + 1}, step {step + 1} (it started "
                               f"at {self.meta['first_loss']:.4g})")
            train_seconds = totals.seconds_before + time.perf_counter() - start
            if bar is not None:
                bar.update(1)
                if step % 5 == 0 or step + 1 == self.steps_per_epoch:
                    rate = (totals.seen - seen_before) * dist.world / max(time.perf_counter() - start, 1e-9)
                    bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{totals.correct.item() / totals.seen:.3f}",
                                    img_s=f"{rate:.0f}")
            if step + 1 < self.steps_per_epoch and (self.stop.requested or
                                                    time.perf_counter() - self.last_save >= c.save_every * 60):
                self._save(position=totals.position(epoch, step + 1, train_seconds), shuffle_state=shuffle_state)
                if self.stop.requested:
                    stopped = "interrupt"
                    break
            if budget is not None and dist.any(self.meta["wall_time"] + train_seconds >= budget):
                stopped = "budget"
                break
        if bar is not None:
            bar.close()
        if stopped == "interrupt":
            return stopped
        self._record_epoch(epoch, totals, totals.seconds_before + time.perf_counter() - start, step + 1, stopped)
        return stopped

    def _step(self, perm: torch.Tensor, step: int, totals: _EpochTotals):
        """One optimiser step on the ``step``-th batch of ``perm``; returns (logits, labels, loss as a float)."""
        c, dist = self.config, self.dist
        n, bs = len(self.train_labels), c.batch_size
        idx = perm[step * bs: (step + 1) * bs if step + 1 < self.steps_per_epoch else n]
        params = self.augment.draw(len(idx), self.g_augment) if self.augment.preset != "none" else None
        if dist.world > 1:
            idx = idx[dist.rank::dist.world]
            params = {k: v[dist.rank::dist.world] for k, v in params.items()} if params else None
        x = datasets.normalize(self.augment.apply(self.train_images[idx], params), self._mean, self._std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self.train_labels[idx]
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=c.label_smoothing)
        loss_value = loss.item()
        if self.meta["first_loss"] is None and math.isfinite(loss_value):
            self.meta["first_loss"] = loss_value
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.recorder is not None:
            self.recorder.update()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        totals.add(loss, logits, y)
        return logits, y, loss_value

    def _progress_bar(self, epoch: int, first_step: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.steps_per_epoch, initial=first_step, desc=f"epoch {epoch + 1}/{self.config.epochs}",
                    unit="step", leave=False, dynamic_ncols=True)

    def _record_epoch(self, epoch: int, totals: _EpochTotals, train_seconds: float, steps: int, stopped) -> None:
        """Close the epoch: totals across processes, validation (rank 0), one history record."""
        dist = self.dist
        validation_start = time.perf_counter()
        loss_sum, correct, seen = dist.sum([totals.loss_sum.item(), float(totals.correct.item()), float(totals.seen)])
        if self.recorder is not None:
            self.recorder.end_epoch()
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen}
        if dist.main:
            # The run's final metrics (the last epoch's, or a budget stop's) come from the whole validation split
            # in fp32: what anyone loading the checkpoint measures. The epochs before may evaluate a subset
            # (--val-subset) in the training precision: a progress reading, marked by its val_images.
            final = stopped is not None or epoch + 1 == self.config.epochs
            val = self.val_data if final else self.epoch_val
            logits = predict(self.model, val.images, self._normalize, device=self.device,
                             channels_last=self.channels_last, bf16=self.bf16 and val is not self.val_data)
            record.update(classification_scores(logits, val.labels, len(val.classes)))
            record["val_images"] = len(val)
        seconds = train_seconds + time.perf_counter() - validation_start
        record.update({"seconds": seconds, "train_seconds": train_seconds, "images_per_s": seen / max(train_seconds, 1e-9),
                       "lr": self.optimizer.param_groups[0]["lr"], "steps": steps})
        if stopped:
            record["partial"] = True
        self.history.append(record)
        self.meta["wall_time"] += seconds
        if self.progress:
            self.log(f"epoch {epoch + 1}/{self.config.epochs}: loss {record['train_loss']:.4f} acc {record['train_acc']:.4f} | "
                     f"val loss {record.get('val_loss', float('nan')):.4f} acc {record.get('val_acc', float('nan')):.4f} "
                     f"F1 {record.get('f1', float('nan')):.4f} | {seconds:.1f}s, {record['images_per_s']:.0f} img/s")

    def _normalize(self, images: torch.Tensor) -> torch.Tensor:
        return datasets.normalize(images, self._mean, self._std)

    # -- endings -----------------------------------------------------------------------------------
    def _where(self) -> str:
        """Where the checkpoint on disk stands, in words."""
        if self.saved_position:
            p = self.saved_position
            return f"epoch {p['epoch'] + 1}, step {p['step']} of {self.steps_per_epoch}"
        return f"the end of epoch {self.saved_epochs}"

    def _interrupted(self, how: str) -> Interrupted:
        """The sentence for a stop by signal: ``how`` is "saved" (saved where it stopped) or "kept" (a second
        signal stopped it mid-step: the last checkpoint is what remains)."""
        terminated = self.stop.terminated
        if not self.saved:
            return Interrupted(f"stopped mid-step before the first checkpoint; nothing was saved (a checkpoint is written "
                               f"every {self.config.save_every:g} min and at each epoch's end).", terminated=terminated)
        again = f"continue with 'xaicnn train --resume --out {self.out}'."
        if how == "saved":
            return Interrupted(f"saved the run at {self._where()} in {self.out}; {again}", terminated=terminated)
        return Interrupted(f"stopped at once, mid-step; the last checkpoint ({self._where()}) is kept in {self.out}; "
                           f"{again}", terminated=terminated)

    def _diverged(self, detail: str, keep_current: bool = False) -> None:
        """Mark the run diverged and stop (TrainingDiverged). The last good checkpoint keeps its weights and
        only changes status; with none yet (or ``keep_current``, at an epoch's end), the current state is
        saved marked diverged, so ``inspect`` and the app show what happened."""
        kept = ""
        self.meta.update(status=STATUS_DIVERGED, status_detail=detail)
        if self.dist.main:
            if not keep_current and self.saved:
                state = read_checkpoint(self.out)
                state["meta"].update(status=STATUS_DIVERGED, status_detail=detail)
                save_checkpoint(self.out, {k: v for k, v in state.items() if k not in ("format", "format_version")})
                kept = f"; the last good checkpoint ({self._where()}) is kept at {self.out}, marked diverged"
            else:
                self._save()
                kept = f"; the run is saved at {self.out}, marked diverged"
        raise TrainingDiverged(f"Training diverged: {detail}{kept}; try a lower --lr.")

    # -- checkpoints -------------------------------------------------------------------------------
    def _checkpoint_bytes(self) -> int:
        """About how large a checkpoint of this run is: weights, optimiser state (Adam keeps two tensors per
        weight, SGD one), plus a megabyte of history and metadata."""
        weights = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        return weights * (3 if self.config.optimizer == "adam" else 2) + (1 << 20)

    def _save(self, position: dict | None = None, shuffle_state: torch.Tensor | None = None) -> None:
        """Write the checkpoint: at an epoch's end, or inside one (``position``: the steps done and running
        totals, with ``shuffle_state`` the shuffling generator before the epoch's permutation, so a resume
        draws the same permutation and continues at the next step)."""
        self.last_save = time.perf_counter()
        if not self.dist.main:
            return
        self.meta["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.meta["in_epoch"] = None if position is None else {  # for inspect and the app: where inside the epoch
            "epoch": position["epoch"] + 1, "step": position["step"], "steps": self.steps_per_epoch,
            "seconds": position["train_seconds"]}
        rng = {"torch": torch.get_rng_state(),
               "shuffle": shuffle_state if position is not None else self.g_shuffle.get_state(),
               "augment": self.g_augment.get_state(),
               "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}
        save_checkpoint(self.out, {
            "model": {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng, "meta": self.meta, "history": self.history, "position": position,
            "gradient_flow": self.recorder.state_dict() if self.recorder is not None else None,
        })
        self.saved, self.saved_position, self.saved_epochs = True, position, self.meta["epochs_done"]
