"""Linear CKA of ResNet-18 vs ResNet-18 (every block output pair) against the two models' forward passes alone.

Issue 13 asks that CKA cost about one forward pass per model per image plus the Gram updates. On the same
images and minibatches this times (a) ``model_similarity`` - what ``xaicnn similarity`` runs: both models'
forward passes with hooks turning the 10 block outputs of each (stem, 8 residual blocks, logits) into
centred [b, b] Grams, and the unbiased HSIC of all 20 x 20 pairs per minibatch - and (b) the same forward
passes with no hooks. Two ResNet-18s with different random weights (``xaicnn.models.create``, seeds 0 and 1),
1,000 CIFAR-10 validation images from ../shared/data/cifar10 when that folder exists, else random uint8
images of the same shape (the output says which). Wall and CPU seconds of this process (on a shared machine
the wall clock also counts waiting for a core); the median of ``--repeats`` after a warm-up. Asserts nothing.

    .venv/bin/python bench/cka_throughput.py [--images 1000] [--batch-size 128] [--repeats 3] [--device cpu] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from xaicnn import data, models
from xaicnn.analysis.similarity import DEFAULT_BATCH_SIZE, minibatches, model_similarity

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def cifar_images(n: int) -> tuple[torch.Tensor, tuple, tuple, str]:
    """(uint8 images [n, 3, 32, 32], mean, std, where they came from)."""
    if (SHARED_DATA / "cifar10").is_dir():
        val = data.load("cifar10", "val", data_dir=SHARED_DATA, size=n, progress=False)
        return val.images, val.mean, val.std, f"{len(val)} CIFAR-10 validation images (JPEG copy in {SHARED_DATA})"
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return images, (0.5,) * 3, (0.25,) * 3, f"{n} random uint8 images (no CIFAR-10 at {SHARED_DATA})"


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    images, mean, std, source = cifar_images(args.images)
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(models.create("resnet18", in_channels=3, num_classes=10, image_size=32).eval().to(device))
    normalize = lambda x: data.normalize(x, mean, std)  # noqa: E731
    batches = minibatches(len(images), args.batch_size)

    @torch.no_grad()
    def forward_only():
        for b in batches:
            chunk = images[b.start:b.stop].to(device)
            for net in nets:
                net(normalize(chunk))

    def cka():
        return model_similarity(nets, [normalize, normalize], images, names=["resnet18-seed0", "resnet18-seed1"],
                                batch_size=args.batch_size, progress=False)

    forward_only(), cka()  # warm-up: allocator, kernels, the layer trace
    runs = {"forward only": [], "CKA": []}
    result = None
    for _ in range(args.repeats):  # alternate, so a busy moment on a shared machine hits both alike
        runs["forward only"].append(timed(forward_only)[:2])
        wall, cpu_s, result = timed(cka)
        runs["CKA"].append((wall, cpu_s))
    print(f"CKA benchmark: ResNet-18 (seed 0) vs ResNet-18 (seed 1), random weights, on {source}; "
          f"{len(result.layers_a)} x {len(result.layers_b)} block outputs, {result.batches} minibatches of up to "
          f"{result.batch_size}; device {device}, {torch.get_num_threads()} torch threads; median of {args.repeats}")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
    for name, (wall, cpu_s) in med.items():
        print(f"  {name:<13} {wall:7.2f} s wall  {cpu_s:7.2f} s CPU  {len(images) / wall:8.0f} images/s (both models)")
    ratio = med["CKA"][0] / med["forward only"][0]
    print(f"  CKA / forward-only (wall): {ratio:.2f}  -> Gram + HSIC updates add {100 * (ratio - 1):.0f}% "
          f"to the two forward passes")
    print(f"  diagonal (same block, two random inits): {' '.join(f'{v:.2f}' for v in result.cka.diagonal())}")


if __name__ == "__main__":
    main()
