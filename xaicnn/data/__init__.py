"""Datasets as uint8 tensors in memory, and batched augmentation.

``load(name, split, ...)`` -> :class:`ImageData`; ``info(name)`` -> :class:`DatasetInfo` without
loading; ``available()`` lists names. Importing this package registers every dataset.
"""
from ._registry import (DATASETS, Dataset, DatasetInfo, ImageData, available, balanced_subset, info, load, normalize,
                        register_dataset)

from . import augment, embedded, imagefolder, torchvision_sets  # noqa: E402,F401  (registration)

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "ImageData", "available", "balanced_subset", "info", "load", "normalize",
           "register_dataset"]
