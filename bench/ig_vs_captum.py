"""``xaicnn.analysis.attribute`` (IG) against captum's own single batched call on the same images and steps.

For MNIST-size models (1x32x32, random weights): IG with 50 Gauss-Legendre steps on 32 images, through
``attribute(model, x, targets, "ig")`` (automatic pass size, frozen parameters, completeness delta included) and
through ``captum.attr.IntegratedGradients(model).attribute(x, target=..., n_steps=50, method="gausslegendre",
return_convergence_delta=True)`` in one call (all 1,600 image-steps in one pass, captum's default). The two
alternate, after a warm-up of each, and the median of ``--repeats`` wall times is printed with their ratio
(> 1: attribute is faster). Asserts nothing.

    .venv/bin/python bench/ig_vs_captum.py [--images 32] [--steps 50] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from xaicnn import models
from xaicnn.analysis.attribution import attribute, auto_pass_size

CASES = ("vgg_block", "bottleneck_block", "transformer_block", "lenet5")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(arch: str, n: int, steps: int, repeats: int) -> dict:
    from captum.attr import IntegratedGradients

    torch.manual_seed(0)
    model = models.create(arch, in_channels=1, num_classes=10, image_size=(32, 32)).eval()
    x, t = torch.randn(n, 1, 32, 32), torch.randint(0, 10, (n,))
    ours = lambda: attribute(model, x, t, "ig", steps=steps)  # noqa: E731
    theirs = lambda: IntegratedGradients(model).attribute(  # noqa: E731
        x, target=t, n_steps=steps, method="gausslegendre", return_convergence_delta=True)
    ours(), theirs()  # warm-up (oneDNN kernels, the pass-size measurement)
    a, b = [], []
    for _ in range(repeats):
        a.append(timed(ours))
        b.append(timed(theirs))
    return {"arch": arch, "pass": auto_pass_size(model, x, n * steps), "ours": statistics.median(a),
            "captum": statistics.median(b)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.1f}; IG on "
          f"{args.images} images x {args.steps} steps, median of {args.repeats} wall times")
    print(f"{'model':<18} {'pass':>5} {'attribute (s)':>14} {'captum, one call (s)':>21} {'captum/attribute':>17}")
    for arch in CASES:
        r = bench(arch, args.images, args.steps, args.repeats)
        print(f"{r['arch']:<18} {r['pass']:>5} {r['ours']:>14.3f} {r['captum']:>21.3f} {r['captum'] / r['ours']:>17.2f}")


if __name__ == "__main__":
    main()
