"""The architecture registry: ``@register_model`` fills it, ``create``/``available`` read it.

Every builder has the same keyword-only signature::

    builder(*, in_channels: int, num_classes: int, image_size: tuple[int, int], **options) -> nn.Module

so the CLI, the studies and the app build any architecture from a checkpoint's metadata alone.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from .._registry import Registry
from ..errors import UserError
from ._common import InputTooSmall, as_size, output_shape


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one architecture besides its builder."""

    name: str
    builder: Callable[..., nn.Module]
    description: str  # one line for `xaicnn archs`
    family: str  # module the builder lives in: lenet, vgg, resnet, ...
    default_input: tuple[int, int, int]  # (C, H, W) the architecture is usually trained on
    default_classes: int
    default_dataset: str  # dataset `xaicnn train` uses when none is given
    fixed_size: int | None = None  # datasets are resized to this (the MNIST-scale block models take 32x32)
    options: dict = field(default_factory=dict)  # builder option -> default value

    def input_size_for(self, dataset_size: tuple[int, int]) -> tuple[int, int]:
        """Image size this architecture takes for data of ``dataset_size`` (H, W)."""
        return (self.fixed_size, self.fixed_size) if self.fixed_size else tuple(dataset_size)


MODELS: Registry[ModelSpec] = Registry("architecture")


def register_model(name: str, description: str, *, default_input=(3, 32, 32), default_classes=10,
                   default_dataset: str = "cifar10", fixed_size: int | None = None):
    """Decorator registering a builder under ``name`` (a duplicate name raises)."""

    def wrap(builder):
        params = inspect.signature(builder).parameters
        options = {k: p.default for k, p in params.items()
                   if k not in ("in_channels", "num_classes", "image_size") and p.kind is p.KEYWORD_ONLY}
        MODELS.add(name, ModelSpec(name, builder, description, builder.__module__.rsplit(".", 1)[-1],
                                   tuple(default_input), default_classes, default_dataset, fixed_size, options))
        return builder

    return wrap


def available() -> dict[str, str]:
    """Registered architecture names -> one-line descriptions, in registration order."""
    return {name: spec.description for name, spec in MODELS.items()}


def get_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


def create(name: str, *, in_channels: int, num_classes: int, image_size, **options) -> nn.Module:
    """Build architecture ``name`` for ``in_channels`` x ``image_size`` inputs and ``num_classes`` outputs.

    ``image_size`` is an int or (H, W). Unknown names or options, and inputs too small for the
    architecture, raise :class:`UserError` with one sentence saying what to do.
    """
    spec = MODELS.get(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        known = ", ".join(f"{k}={v!r}" for k, v in spec.options.items()) or "none"
        raise UserError(f"{name} has no option {', '.join(unknown)}; its options are: {known}.")
    size = as_size(image_size)
    if in_channels < 1 or num_classes < 2:
        raise UserError(f"{name} needs at least 1 input channel and 2 classes; got {in_channels} and {num_classes}.")
    try:
        model = spec.builder(in_channels=in_channels, num_classes=num_classes, image_size=size, **options)
        output_shape(model, (in_channels, *size))  # every size problem surfaces here, not mid-training
    except InputTooSmall:
        smallest = min_image_size(name, in_channels=in_channels, num_classes=num_classes, **options)
        raise UserError(f"{name} needs images of at least {smallest}x{smallest} pixels; got "
                        f"{size[0]}x{size[1]} (resize the images, e.g. xaicnn train --image-size {smallest}, or pick another architecture).") from None
    return model


def min_image_size(name: str, *, in_channels: int = 3, num_classes: int = 10, limit: int = 1024, **options) -> int:
    """Smallest square input ``name`` accepts, found by bisection on the meta device (no memory, no FLOPs)."""
    import torch

    spec = MODELS.get(name)

    def fits(s: int) -> bool:
        try:
            with torch.device("meta"):
                model = spec.builder(in_channels=in_channels, num_classes=num_classes, image_size=(s, s), **options)
            output_shape(model, (in_channels, s, s))
            return True
        except InputTooSmall:
            return False

    lo, hi = 1, limit
    if not fits(hi):
        return limit
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid + 1, hi)
    return lo
