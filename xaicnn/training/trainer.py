"""The training loop: data as tensors in memory, batched augmentation, one checkpoint per epoch.

``train(config)`` runs a new run; ``resume(path)`` continues an unfinished one from its checkpoint and
ends with the same weights as an uninterrupted run (on the CPU). Under ``torchrun --nproc-per-node N
-m xaicnn train ...`` the same loop runs as DistributedDataParallel (gloo on the CPU, nccl on GPUs);
every process draws the same shuffling and augmentation for the global batch and takes its slice, and
only rank 0 evaluates, prints and writes.
"""
from __future__ import annotations

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
from ..errors import UserError
from .checkpoint import (STATUS_BUDGET, STATUS_COMPLETE, STATUS_DIVERGED, STATUS_RUNNING, checkpoint_dir,
                         read_checkpoint, save_checkpoint)
from .config import TrainConfig
from .gradient_flow import GradientFlowRecorder

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine", "onecycle")


class TrainingDiverged(UserError):
    exit_code = 1


# ----------------------------------------------------------------------------------------------------
# set-up helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} was asked for but no CUDA GPU is available; use --device cpu or auto.")
    if not (name == "cpu" or name.startswith("cuda")):
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N; got {name!r}.")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX): there bf16 autocast roughly doubles
    training throughput (docs/performance.md); elsewhere it is emulated and slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to train under bf16 autocast: ``auto`` picks it where the hardware makes it faster."""
    if precision not in ("auto", "fp32", "bf16"):
        raise UserError(f"--precision must be auto, fp32 or bf16; got {precision!r}.")
    if precision == "auto":
        return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
    return precision == "bf16"


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_allocator_tuned = False


def keep_freed_memory_for_reuse() -> bool:
    """Stop glibc from handing activation-sized buffers back to the kernel after every step.

    Each training step frees and re-allocates the same tens of megabytes of activations. By default glibc
    serves blocks this large with a fresh ``mmap`` and unmaps them on free, so every step page-faults its
    activations in again: on this project's 2-core machine that was about 20% of the time spent in the
    kernel and bottleneck_alpha trained about 20% slower (docs/performance.md). Raising the mmap and trim
    thresholds keeps the memory in the heap for the next step (up to glibc's 32 MiB limit per block).
    Process-wide and idempotent; a no-op (False) away from glibc.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        _allocator_tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
                                and libc.mallopt(_M_TOP_PAD, 64 << 20))
    except (OSError, AttributeError):
        return False
    return _allocator_tuned


