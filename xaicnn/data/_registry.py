"""The dataset registry and the two types every dataset returns.

A dataset is a small subclass of :class:`Dataset` that says what it is (:meth:`Dataset.info`, cheap:
no loading) and how to load a split as uint8 tensors (:meth:`Dataset.load_split`). ``load()`` adds
what every dataset shares: class-balanced subsets, resizing, and the one-sentence errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .._registry import Registry
from ..errors import UserError


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset without loading it."""

    name: str
    description: str
    in_channels: int
    image_size: tuple[int, int]  # (H, W)
    classes: tuple[str, ...]
    embedded: bool  # ships with xaicnn (no files, no network)
    flips_change_class: bool  # characters and digits: a mirrored "b" is a "d"
    mean: tuple[float, ...] | None = None  # normalisation stats when fixed in advance
    std: tuple[float, ...] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """The one normalisation of the project: uint8 (0..255) or 0..1 float images [N, C, H, W] -> float32
    ``(x - mean) / std`` per channel, on the images' device. ``mean``/``std`` are per-channel sequences
    (a dataset's, a checkpoint's) or tensors already shaped [1, C, 1, 1]. uint8 input is never modified."""
    x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()  # .float() copied uint8
    mean = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


@dataclass
class ImageData:
    """One split held in memory: ``images`` uint8 [N, C, H, W], ``labels`` int64 [N]."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]  # per-channel, on the 0..1 scale, from the training split
    std: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[-2:])

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or 0..1 float images [N, C, H, W] -> normalised float32 (:func:`normalize`)."""
        return normalize(images, self.mean, self.std)

    def subset(self, index: torch.Tensor) -> "ImageData":
        return ImageData(self.name, self.split, self.images[index], self.labels[index], self.classes, self.mean, self.std)


class Dataset:
    """Base class: subclasses set the class attributes and implement ``info`` and ``load_split``."""

    name: str = ""
    description: str = ""
    splits: tuple[str, ...] = ("train", "val")

    def info(self, data_dir: Path | None = None) -> DatasetInfo:
        raise NotImplementedError

    def load_split(self, split: str, data_dir: Path | None, download: bool, progress: bool,
                   size: int | None = None) -> ImageData:
        """The whole split (``size`` is a hint: generated datasets may render only that many)."""
        raise NotImplementedError


DATASETS: Registry[Dataset] = Registry("dataset")


def register_dataset(cls: type[Dataset]) -> type[Dataset]:
    """Class decorator: register one instance of a :class:`Dataset` subclass under its ``name``."""
    DATASETS.add(cls.name, cls())
    return cls


@dataclass(frozen=True)
class PrefixDataset:
    """A family of datasets named ``PREFIX:ARGUMENT`` (``imagefolder:PATH``): ``make(argument)`` builds one."""

    make: Callable[[str], Dataset]
    argument: str  # what follows the colon, for help texts ("PATH")
    description: str


# Filled by the modules that define such datasets (imagefolder registers itself), so this module imports none
# of them: they import their base types from here, and ``xaicnn.data`` imports them for registration.
PREFIX_DATASETS: Registry[PrefixDataset] = Registry("dataset prefix")


def register_prefix(prefix: str, *, argument: str, description: str):
    """Class decorator: ``PREFIX:ARGUMENT`` names resolve to ``cls(ARGUMENT)`` (a :class:`Dataset`)."""

    def wrap(cls):
        PREFIX_DATASETS.add(prefix, PrefixDataset(cls, argument, description))
        return cls

    return wrap


def resolve(name: str) -> Dataset:
    """Registry lookup; a registered prefix (``imagefolder:PATH``) builds that dataset for what follows the colon."""
    prefix, colon, argument = name.partition(":")
    if colon and prefix in PREFIX_DATASETS:
        return PREFIX_DATASETS.get(prefix).make(argument)
    return DATASETS.get(name)


def available() -> dict[str, str]:
    """Dataset names -> one-line descriptions; prefix datasets as ``PREFIX:ARGUMENT`` (``imagefolder:PATH``)."""
    out = {name: ds.description for name, ds in DATASETS.items()}
    out.update({f"{prefix}:{p.argument}": p.description for prefix, p in PREFIX_DATASETS.items()})
    return out


def info(name: str, data_dir: str | Path | None = None) -> DatasetInfo:
    """Channels, classes, image size and description of dataset ``name``, without loading it."""
    return resolve(name).info(Path(data_dir) if data_dir else None)


def balanced_subset(labels: torch.Tensor, size: int, num_classes: int) -> torch.Tensor:
    """Indices of ``size`` items with classes as equal as they can be: the first items of each class in
    stored order (every dataset stores its items in a fixed, class-mixed order), so every run that asks
    for the same size sees the same images, and a smaller subset is a prefix of a larger one."""
    by_class = [torch.nonzero(labels == c).flatten() for c in range(num_classes)]
    share, extra = divmod(size, num_classes)
    quota = [min(share + (1 if c < extra else 0), len(ix)) for c, ix in enumerate(by_class)]
    short = min(size, len(labels)) - sum(quota)  # classes with too few items hand their share on, one at a time
    while short > 0:
        c = min((c for c in range(num_classes) if quota[c] < len(by_class[c])), key=lambda c: quota[c])
        quota[c] += 1
        short -= 1
    return torch.cat([ix[:q] for ix, q in zip(by_class, quota)]).sort().values


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [N, C, H, W] -> uint8 [N, C, *size], bilinear with antialiasing, in chunks to bound memory."""
    import torch.nn.functional as F

    if tuple(images.shape[-2:]) == tuple(size):
        return images
    out = torch.empty((images.shape[0], images.shape[1], *size), dtype=torch.uint8)
    for i in range(0, len(images), 4096):
        chunk = F.interpolate(images[i:i + 4096].float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        out[i:i + 4096] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


def load(name: str, split: str = "train", *, data_dir: str | Path | None = None, download: bool = False,
         size: int | None = None, image_size: int | tuple[int, int] | None = None, progress: bool = True) -> ImageData:
    """Load ``split`` ('train' or 'val') of dataset ``name`` into memory as uint8 tensors.

    ``size``: total number of images to keep (a class-balanced subset, the same for every run).
    ``image_size``: resize to this (H, W) (e.g. MNIST's 28x28 to the 32x32 the block models take).
    Missing files raise :class:`UserError` saying where the loader looked and what to pass.
    """
    dataset = resolve(name)
    if split not in dataset.splits:
        raise UserError(f"{name} has splits {', '.join(dataset.splits)}; got {split!r}.")
    data = dataset.load_split(split, Path(data_dir).expanduser() if data_dir else None, download, progress, size)
    if size is not None:
        if size < 1:
            raise UserError(f"The {split} size must be a positive number of images; got {size}.")
        if size < len(data):
            data = data.subset(balanced_subset(data.labels, size, len(data.classes)))
    if image_size is not None:
        target = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        data.images = resize(data.images, target)
    return data


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images [N, C, H, W] on the 0..1 scale (computed in chunks)."""
    n, c = images.shape[:2]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for i in range(0, n, 8192):
        x = images[i:i + 8192].to(torch.float64).div_(255)
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = n * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())
