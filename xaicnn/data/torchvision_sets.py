"""MNIST and CIFAR-10 through torchvision, from a local folder; downloaded only when asked.

CIFAR-10 also reads an image-folder copy (``<data-dir>/cifar10/train|val/<class>/*``) when
torchvision's batch files are absent; the decoded folder is cached as tensors, so only the first run
pays for decoding 60,000 files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ._cache import default_data_dir
from ._registry import Dataset, DatasetInfo, ImageData, register_dataset

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _missing(name: str, looked: str, data_dir: Path) -> UserError:
    return UserError(f"{name} not found: looked for {looked} under {data_dir}; pass --data-dir with the folder "
                     f"that holds it, or --download to fetch it (or use an embedded dataset: --dataset digits or glyphs).")


@register_dataset
class MNIST(Dataset):
    name = "mnist"
    description = "MNIST handwritten digits (1x28x28, 60,000 train / 10,000 test as val), via torchvision"

    def info(self, data_dir=None) -> DatasetInfo:
        return DatasetInfo(self.name, self.description, 1, (28, 28), tuple(str(d) for d in range(10)),
                           embedded=False, flips_change_class=True, mean=(0.1307,), std=(0.3081,))

    def load_split(self, split, data_dir, download, progress, size=None) -> ImageData:
        from torchvision.datasets import MNIST as TorchMNIST

        root = data_dir or default_data_dir()
        try:
            ds = TorchMNIST(str(root), train=(split == "train"), download=download)
        except RuntimeError:
            raise _missing("MNIST", "MNIST/raw/train-images-idx3-ubyte", root) from None
        meta = self.info()
        return ImageData(self.name, split, ds.data.unsqueeze(1).clone(), ds.targets.long().clone(), meta.classes,
                         meta.mean, meta.std)


@register_dataset
class CIFAR10(Dataset):
    name = "cifar10"
    description = "CIFAR-10 (3x32x32, 10 classes, 50,000 train / 10,000 test as val), batch files or an image folder"

    def info(self, data_dir=None) -> DatasetInfo:
        return DatasetInfo(self.name, self.description, 3, (32, 32), CIFAR10_CLASSES, embedded=False,
                           flips_change_class=False, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))

    def load_split(self, split, data_dir, download, progress, size=None) -> ImageData:
        from torchvision.datasets import CIFAR10 as TorchCIFAR10

        root = data_dir or default_data_dir()
        meta = self.info()
        folder = root / "cifar10" / split
        if (root / "cifar-10-batches-py").is_dir() or download or not folder.is_dir():
            try:
                ds = TorchCIFAR10(str(root), train=(split == "train"), download=download)
            except RuntimeError:
                raise _missing("CIFAR-10", "cifar-10-batches-py/ or cifar10/train|val/<class>/", root) from None
            images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
            labels = torch.tensor(ds.targets, dtype=torch.long)
        else:
            from .imagefolder import read_class_folders

            images, labels, classes = read_class_folders(folder, progress=progress, channels=3)
            if tuple(classes) != CIFAR10_CLASSES:
                raise UserError(f"{folder} should hold the ten CIFAR-10 class folders ({', '.join(CIFAR10_CLASSES)}); "
                                f"found {', '.join(classes) or 'none'}.")
        return ImageData(self.name, split, images, labels, meta.classes, meta.mean, meta.std)
