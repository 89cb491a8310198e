"""AlexNet (Krizhevsky et al., 2012) and ZFNet (Zeiler & Fergus, "Visualizing and Understanding
Convolutional Networks", 2014), from one configuration table.

At ImageNet sizes the stems are the papers' (AlexNet: 96 filters 11x11 stride 4, so a 227x227x3
input gives 55x55x96; ZFNet: 96 filters 7x7 stride 2). Small images (e.g. CIFAR's
32x32) get a small-image stem: the same five conv layers and widths with 3x3/5x5 kernels, stride 1
and 2x2 pooling, so the net is still AlexNet-shaped but does not shrink a 32x32 image to nothing.
``stem="auto"`` takes the paper's stem from 96 pixels up.
Single-tower (no grouped convolutions), as in torchvision and most re-implementations.
"""
from __future__ import annotations

from typing import NamedTuple

import torch.nn as nn

from ..errors import UserError
from ._common import flat_features, init_like_torchvision, scaled
from ._registry import register_model


class ConvSpec(NamedTuple):
    out: int  # filters
    kernel: int
    stride: int
    padding: int
    pool: tuple[int, int, int] | None  # max-pool (kernel, stride, padding) after the ReLU, or None
    lrn: bool  # local response normalisation after the ReLU (the 2012 paper's "brightness normalisation")


# Stems differ only in the first two layers' geometry; the paper's widths are 96-256-384-384-256.
cfgs: dict[str, list[ConvSpec]] = {
    "alexnet": [
        ConvSpec(96, 11, 4, 0, (3, 2, 0), True),
        ConvSpec(256, 5, 1, 2, (3, 2, 0), True),
        ConvSpec(384, 3, 1, 1, None, False),
        ConvSpec(384, 3, 1, 1, None, False),
        ConvSpec(256, 3, 1, 1, (3, 2, 0), False),
    ],
    "zfnet": [
        ConvSpec(96, 7, 2, 1, (3, 2, 1), True),
        ConvSpec(256, 5, 2, 0, (3, 2, 1), True),
        ConvSpec(384, 3, 1, 1, None, False),
        ConvSpec(384, 3, 1, 1, None, False),
        ConvSpec(256, 3, 1, 1, (3, 2, 0), False),
    ],
    "small": [  # both nets on images under 96 pixels: 32 -> 16 -> 8 -> 4
        ConvSpec(96, 3, 1, 1, (2, 2, 0), False),
        ConvSpec(256, 5, 1, 2, (2, 2, 0), False),
        ConvSpec(384, 3, 1, 1, None, False),
        ConvSpec(384, 3, 1, 1, None, False),
        ConvSpec(256, 3, 1, 1, (2, 2, 0), False),
    ],
}


def make_features(cfg: list[ConvSpec], in_channels: int, width: float, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for spec in cfg:
        out = scaled(spec.out, width)
        layers.append(nn.Conv2d(in_channels, out, spec.kernel, spec.stride, spec.padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        if spec.lrn and not batch_norm:
            layers.append(nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0))
        if spec.pool:
            layers.append(nn.MaxPool2d(*spec.pool))
        in_channels = out
    return nn.Sequential(*layers)


class AlexNet(nn.Module):
    """Five conv layers, then dropout-4096-4096-K (``fc_width`` scales the 4096)."""

    def __init__(self, features: nn.Sequential, in_channels: int, image_size, num_classes: int,
                 fc_width: int, dropout: float):
        super().__init__()
        self.features = features
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(flat_features(features, in_channels, image_size), fc_width), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(fc_width, fc_width), nn.ReLU(inplace=True),
            nn.Linear(fc_width, num_classes),
        )
        init_like_torchvision(self)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def _build(arch: str, in_channels, num_classes, image_size, stem, width, fc_width, batch_norm, dropout) -> AlexNet:
    if stem == "auto":
        stem = "imagenet" if min(image_size) >= 96 else "small"
    if stem not in ("imagenet", "small"):
        raise UserError(f"{arch} stem must be auto, imagenet or small; got {stem!r}.")
    cfg = cfgs[arch] if stem == "imagenet" else cfgs["small"]
    features = make_features(cfg, in_channels, width, batch_norm)
    return AlexNet(features, in_channels, image_size, num_classes, scaled(fc_width, width), dropout)


@register_model("alexnet", "AlexNet (2012): 96-256-384-384-256 conv, 4096-4096 FC; small-image stem under 96px",
                default_input=(3, 227, 227), default_classes=1000)
def alexnet(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
            fc_width: int = 4096, batch_norm: bool = False, dropout: float = 0.5):
    return _build("alexnet", in_channels, num_classes, image_size, stem, width, fc_width, batch_norm, dropout)


@register_model("zfnet", "ZFNet (2014): AlexNet with a 7x7 stride-2 first layer; small-image stem under 96px",
                default_input=(3, 224, 224), default_classes=1000)
def zfnet(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
          fc_width: int = 4096, batch_norm: bool = False, dropout: float = 0.5):
    return _build("zfnet", in_channels, num_classes, image_size, stem, width, fc_width, batch_norm, dropout)
