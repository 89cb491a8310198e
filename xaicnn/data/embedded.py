"""The embedded datasets: they need no files and no network, so they run everywhere.

- ``digits``: scikit-learn's 1,797 real handwritten digits (8x8, 17 grey levels), resized to 32x32.
- ``glyphs``: 52 classes of characters rendered from the fonts matplotlib ships (see ``glyphs.py``),
  generated once per seed and cached under ``$XAICNN_CACHE``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from . import glyphs
from ._cache import cache_dir, cache_key, load_arrays, save_arrays
from ._registry import Dataset, DatasetInfo, ImageData, channel_stats, register_dataset, resize


@register_dataset
class Digits(Dataset):
    name = "digits"
    description = "scikit-learn's real handwritten digits (1,797 images, 8x8 upscaled to 32x32), 1,347 train / 450 val"
    image_size = 32
    val_fraction = 0.25  # stratified, random_state=0: the split is fixed

    def info(self, data_dir=None) -> DatasetInfo:
        return DatasetInfo(self.name, self.description, 1, (self.image_size,) * 2, tuple(str(d) for d in range(10)),
                           embedded=True, flips_change_class=True)

    def load_split(self, split, data_dir, download, progress, size=None) -> ImageData:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        bunch = load_digits()
        images = torch.from_numpy(np.round(bunch.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
        labels = torch.from_numpy(bunch.target.astype(np.int64))
        train_ix, val_ix = train_test_split(np.arange(len(labels)), test_size=self.val_fraction,
                                            stratify=bunch.target, random_state=0)
        images = resize(images, (self.image_size, self.image_size))
        mean, std = channel_stats(images[train_ix])
        ix = torch.from_numpy(train_ix if split == "train" else val_ix)
        return ImageData(self.name, split, images[ix], labels[ix], self.info().classes, mean, std)


@register_dataset
class Glyphs(Dataset):
    name = "glyphs"
    description = ("52 classes of font-rendered digits and letters (1x100x100), 800 train + 300 val per class; "
                   "validation fonts are never used for training")
    per_class = {"train": 800, "val": 300}
    seed = 0
    version = 1  # bump when the renderer changes, so old caches are not reused

    def info(self, data_dir=None) -> DatasetInfo:
        size = glyphs.IMAGE_SIZE
        return DatasetInfo(self.name, self.description, 1, (size, size), tuple(glyphs.GLYPH_CLASSES),
                           embedded=True, flips_change_class=True)

    def _path(self, split: str, per_class: int) -> Path:
        key = cache_key(split=split, per_class=per_class, seed=self.seed, version=self.version)
        return cache_dir() / "glyphs" / f"{split}-{per_class}-{key}.npz"

    def _arrays(self, split: str, per_class: int, progress: bool) -> dict[str, np.ndarray]:
        """Cached arrays with at least ``per_class`` images per class (renders them on first use)."""
        full = self.per_class[split]
        for candidate in sorted({per_class, full}, reverse=True):
            if candidate >= per_class and (arrays := load_arrays(self._path(split, candidate))) is not None:
                return arrays
        images, labels = _render(split, per_class, self.seed, progress)
        arrays = {"images": images, "labels": labels}
        save_arrays(self._path(split, per_class), **arrays)
        return arrays

    def load_split(self, split, data_dir, download, progress, size=None) -> ImageData:
        full = self.per_class[split]
        per_class = min(full, math.ceil(size / len(glyphs.GLYPH_CLASSES))) if size else full
        arrays = self._arrays(split, per_class, progress)
        # Stats of the split itself; the trainer normalises every split with the training split's.
        mean, std = channel_stats(torch.from_numpy(arrays["images"][:, None]))
        return ImageData(self.name, split, torch.from_numpy(arrays["images"]).unsqueeze(1),
                         torch.from_numpy(arrays["labels"]).long(), self.info().classes, mean, std)


def _render(split: str, per_class: int, seed: int, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=per_class * len(glyphs.GLYPH_CLASSES), desc=f"rendering glyphs ({split}, once)", unit="img",
                   leave=False)

    def report(done, total):
        if bar is not None:
            bar.update(done - bar.n)

    try:
        return glyphs.render_glyphs(split, per_class, seed=seed, progress=report)
    finally:
        if bar is not None:
            bar.close()