def validate(config: TrainConfig) -> None:
    checks = [
        (config.epochs >= 1, f"--epochs must be at least 1; got {config.epochs}."),
        (config.batch_size >= 2, f"--batch-size must be at least 2; got {config.batch_size}."),
        (config.lr > 0, f"--lr must be positive; got {config.lr}."),
        (config.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}; got {config.optimizer!r}."),
        (config.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}; got {config.schedule!r}."),
        (config.time_budget is None or config.time_budget > 0, f"--time-budget must be positive minutes; got {config.time_budget}."),
        (config.train_size is None or config.train_size >= 2, f"--train-size must be at least 2; got {config.train_size}."),
        (config.val_size is None or config.val_size >= 1, f"--val-size must be at least 1; got {config.val_size}."),
        (config.image_size is None or config.image_size >= 1, f"--image-size must be positive; got {config.image_size}."),
        (config.threads is None or config.threads >= 1, f"--threads must be at least 1; got {config.threads}."),
        (config.grad_flow_every >= 0, f"--grad-flow-every must be 0 (off) or a positive number of steps; got "
                                      f"{config.grad_flow_every}."),
        (config.weight_decay >= 0, f"--weight-decay must be 0 or positive; got {config.weight_decay}."),
        (0 <= config.label_smoothing < 1, f"--label-smoothing must be in [0, 1); got {config.label_smoothing}."),
        (config.max_params is None or config.max_params >= 1, f"--max-params must be positive; got {config.max_params}."),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


def default_out(arch: str) -> Path:
    return checkpoint_dir() / f"{arch}.pt"


class _Dist:
    """Process-group facts (a single process when not started by torchrun)."""

    def __init__(self, device_name: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device_name)
        if self.world > 1:
            import torch.distributed as dist

            if self.device.type == "cuda":
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (one tiny all-reduce; free when alone)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        t = torch.tensor([float(flag)], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return t.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def _versions() -> dict:
    import torchvision

    from .. import __version__

    return {"xaicnn": __version__, "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "python": platform.python_version()}


# ----------------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, normalize: Callable, *, batch_size: int = 256,
            device: torch.device | None = None, bf16: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Logits [N, K] (float32, on the CPU) of ``model`` for uint8 ``images`` [N, C, H, W]."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for i in range(0, len(images), batch_size):
            x = normalize(images[i:i + batch_size].to(device, non_blocking=True))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out.append(model(x).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def classification_scores(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """Loss, accuracy and macro precision/recall/F1 (scikit-learn) of logits against labels."""
    from sklearn.metrics import precision_recall_fscore_support

    preds = logits.argmax(1)
    precision, recall, f1, _ = precision_recall_fscore_support(labels.numpy(), preds.numpy(), labels=list(range(num_classes)),
                                                               average="macro", zero_division=0)
    return {"val_loss": F.cross_entropy(logits, labels).item(), "val_acc": (preds == labels).float().mean().item(),
            "precision": float(precision), "recall": float(recall), "f1": float(f1)}


# ----------------------------------------------------------------------------------------------------
# the run


def train(config: TrainConfig, *, overwrite: bool = False, progress: bool = True, log: Callable = print,
          on_epoch_end: Callable[[int], None] | None = None) -> Path:
    """Train a new run as configured; returns the checkpoint path.

    Refuses (one sentence) to overwrite a finished run unless ``overwrite``, and to start over an
    unfinished one (use :func:`resume`). ``on_epoch_end(epoch)`` is called after each checkpoint.
    """
    validate(config)
    out = Path(config.out) if config.out else default_out(config.arch)
    if out.exists() and not overwrite:
        state = read_checkpoint(out)
        meta = state["meta"]
        if meta.get("status") == STATUS_RUNNING:
            raise UserError(f"{out} holds an unfinished run (epoch {meta.get('epochs_done', 0)} of "
                            f"{meta['config']['epochs']}); pass --resume to continue it, or --overwrite to start again.")
        raise UserError(f"{out} already holds a finished run ({meta.get('status')}); pass --out to write elsewhere "
                        f"or --overwrite to replace it.")
    return _Training(replace(config, out=str(out)), None, progress, log, on_epoch_end).run()


def resume(path: str | Path, *, progress: bool = True, log: Callable = print, on_epoch_end=None, **overrides) -> Path:
    """Continue the run in checkpoint ``path`` with its own configuration (``epochs``, ``time_budget``,
    ``device`` and ``threads`` may be overridden; more epochs extend a finished run)."""
    state = read_checkpoint(path)
    allowed = {"epochs", "time_budget", "device", "threads"}
    if set(overrides) - allowed:
        raise UserError(f"--resume continues a run with its own settings; only {', '.join(sorted(allowed))} can change "
                        f"(got {', '.join(sorted(set(overrides) - allowed))}).")
    config = replace(TrainConfig.from_dict(state["meta"]["config"]), out=str(path),
                     **{k: v for k, v in overrides.items() if v is not None})
    validate(config)
    meta = state["meta"]
    if meta["status"] == STATUS_DIVERGED:
        raise UserError(f"{path} diverged ({meta.get('status_detail')}); start again with a lower --lr and --overwrite.")
    if meta["epochs_done"] >= config.epochs and meta["status"] == STATUS_COMPLETE:
        raise UserError(f"{path} is already complete ({meta['epochs_done']} epochs); pass a larger --epochs to extend it.")
    return _Training(config, state, progress, log, on_epoch_end).run()


class _Training:
    def __init__(self, config: TrainConfig, state: dict | None, progress: bool, log: Callable, on_epoch_end):
        self.config, self.state, self.log, self.on_epoch_end = config, state, log, on_epoch_end
        self.dist = _Dist(config.device)
        self.progress = progress and self.dist.main
        self.out = Path(config.out)

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
        decay = c.weight_decay
        if c.optimizer == "adam":
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=decay) if decay else \
                torch.optim.Adam(model.parameters(), lr=c.lr)
        else:
            self.optimizer = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=0.9, nesterov=True, weight_decay=decay)
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
            "status": STATUS_RUNNING, "status_detail": "", "epochs_done": 0, "wall_time": 0.0,
            "created": now, "updated": now, "versions": _versions(), "device": str(self.device),
            "world_size": dist.world, "precision": "bf16" if self.bf16 else "fp32", "augment": self.augment.describe(),
        }
        self.history: list[dict] = []
        if self.state is not None:
            self._restore(self.state)

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
        self.g_shuffle.set_state(rng["shuffle"])
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
        keep = ("created", "wall_time", "epochs_done")
        self.meta.update({k: old[k] for k in keep})

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> Path:
        self._setup()
        c, dist = self.config, self.dist
        if self.dist.main:
            self.log(f"training {c.arch} on {self.dataset} ({len(self.train_data):,} train / {len(self.val_data):,} val, "
                     f"{'x'.join(map(str, (self.meta['in_channels'], *self.image_size)))}), {self.meta['params']:,} params, "
                     f"{self.device}{' bf16' if self.bf16 else ''}, {self.augment.describe()}")
        start_epoch = self.meta["epochs_done"]
        budget = c.time_budget * 60 if c.time_budget else None
        for epoch in range(start_epoch, c.epochs):
            stopped = self._epoch(epoch, budget)
            self.meta["epochs_done"] = epoch + 1 if stopped is None else epoch
            if stopped == "budget":
                self.meta["status"], self.meta["status_detail"] = STATUS_BUDGET, \
                    f"time budget of {c.time_budget:g} min reached during epoch {epoch + 1}"
            elif epoch + 1 == c.epochs:
                self.meta["status"], self.meta["status_detail"] = STATUS_COMPLETE, ""
            self._save()
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch + 1)
            if stopped == "budget":
                break
        dist.barrier()
        if dist.main:
            last = self.history[-1] if self.history else {}
            self.log(f"{self.meta['status']}: {self.meta['epochs_done']} epochs in {self.meta['wall_time']:.0f}s, "
                     f"val acc {last.get('val_acc', float('nan')):.4f}, macro F1 {last.get('f1', float('nan')):.4f} -> {self.out}")
        return self.out

    def _epoch(self, epoch: int, budget: float | None) -> str | None:
        """One epoch; returns None, 'budget' (stopped early, partial epoch recorded) or raises on divergence."""
        c, dist = self.config, self.dist
        n, bs = len(self.train_labels), c.batch_size
        perm = torch.randperm(n, generator=self.g_shuffle).to(self.device)
        self.net.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{c.epochs}", unit="step", leave=False,
                       dynamic_ncols=True)
        start = time.perf_counter()
        stopped = None
        for step in range(self.steps_per_epoch):
            idx = perm[step * bs: (step + 1) * bs if step + 1 < self.steps_per_epoch else n]
            params = self.augment.draw(len(idx), self.g_augment) if self.augment.preset != "none" else None
            if dist.world > 1:
                idx = idx[dist.rank::dist.world]
                params = {k: v[dist.rank::dist.world] for k, v in params.items()} if params else None
            x = self.augment.apply(self.train_images[idx], params)
            x = datasets.normalize(x, self._mean, self._std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = self.train_labels[idx]
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                logits = self.net(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=c.label_smoothing)
            loss_value = loss.item()
            if dist.any(not math.isfinite(loss_value)):
                self._diverged(epoch, step, loss_value)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.recorder is not None:
                self.recorder.update()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if bar is not None:
                elapsed = time.perf_counter() - start
                bar.update(1)
                if step % 5 == 0 or step + 1 == self.steps_per_epoch:
                    bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{correct.item() / seen:.3f}",
                                    img_s=f"{seen * dist.world / max(elapsed, 1e-9):.0f}")
            if budget is not None and dist.any(self.meta["wall_time"] + time.perf_counter() - start >= budget):
                stopped = "budget"
                break
        train_seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
        totals = dist.sum([loss_sum.item(), float(correct.item()), float(seen)])
        if self.recorder is not None:
            self.recorder.end_epoch()
        record = {"epoch": epoch + 1, "train_loss": totals[0] / totals[2], "train_acc": totals[1] / totals[2]}
        if dist.main:
            # validation in fp32, so the recorded metrics are what anyone loading the checkpoint measures
            logits = predict(self.model, self.val_data.images, self._normalize, device=self.device,
                             channels_last=self.channels_last)
            record.update(classification_scores(logits, self.val_data.labels, len(self.val_data.classes)))
        seconds = time.perf_counter() - start
        record.update({"seconds": seconds, "train_seconds": train_seconds,
                       "images_per_s": totals[2] / max(train_seconds, 1e-9),
                       "lr": self.optimizer.param_groups[0]["lr"], "steps": step + 1})
        if stopped:
            record["partial"] = True
        self.history.append(record)
        self.meta["wall_time"] += seconds
        if self.progress:
            self.log(f"epoch {epoch + 1}/{c.epochs}: loss {record['train_loss']:.4f} acc {record['train_acc']:.4f} | "
                     f"val loss {record.get('val_loss', float('nan')):.4f} acc {record.get('val_acc', float('nan')):.4f} "
                     f"F1 {record.get('f1', float('nan')):.4f} | {seconds:.1f}s, {record['images_per_s']:.0f} img/s")
        return stopped

    def _normalize(self, images: torch.Tensor) -> torch.Tensor:
        return datasets.normalize(images, self._mean, self._std)

    def _diverged(self, epoch: int, step: int, value: float) -> None:
        detail = f"the loss became {value} at epoch {epoch + 1}, step {step + 1}"
        kept = ""
        if self.dist.main and self.out.exists():
            state = read_checkpoint(self.out)  # the last good epoch's weights stay; only the status changes
            state["meta"].update(status=STATUS_DIVERGED, status_detail=detail)
            save_checkpoint(self.out, {k: v for k, v in state.items() if k not in ("format", "format_version")})
            kept = f"; the last good checkpoint (epoch {state['meta']['epochs_done']}) is kept at {self.out}"
        raise TrainingDiverged(f"Training diverged: {detail}{kept}; try a lower --lr.")

    def _save(self) -> None:
        if not self.dist.main:
            return
        self.meta["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rng = {"torch": torch.get_rng_state(), "shuffle": self.g_shuffle.get_state(), "augment": self.g_augment.get_state(),
               "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}
        save_checkpoint(self.out, {
            "model": {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng, "meta": self.meta, "history": self.history,
            "gradient_flow": self.recorder.state_dict() if self.recorder is not None else None,
        })
