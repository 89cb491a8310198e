"""Any folder of images in class subfolders: ``imagefolder:PATH``.

``PATH/train/<class>/*`` and ``PATH/val/<class>/*`` if present; otherwise ``PATH/<class>/*`` split 80/20
per class with a fixed seed. Images are decoded once and cached as tensors (keyed by the folder's
path, file count and newest modification time), all resized to the first image's size; grayscale
folders stay one channel, anything else becomes RGB.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ._cache import cache_dir, cache_key, load_arrays, save_arrays
from ._registry import Dataset, DatasetInfo, ImageData, channel_stats, register_prefix, resize

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def class_files(folder: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Sorted class folder names and (file, class index) pairs, files sorted by name within each class."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; imagefolder:PATH needs a folder of class subfolders.")
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(f, i) for i, c in enumerate(classes) for f in sorted((folder / c).iterdir())
             if f.suffix.lower() in IMAGE_EXTENSIONS]
    if len(classes) < 2 or not files:
        raise UserError(f"{folder} needs at least two class subfolders with images in them "
                        f"(found {len(classes)} folders, {len(files)} images).")
    return classes, files


def _decode(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise UserError(f"{path} is not a readable image ({err.__class__.__name__}); remove it or fix it.") from None


def read_class_folders(folder: Path, *, progress: bool = True, channels: int | None = None):
    """Decode every image under ``folder/<class>/`` -> (uint8 [N, C, H, W], int64 labels, class names), cached."""
    classes, files = class_files(folder)
    newest = max(os.stat(f).st_mtime_ns for f, _ in files)
    path = cache_dir() / "imagefolder" / f"{cache_key(folder=str(folder.resolve()), n=len(files), newest=newest, channels=channels)}.npz"
    if (cached := load_arrays(path)) is not None:
        return torch.from_numpy(cached["images"]), torch.from_numpy(cached["labels"]), list(cached["classes"])

    from PIL import Image

    with Image.open(files[0][0]) as first:
        size = (first.height, first.width)
        mode = {1: "L", 3: "RGB"}.get(channels) or ("L" if first.mode in ("L", "1", "I;16", "I") else "RGB")
    c = 1 if mode == "L" else 3
    images = np.empty((len(files), size[0], size[1], c), dtype=np.uint8)
    iterator = enumerate(files)
    if progress and len(files) > 2000:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(files), desc=f"decoding {folder.name} (once)", unit="img", leave=False)
    for i, (f, _) in iterator:
        images[i] = _decode(f, mode, size).reshape(size[0], size[1], c)
    images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    labels = np.array([label for _, label in files], dtype=np.int64)
    save_arrays(path, images=images, labels=labels, classes=np.array(classes))
    return torch.from_numpy(images), torch.from_numpy(labels), classes


@register_prefix("imagefolder", argument="PATH",
                 description="any folder of class subfolders (train/ and val/ inside, or split 80/20 with a fixed seed)")
class ImageFolderDataset(Dataset):
    """Built on demand for ``imagefolder:PATH`` (a registered prefix, not a registered name)."""

    description = "a folder of class subfolders"
    val_fraction = 0.2

    def __init__(self, path: str):
        self.root = Path(path).expanduser()
        self.name = f"imagefolder:{path}"
        self.presplit = (self.root / "train").is_dir() and (self.root / "val").is_dir()

    def info(self, data_dir=None) -> DatasetInfo:
        from PIL import Image

        classes, files = class_files(self.root / "train" if self.presplit else self.root)
        with Image.open(files[0][0]) as im:
            channels = 1 if im.mode in ("L", "1", "I;16", "I") else 3
            size = (im.height, im.width)
        return DatasetInfo(self.name, f"images under {self.root}", channels, size, tuple(classes), embedded=False,
                           flips_change_class=False)

    def load_split(self, split, data_dir, download, progress, size=None) -> ImageData:
        if self.presplit:
            train = read_class_folders(self.root / "train", progress=progress)
            channels = train[0].shape[1]
            images, labels, classes = train if split == "train" else \
                read_class_folders(self.root / "val", progress=progress, channels=channels)
            if list(classes) != list(train[2]):
                raise UserError(f"{self.root}/train and {self.root}/val must hold the same class folders.")
            images = resize(images, tuple(train[0].shape[-2:]))
            mean, std = channel_stats(train[0])
        else:
            all_images, all_labels, classes = read_class_folders(self.root, progress=progress)
            g = torch.Generator().manual_seed(0)
            is_val = torch.zeros(len(all_labels), dtype=torch.bool)
            for c in range(len(classes)):
                ix = torch.nonzero(all_labels == c).flatten()
                ix = ix[torch.randperm(len(ix), generator=g)]
                is_val[ix[: max(1, round(len(ix) * self.val_fraction))]] = True
            mean, std = channel_stats(all_images[~is_val])
            keep = is_val if split == "val" else ~is_val
            images, labels = all_images[keep], all_labels[keep]
        return ImageData(self.name, split, images, labels, tuple(classes), mean, std)
