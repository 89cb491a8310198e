"""Where a training step of a model spends its time: per-layer forward and backward (torch.profiler).

Trains ``--arch`` (default bottleneck_alpha, 1x100x100, 52 classes) on random images with the trainer's
settings (bf16 autocast where the CPU has it, channels-last, Adam) for a few warm-up steps, then profiles
``--steps`` steps. Each leaf module's forward runs inside a ``record_function`` range named after it; its
backward is matched through the autograd sequence numbers the profiler records (a backward op carries the
sequence number of the forward op that made it). Prints one row per layer (forward ms, backward ms, share
of the step) and the step's total, then the top operators; asserts nothing.

    python bench/step_profile.py [--arch bottleneck_alpha] [--batch-size 64] [--steps 30] [--fp32] [--nchw]
                                 [--report-order]   (alpha nets: ReLU before the max-pool, as the report had it)
"""
from __future__ import annotations

import argparse
import os
from collections import defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function

from xaicnn import models
from xaicnn.training.allocator import keep_freed_memory_for_reuse
from xaicnn.training.device import cpu_has_native_bf16


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if name and not list(m.children())]


def wrap_forwards(model: nn.Module) -> None:
    """Run each leaf module's forward inside a profiler range ``layer:<name> (<type>)``."""
    for name, module in leaf_modules(model):
        forward = module.forward

        def ranged(*args, _forward=forward, _label=f"layer:{name} ({type(module).__name__})", **kwargs):
            with record_function(_label):
                return _forward(*args, **kwargs)

        module.forward = ranged


def per_layer(prof, steps: int) -> tuple[list[tuple[str, float, float]], float]:
    """[(layer, forward ms, backward ms)] per step, and the step's mean wall ms."""
    events = prof.events()
    ranges = [e for e in events if e.name.startswith("layer:")]
    step_ms = sum(e.cpu_time_total for e in events if e.name == "step") / 1e3 / steps
    # forward: the range's own total; the ops inside it carry sequence numbers that their backward shares
    forward_us, seq_owner = defaultdict(float), {}
    for r in ranges:
        forward_us[r.name] += r.cpu_time_total
    by_thread = defaultdict(list)
    for r in ranges:
        by_thread[r.thread].append(r)
    for e in events:
        if e.sequence_nr is None or e.sequence_nr < 0 or e.name.startswith(("layer:", "autograd::")):
            continue
        for r in by_thread.get(e.thread, ()):
            if r.time_range.start <= e.time_range.start and e.time_range.end <= r.time_range.end:
                seq_owner.setdefault(e.sequence_nr, r.name)
                break
    backward_us = defaultdict(float)
    for e in events:
        if e.name.startswith("autograd::engine::evaluate_function:") and e.sequence_nr in seq_owner:
            backward_us[seq_owner[e.sequence_nr]] += e.cpu_time_total
    names = list(dict.fromkeys(r.name for r in ranges))
    return [(n[len("layer:"):], forward_us[n] / 1e3 / steps, backward_us[n] / 1e3 / steps) for n in names], step_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="bottleneck_alpha")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=100)
    parser.add_argument("--classes", type=int, default=52)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    parser.add_argument("--nchw", action="store_true", help="contiguous (NCHW) instead of channels-last")
    parser.add_argument("--report-order", action="store_true",
                        help="alpha nets: each stage's last ReLU before its max-pool (the report's order; the zoo pools first)")
    args = parser.parse_args()
    keep_freed_memory_for_reuse()
    bf16 = cpu_has_native_bf16() and not args.fp32
    torch.manual_seed(0)
    model = models.create(args.arch, in_channels=1, num_classes=args.classes, image_size=(args.image_size,) * 2)
    if args.report_order:
        for stage in (model.layer1, model.layer2, model.layer3):
            stage[-2], stage[-1] = stage[-1], stage[-2]  # MaxPool, ReLU -> ReLU, MaxPool
    memory_format = torch.contiguous_format if args.nchw else torch.channels_last
    model = model.to(memory_format=memory_format).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(args.batch_size, 1, args.image_size, args.image_size).contiguous(memory_format=memory_format)
    y = torch.randint(0, args.classes, (args.batch_size,))

    def step():
        with record_function("step"):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    for _ in range(5):
        step()
    wrap_forwards(model)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        for _ in range(args.steps):
            step()
    rows, step_ms = per_layer(prof, args.steps)
    print(f"{args.arch} batch {args.batch_size}, {'bf16' if bf16 else 'fp32'} "
          f"{'NCHW' if args.nchw else 'channels-last'}{', report order' if args.report_order else ''}, "
          f"{torch.get_num_threads()} threads, load "
          f"{os.getloadavg()[0]:.2f}: {step_ms:.1f} ms per step under the profiler "
          f"({args.batch_size / step_ms * 1e3:.0f} images/s)")
    print(f"{'layer':34s} {'fwd ms':>8s} {'bwd ms':>8s} {'share':>6s}")
    for name, f, b in rows:
        print(f"{name:34s} {f:8.2f} {b:8.2f} {(f + b) / step_ms:6.1%}")
    accounted = sum(f + b for _, f, b in rows)
    print(f"{'(layers together)':34s} {sum(f for _, f, _ in rows):8.2f} {sum(b for _, _, b in rows):8.2f} "
          f"{accounted / step_ms:6.1%}  (the rest: loss, optimiser, autocast casts)")
    print()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
