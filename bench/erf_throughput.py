"""Effective receptive field on 64 images: what it costs against the model's own forward+backward passes.

For vgg_block on embedded digits (1x32x32) and ResNet-18 on CIFAR-size input (3x32x32, random uint8 images:
no dataset needed), both at random initialisation, times (a) ``effective_receptive_field`` with one model -
the trained-weights half of ``xaicnn receptive-field`` (the traced theoretical field, then batched forward
passes stopped at the last spatial layer and one backward of the centre unit to the input per batch),
(b) ``effective_receptive_field_at_init`` with 3 seeded models (the other half: builds the 3 models too) and
(c) plain forward+backward passes of the full model on the same images (input gradients only), for scale.
Wall and CPU seconds of this process (on a shared machine the wall clock also counts waiting for a core);
the median of ``--repeats`` after a warm-up. Prints a table; asserts nothing.

    .venv/bin/python bench/erf_throughput.py [--images 64] [--batch-size 32] [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from xaicnn import data
from xaicnn.analysis.effective_rf import effective_receptive_field, effective_receptive_field_at_init
from xaicnn.training.checkpoint import Run, build_model

CASES = [("vgg_block", "digits", 1, 10), ("resnet18", None, 3, 10)]  # arch, embedded dataset or None, channels, classes


def seconds(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) spent in ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_seconds(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up: first-call allocations, the fx trace's imports
    runs = [seconds(fn) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def run_for(arch: str, dataset: str | None, channels: int, classes: int, n: int) -> tuple[Run, torch.Tensor, str]:
    """An in-memory Run at random initialisation (seed 0) and n uint8 images [n, C, 32, 32]."""
    if dataset:
        split = data.load(dataset, "val", size=n, image_size=(32, 32), progress=False)
        images, mean, std, source = split.images[:n], split.mean, split.std, f"{dataset} validation images"
    else:
        images = torch.randint(0, 256, (n, channels, 32, 32), generator=torch.Generator().manual_seed(0),
                               dtype=torch.uint8)
        mean, std, source = (0.5,) * channels, (0.25,) * channels, "random uint8 images"
    meta = {"arch": arch, "in_channels": channels, "num_classes": classes, "image_size": [32, 32],
            "model_options": {}, "mean": list(mean), "std": list(std)}
    torch.manual_seed(0)
    return Run(Path(f"{arch}.pt"), meta, [], build_model(meta).eval()), images, source


def forward_backward(model, inputs: torch.Tensor, batch_size: int) -> None:
    for batch in inputs.split(batch_size):
        x = batch.clone().requires_grad_(True)
        torch.autograd.grad(model(x).sum(), x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.images} images, batches of {args.batch_size}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; median of {args.repeats} after a warm-up (wall / CPU seconds)")
    print(f"{'model':12s} {'images':24s} {'layer':8s} {'ERF, 1 model':>14s} {'ERF init, 3 seeds':>18s} "
          f"{'fwd+bwd (full model)':>21s} {'radius (init)':>13s}")
    for arch, dataset, channels, classes in CASES:
        run, images, source = run_for(arch, dataset, channels, classes, args.images)
        result = {}

        def one():
            result["erf"] = effective_receptive_field(run, images, batch_size=args.batch_size)

        def init():
            result["init"] = effective_receptive_field_at_init(run, images, seeds=(0, 1, 2), batch_size=args.batch_size)

        erf = median_seconds(one, args.repeats)
        at_init = median_seconds(init, args.repeats)
        plain = median_seconds(lambda: forward_backward(run.model, run.normalize(images), args.batch_size), args.repeats)
        e, i = result["erf"], result["init"]
        print(f"{arch:12s} {source:24s} {e.layer:8s} {erf[0]:6.2f} / {erf[1]:5.2f} {at_init[0]:9.2f} / {at_init[1]:5.2f} "
              f"{plain[0]:12.2f} / {plain[1]:5.2f} {i.radius:9g} px (theory {e.theoretical_size[0]})")


if __name__ == "__main__":
    main()
