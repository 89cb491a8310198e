"""Integrated Gradients throughput against the model's own forward+backward throughput.

For two model sizes (random weights): IG with 50 Gauss-Legendre steps on 64 images through
``xaicnn.analysis.attribution.attribute`` (automatic pass size, frozen parameters), counted in
image-steps per second (IG on N images with S steps costs N*S passes); the model's own
forward+backward images per second at the same batch (the pass size IG chose), with gradients to the
input only and training-style (loss.backward() into the parameters too), measured before and after IG
and averaged; their ratio; and the naive captum loop (``IntegratedGradients(model).attribute`` on one
image at a time, default settings) for reference. Every rate is given per wall second and per CPU
second of this process: on a shared machine the wall clock also counts time spent waiting for a core,
the CPU clock counts only the work. Prints a table; asserts nothing.

    .venv/bin/python bench/attribution_throughput.py [--images 64] [--steps 50] [--naive-images 8] [--threads N]
"""
from __future__ import annotations

import argparse
import math
import os
import time
import warnings

import torch

from xaicnn import models
from xaicnn.analysis.attribution import attribute, auto_pass_size

CASES = [("vgg_block", 1, 32, 10), ("bottleneck_alpha", 1, 100, 52)]


def seconds(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) spent in ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def fwd_bwd_rate(model, batch: torch.Tensor, targets: torch.Tensor, params: bool, image_steps: int):
    """(images per wall second, per CPU second) of plain forward+backward passes of ``batch`` (gradients to
    the input only, or to the parameters as in training), over about ``image_steps`` images after a warm-up."""
    for p in model.parameters():
        p.requires_grad_(params)

    def step():
        model.zero_grad(set_to_none=True)
        x = batch.clone().requires_grad_()
        out = model(x).gather(1, targets[:, None]).sum()
        if params:
            out.backward()
        else:
            torch.autograd.grad(out, x)

    step()
    passes = max(3, math.ceil(image_steps / len(batch)))
    wall, cpu = seconds(lambda: [step() for _ in range(passes)])
    for p in model.parameters():
        p.requires_grad_(True)
        p.grad = None
    return passes * len(batch) / wall, passes * len(batch) / cpu


def bench(arch, channels, side, classes, n, steps, naive_images):
    from captum.attr import IntegratedGradients

    torch.manual_seed(0)
    model = models.create(arch, in_channels=channels, num_classes=classes, image_size=(side, side)).eval()
    x = torch.randn(n, channels, side, side)
    t = torch.randint(0, classes, (n,))
    budget = min(auto_pass_size(model, x), n * steps)
    # the passes IG makes: whole images x all steps when they fit, else `budget` images x one step
    group, group_steps = (budget // steps, steps) if budget >= steps else (min(n, budget), 1)
    pass_size = group * group_steps
    batch, bt = torch.randn(pass_size, channels, side, side), torch.randint(0, classes, (pass_size,))
    # warm-up: one IG pass of the real shape (oneDNN builds its kernels on the first call per shape)
    attribute(model, x[:group], t[:group], "ig", steps=group_steps)
    budget = n * steps // 4  # image-steps per reference measurement
    before = [fwd_bwd_rate(model, batch, bt, p, budget) for p in (False, True)]
    ig_wall, ig_cpu = seconds(lambda: attribute(model, x, t, "ig", steps=steps))
    after = [fwd_bwd_rate(model, batch, bt, p, budget) for p in (False, True)]
    ig = IntegratedGradients(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ig.attribute(x[:1], target=int(t[0]), n_steps=2)  # warm-up
        naive = seconds(lambda: [ig.attribute(x[i:i + 1], target=int(t[i])) for i in range(naive_images)])
    rows = {}
    for k, clock in enumerate(("wall", "cpu")):
        rows[clock] = {"ig": n * steps / (ig_wall, ig_cpu)[k], "ref_input": (before[0][k] + after[0][k]) / 2,
                       "ref_params": (before[1][k] + after[1][k]) / 2, "naive": naive_images * 50 / naive[k]}
    return {"arch": arch, "input": f"{channels}x{side}x{side}", "pass": pass_size, "ig_seconds": ig_wall, **rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--naive-images", type=int, default=8, help="images in the naive per-image loop (50 steps each)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"IG: {args.images} images x {args.steps} Gauss-Legendre steps, in image-steps/s; fwd+bwd: images/s at IG's "
          f"pass size (x: gradients to the input only; x,W: also to the weights, as in training)")
    header = (f"{'model':<17} {'input':<10} {'pass':>4} {'clock':<5} {'IG':>7} {'fwd+bwd x':>10} {'IG/x':>5} "
              f"{'fwd+bwd x,W':>12} {'IG/x,W':>7} {'naive loop':>11} {'IG/naive':>8}")
    print(header)
    print("-" * len(header))
    for case in CASES:
        r = bench(*case, args.images, args.steps, args.naive_images)
        for clock in ("wall", "cpu"):
            c = r[clock]
            print(f"{r['arch']:<17} {r['input']:<10} {r['pass']:>4} {clock:<5} {c['ig']:>7.0f} {c['ref_input']:>10.0f} "
                  f"{c['ig'] / c['ref_input']:>5.2f} {c['ref_params']:>12.0f} {c['ig'] / c['ref_params']:>7.2f} "
                  f"{c['naive']:>11.0f} {c['ig'] / c['naive']:>7.2f}x")
        print(f"{'':<17} IG took {r['ig_seconds']:.1f} s of wall time")


if __name__ == "__main__":
    main()
