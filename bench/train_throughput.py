"""Training throughput: xaicnn's loop against a bare PyTorch loop and a typical DataLoader loop.

Same model, same data, same batch size and optimiser (Adam), for
  (a)  a bare hand-written loop over in-memory float tensors (fp32, NCHW: what a tutorial writes),
  (a*) the same bare loop with xaicnn's precision, memory-format and allocator settings (to isolate the
       loop's own overhead),
  (b)  a typical torch.utils.data.DataLoader over PIL images with per-image torchvision transforms,
  (c)  ``xaicnn.train`` with gradient flow off, and (d) on.
Images/s count training steps only (no validation): the best warm epoch (all but the first), since on a
shared 2-core machine single epochs vary by 10-30%. Prints figures, asserts nothing; the last line is
``c/a=X.XX d/c=X.XX c/b=X.XX`` (geometric mean over the two setups).
(a) and (b) run first for every setup: the trainer's allocator setting is process-wide and cannot be
undone, and they stand for loops written without it.

    python bench/train_throughput.py [--epochs N]
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time

import torch
import torch.nn.functional as F

from xaicnn import data, models
from xaicnn.training import TrainConfig, load_checkpoint, train
from xaicnn.training.allocator import keep_freed_memory_for_reuse
from xaicnn.training.device import cpu_has_native_bf16

SETUPS = [  # (arch, dataset, training images, batch size)
    ("bottleneck_alpha", "glyphs", 2600, 64),
    ("vgg_block", "digits", 1347, 64),
]


def bare_loop(arch, train_set, batch_size, epochs, *, bf16=False, channels_last=False) -> float:
    torch.manual_seed(0)
    x_all = train_set.normalize(train_set.images)
    y_all = train_set.labels
    model = models.create(arch, in_channels=train_set.in_channels, num_classes=len(train_set.classes),
                          image_size=train_set.image_size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    rate = 0.0
    for epoch in range(epochs):
        perm = torch.randperm(len(y_all))
        start, seen = time.perf_counter(), 0
        for i in range(0, len(perm) - 1, batch_size):
            idx = perm[i:i + batch_size]
            x = x_all[idx]
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x).float(), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx)
        if epoch:  # the first epoch warms up
            rate = max(rate, seen / (time.perf_counter() - start))
    return rate


class PILDataset(torch.utils.data.Dataset):
    """What a typical torchvision dataset is: PIL images, transformed one at a time in __getitem__."""

    def __init__(self, train_set):
        from PIL import Image
        from torchvision.transforms import v2

        mode = "L" if train_set.in_channels == 1 else "RGB"
        arrays = train_set.images.permute(0, 2, 3, 1).numpy()
        self.images = [Image.fromarray(a.squeeze(-1) if mode == "L" else a, mode) for a in arrays]
        self.labels = train_set.labels.tolist()
        self.transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                                     v2.Normalize(list(train_set.mean), list(train_set.std))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def dataloader_loop(arch, train_set, batch_size, epochs) -> float:
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(PILDataset(train_set), batch_size=batch_size, shuffle=True)
    model = models.create(arch, in_channels=train_set.in_channels, num_classes=len(train_set.classes),
                          image_size=train_set.image_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rate = 0.0
    for epoch in range(epochs):
        start, seen = time.perf_counter(), 0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(y)
        if epoch:
            rate = max(rate, seen / (time.perf_counter() - start))
    return rate


def xaicnn_loop(arch, dataset, size, batch_size, epochs, grad_flow: bool) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(arch=arch, dataset=dataset, epochs=epochs, batch_size=batch_size, lr=1e-3, schedule="none",
                             train_size=size, val_size=52 * 2, grad_flow=grad_flow, out=f"{tmp}/run.pt")
        run = load_checkpoint(train(config, progress=False, log=lambda *a, **k: None))
        return max(h["images_per_s"] for h in run.history[1:]), run.meta["precision"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per measurement (at least 2); the best but the first is reported")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is a warm-up.")
    bf16 = cpu_has_native_bf16()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {bf16}")
    ratios = {"c/a": [], "d/c": [], "c/b": []}
    sets, plain = {}, {}
    for arch, dataset, size, bs in SETUPS:  # loops written without xaicnn's settings, first (see above)
        train_set = data.load(dataset, "train", size=size, progress=False)
        spec = models.get_spec(arch)
        if spec.fixed_size and train_set.image_size != (spec.fixed_size,) * 2:
            train_set = data.load(dataset, "train", size=size, image_size=spec.fixed_size, progress=False)
        sets[arch] = train_set
        plain[arch] = (bare_loop(arch, train_set, bs, args.epochs), dataloader_loop(arch, train_set, bs, args.epochs))
    tuned = keep_freed_memory_for_reuse()
    for arch, dataset, size, bs in SETUPS:
        train_set, (a, b) = sets[arch], plain[arch]
        a_star = bare_loop(arch, train_set, bs, args.epochs, bf16=bf16, channels_last=True)
        c, precision = xaicnn_loop(arch, dataset, size, bs, args.epochs, grad_flow=False)
        d, _ = xaicnn_loop(arch, dataset, size, bs, args.epochs, grad_flow=True)
        print(f"\n{arch} on {dataset}: {len(train_set)} images {'x'.join(map(str, train_set.images.shape[1:]))}, batch {bs}")
        print(f"  (a)  bare loop, fp32 NCHW                    {a:8.0f} img/s")
        print(f"  (a*) bare loop, {precision} channels-last{' + allocator' if tuned else ''}  {a_star:8.0f} img/s")
        print(f"  (b)  DataLoader + per-image transforms       {b:8.0f} img/s")
        print(f"  (c)  xaicnn, gradient flow off ({precision})       {c:8.0f} img/s")
        print(f"  (d)  xaicnn, gradient flow on  ({precision})       {d:8.0f} img/s")
        print(f"  c/a={c / a:.2f} c/a*={c / a_star:.2f} d/c={d / c:.2f} c/b={c / b:.2f}")
        ratios["c/a"].append(c / a)
        ratios["d/c"].append(d / c)
        ratios["c/b"].append(c / b)
    gm = {k: math.exp(sum(map(math.log, v)) / len(v)) for k, v in ratios.items()}
    print("\ngeometric mean over the setups:")
    print(f"c/a={gm['c/a']:.2f} d/c={gm['d/c']:.2f} c/b={gm['c/b']:.2f}")


if __name__ == "__main__":
    main()
