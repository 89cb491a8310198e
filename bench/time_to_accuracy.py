"""Time to accuracy: seconds of wall time until ``xaicnn train --arch bottleneck_alpha`` reaches 97%, 98% and
98.5% validation accuracy on the glyphs' unseen-font split (41,600 train / 15,600 validation images, 1x100x100).

Trains the default recipe (what the CLI runs: :func:`xaicnn.training.recipes.config_for`) - or the settings
before the recipe (``--before``: TrainConfig's defaults) - and after every epoch evaluates the whole
validation split in fp32 from the epoch's checkpoint, outside the clock (the trainer itself may evaluate only a
subset until the last epoch). The wall time counts everything ``train`` does: data preparation (loading or
rendering the glyphs, building the model), training steps, its own validation and checkpoint writes; it is
split into those three parts. Several seeds with ``--seeds N`` (about 10 minutes each on 2 cores). Prints the
machine's load before and after; asserts nothing. The last line is the seconds to 98.5% (the median over the
seeds that reached it) or "not reached".

    python bench/time_to_accuracy.py [--seeds N] [--before] [--set epochs=8 --set lr=3e-3 ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from xaicnn import data
from xaicnn.cli._common import parse_model_options as parse_settings  # KEY=VALUE, values as literals
from xaicnn.training import TrainConfig, load_checkpoint, predict, train
from xaicnn.training.recipes import config_for

ARCH = "bottleneck_alpha"
TARGETS = (0.97, 0.98, 0.985)


def load_avg() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(config: TrainConfig, val: data.ImageData) -> dict:
    """Train ``config``; the whole-split accuracy and the wall time (clock minus this bench's own evaluations)
    at every epoch's end."""
    outside = 0.0  # seconds spent here evaluating, taken off the clock
    epochs = []
    start = time.perf_counter()

    def on_epoch_end(epoch: int) -> None:
        nonlocal outside
        t = time.perf_counter()
        wall = t - start - outside
        run = load_checkpoint(config.out)
        if run.history[-1].get("val_images", len(val)) == len(val):  # the trainer evaluated the whole split in fp32
            acc = run.history[-1]["val_acc"]
        else:
            logits = predict(run.model, val.images, run.normalize, channels_last=True)
            acc = (logits.argmax(1) == val.labels).float().mean().item()
        epochs.append({"epoch": epoch, "wall": wall, "acc": acc, "trainer_acc": run.history[-1]["val_acc"],
                       "trainer_images": run.history[-1].get("val_images", len(val))})
        print(f"  epoch {epoch}: {wall:6.1f} s, val acc {acc:.4f} (whole split, fp32; the trainer recorded "
              f"{epochs[-1]['trainer_acc']:.4f} on {epochs[-1]['trainer_images']:,} images)", flush=True)
        outside += time.perf_counter() - t

    train(config, overwrite=True, progress=False, log=lambda *a, **k: None, on_epoch_end=on_epoch_end)
    total = time.perf_counter() - start - outside
    history = load_checkpoint(config.out).history
    training = sum(h["train_seconds"] for h in history)
    validation = sum(h["seconds"] - h["train_seconds"] for h in history)
    return {"epochs": epochs, "total": total, "training": training, "validation": validation,
            "other": total - training - validation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--before", action="store_true", help="TrainConfig's defaults instead of the arch's recipe")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a TrainConfig field")
    args = parser.parse_args()
    base = TrainConfig(arch=ARCH) if args.before else config_for(ARCH)
    base = replace(base, **parse_settings(args.set))
    val = data.load("glyphs", "val", progress=False)
    settings = {k: v for k, v in base.to_dict().items() if k not in ("arch", "out", "seed", "model_options", "data_dir")}
    print(f"{ARCH} on glyphs ({'before: TrainConfig defaults' if args.before else 'the recipe'}): {settings}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {load_avg()}", flush=True)
    reached: dict[float, list[float]] = {t: [] for t in TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            print(f"seed {seed}:", flush=True)
            result = run_once(replace(base, seed=seed, out=str(Path(tmp) / f"seed{seed}.pt")), val)
            for target in TARGETS:
                hit = next((e["wall"] for e in result["epochs"] if e["acc"] >= target), None)
                if hit is not None:
                    reached[target].append(hit)
            final = result["epochs"][-1]
            hits = [next((f"{e['wall']:.0f} s" for e in result["epochs"] if e["acc"] >= t), "never") for t in TARGETS]
            print(f"  seed {seed}: {final['acc']:.4f} after {result['total']:.0f} s = training {result['training']:.0f} s + "
                  f"validation {result['validation']:.0f} s + data preparation and checkpoints {result['other']:.0f} s; "
                  + ", ".join(f"{t:.1%} at {hit}" for t, hit in zip(TARGETS, hits)), flush=True)
    print(load_avg())
    for target in TARGETS:
        times = reached[target]
        print(f"{target:.1%}: reached by {len(times)} of {args.seeds} seeds"
              + (f", median {statistics.median(times):.0f} s (min {min(times):.0f}, max {max(times):.0f})" if times else ""))
    times = reached[TARGETS[-1]]
    print(f"seconds to {TARGETS[-1]:.1%}: {statistics.median(times):.0f}" if times else
          f"seconds to {TARGETS[-1]:.1%}: not reached")


if __name__ == "__main__":
    main()
