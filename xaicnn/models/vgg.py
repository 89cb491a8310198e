"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2015).

One configuration table: the number of conv layers in each of the five stages (widths 64-128-256-
512-512, a 2x2 max-pool after each). ``kernel_size`` turns VGG-16 into the 7x7 variant of the
kernel-size experiment (padding k//2 keeps every feature map the same size, so only the parameter
count and the cost change). No batch norm by default, as in the paper: that is what makes the 50-layer
variant starve of gradient. The classifier flattens the last feature map (512x1x1 on 32x32 inputs),
so on CIFAR-10 it is 512-4096-4096-K.
"""
from __future__ import annotations

import torch.nn as nn

from ._common import flat_features, init_like_torchvision, scaled
from ._registry import register_model

STAGE_WIDTHS = (64, 128, 256, 512, 512)

# conv layers per stage; weight layers = sum + 3 classifier layers
cfgs: dict[str, tuple[int, ...]] = {
    "vgg11": (1, 1, 2, 2, 2),
    "vgg13": (2, 2, 2, 2, 2),
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
    "vgg50": (4, 6, 12, 13, 12),  # 47 conv + 3 linear = 50 weight layers
    "vgg16_rf": (1, 1, 1, 1, 1),  # one conv per stage, its kernel from SAME_FIELD_KERNELS
}

# Simonyan & Zisserman's comparison (2015, Sec. 2.3 and 4.1): n stacked 3x3 convs see a (2n+1)x(2n+1) field, so
# VGG-16's stages of 2, 2, 3, 3, 3 convs become one 5x5, 5x5, 7x7, 7x7, 7x7 conv each - same receptive field
# per stage, fewer non-linearities, more parameters.
SAME_FIELD_KERNELS = tuple(2 * n + 1 for n in cfgs["vgg16"])


def make_layers(stages: tuple[int, ...], in_channels: int, kernel_size: int | tuple[int, ...], width: float,
                batch_norm: bool) -> nn.Sequential:
    """``kernel_size``: one size for every conv, or one per stage."""
    layers: list[nn.Module] = []
    kernels = kernel_size if isinstance(kernel_size, tuple) else (kernel_size,) * len(stages)
    for repeats, stage_width, kernel_size in zip(stages, STAGE_WIDTHS, kernels):
        out = scaled(stage_width, width)
        for _ in range(repeats):
            layers.append(nn.Conv2d(in_channels, out, kernel_size, padding=kernel_size // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            in_channels = out
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Sequential, in_channels: int, image_size, num_classes: int,
                 fc_width: int, dropout: float):
        super().__init__()
        self.features = features
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(features, in_channels, image_size), fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_width, fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_width, num_classes),
        )
        init_like_torchvision(self)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def _build(cfg: str, in_channels, num_classes, image_size, kernel_size=3, width=1.0, fc_width=4096,
           batch_norm=False, dropout=0.5) -> VGG:
    features = make_layers(cfgs[cfg], in_channels, kernel_size, width, batch_norm)
    return VGG(features, in_channels, image_size, num_classes, scaled(fc_width, width), dropout)


@register_model("vgg11", "VGG-11 (config A): 8 conv 3x3 + 3 FC, no batch norm")
def vgg11(*, in_channels, num_classes, image_size, kernel_size: int = 3, width: float = 1.0, fc_width: int = 4096,
          batch_norm: bool = False, dropout: float = 0.5):
    return _build("vgg11", in_channels, num_classes, image_size, kernel_size, width, fc_width, batch_norm, dropout)


@register_model("vgg16", "VGG-16 (config D): 13 conv 3x3 + 3 FC (512-4096-4096-K on 32x32), no batch norm")
def vgg16(*, in_channels, num_classes, image_size, kernel_size: int = 3, width: float = 1.0, fc_width: int = 4096,
          batch_norm: bool = False, dropout: float = 0.5):
    return _build("vgg16", in_channels, num_classes, image_size, kernel_size, width, fc_width, batch_norm, dropout)


@register_model("vgg16_7x7", "VGG-16 with 7x7 kernels (padding 3): same shapes, about 3x the parameters")
def vgg16_7x7(*, in_channels, num_classes, image_size, width: float = 1.0, fc_width: int = 4096,
              batch_norm: bool = False, dropout: float = 0.5):
    return _build("vgg16", in_channels, num_classes, image_size, 7, width, fc_width, batch_norm, dropout)


@register_model("vgg16_rf", "VGG-16 with each stage's 3x3 stack replaced by one conv of the same receptive field "
                           "(5x5, 5x5, 7x7, 7x7, 7x7)")
def vgg16_rf(*, in_channels, num_classes, image_size, width: float = 1.0, fc_width: int = 4096,
             batch_norm: bool = False, dropout: float = 0.5):
    return _build("vgg16_rf", in_channels, num_classes, image_size, SAME_FIELD_KERNELS, width, fc_width, batch_norm,
                  dropout)


@register_model("vgg19", "VGG-19 (config E): 16 conv 3x3 + 3 FC, no batch norm")
def vgg19(*, in_channels, num_classes, image_size, kernel_size: int = 3, width: float = 1.0, fc_width: int = 4096,
          batch_norm: bool = False, dropout: float = 0.5):
    return _build("vgg19", in_channels, num_classes, image_size, kernel_size, width, fc_width, batch_norm, dropout)


@register_model("vgg50", "VGG-50: 47 conv 3x3 + 3 FC in VGG style, no batch norm (the depth experiment)")
def vgg50(*, in_channels, num_classes, image_size, kernel_size: int = 3, width: float = 1.0, fc_width: int = 4096,
          batch_norm: bool = False, dropout: float = 0.5):
    return _build("vgg50", in_channels, num_classes, image_size, kernel_size, width, fc_width, batch_norm, dropout)
