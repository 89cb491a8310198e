"""Page faults per training-like step with glibc's default allocator and with the trainer's setting
(xaicnn.training.allocator). Prints figures, asserts nothing: how often glibc's default trims the heap
depends on where small allocations happen to land, so the default's count varies between machines.

Each "step" allocates 64 MiB of activation-sized buffers (8, 24, 8, 24 MiB: each under glibc's 32 MiB
mmap cap), keeps them alive together and frees them, as a training step does.

    python bench/allocator_faults.py
"""
from __future__ import annotations

import subprocess
import sys

CHURN = """
import resource, sys
import torch
from xaicnn.training.allocator import keep_freed_memory_for_reuse, mmapped_bytes
if sys.argv[1] == "tuned":
    assert keep_freed_memory_for_reuse()
def step():
    return [torch.ones(n << 18) for n in (8, 24, 8, 24)]  # MiB of float32
mapped = mmapped_bytes()
first = torch.ones(24 << 18)
mapped = mmapped_bytes() - mapped  # bytes of the first activation-sized buffer glibc gave its own mmap
del first
for _ in range(3):  # warm-up: the first allocations fault in whatever they touch
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(mapped, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def main() -> None:
    if not sys.platform.startswith("linux"):
        print("the allocator setting is glibc's: nothing to measure here")
        return
    pages_per_step = (64 << 20) // 4096
    print(f"{'allocator':<10} {'first 24 MiB buffer mmapped':>28} {'faults/step':>12} {'of its pages':>13}")
    for mode in ("default", "tuned"):
        result = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            print(f"{mode}: failed: {result.stderr[-500:]}")
            continue
        mapped, faults = (int(v) for v in result.stdout.split()[-2:])
        print(f"{mode:<10} {mapped / 2**20:>24.0f} MiB {faults / 20:>12.0f} {faults / 20 / pages_per_step:>12.0%}")


if __name__ == "__main__":
    main()
