"""GoogLeNet-style Inception networks (Szegedy et al., "Going Deeper with Convolutions", 2015).

Each module has four branches - 1x1; 1x1 reduce -> 3x3; 1x1 reduce -> 5x5; 3x3 max-pool -> 1x1
projection - concatenated along channels. ``reduce=False`` gives the paper's *naive* module (its
Fig. 2a): the 3x3 and 5x5 convolutions see every input channel and the pool branch passes its input
through unprojected, so widths compound from module to module - the cost the 1x1 reductions remove.

Module widths are GoogLeNet's table 1. Convolutions are conv-BN-ReLU as in torchvision's GoogLeNet
(which, unlike this file, uses 3x3 kernels in its "5x5" branch). ImageNet-size inputs get the paper's
stem (7x7/2 conv, pool, 1x1, 3x3, pool); small images get one 3x3 conv, as the common CIFAR version.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from ..errors import UserError
from ._common import scaled
from ._registry import register_model


class ModuleSpec(NamedTuple):
    ch1x1: int
    ch3x3red: int
    ch3x3: int
    ch5x5red: int
    ch5x5: int
    pool_proj: int


GOOGLENET_MODULES: dict[str, ModuleSpec] = {
    "3a": ModuleSpec(64, 96, 128, 16, 32, 32),
    "3b": ModuleSpec(128, 128, 192, 32, 96, 64),
    "4a": ModuleSpec(192, 96, 208, 16, 48, 64),
    "4b": ModuleSpec(160, 112, 224, 24, 64, 64),
    "4c": ModuleSpec(128, 128, 256, 24, 64, 64),
    "4d": ModuleSpec(112, 144, 288, 32, 64, 64),
    "4e": ModuleSpec(256, 160, 320, 32, 128, 128),
    "5a": ModuleSpec(256, 160, 320, 32, 128, 128),
    "5b": ModuleSpec(384, 192, 384, 48, 128, 128),
}

# Stages of modules; a 3x3/2 max-pool sits between stages.
cfgs: dict[str, list[list[str]]] = {
    "inception_v1": [["3a", "3b"], ["4a", "4b", "4c", "4d", "4e"], ["5a", "5b"]],
    # 24 modules: with the one-conv small stem and the classifier, the longest path has
    # 1 + 2*24 + 1 = 50 weight layers.
    "inception50": [["3a"] + ["3b"] * 5, ["4a", "4b"] + ["4c"] * 7 + ["4d", "4e"], ["5a"] * 6 + ["5b"]],
}


class BasicConv2d(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool = True, **kw):
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, bias=not batch_norm, **kw)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels, eps=0.001))
        super().__init__(*layers, nn.ReLU(inplace=True))


class Inception(nn.Module):
    """One Inception module; ``out_channels`` is the width of its concatenated output."""

    def __init__(self, in_channels: int, spec: ModuleSpec, reduce: bool = True, batch_norm: bool = True):
        super().__init__()
        conv = lambda i, o, k, **kw: BasicConv2d(i, o, k, batch_norm, **kw)  # noqa: E731
        self.branch1 = conv(in_channels, spec.ch1x1, 1)
        if reduce:
            self.branch2 = nn.Sequential(conv(in_channels, spec.ch3x3red, 1), conv(spec.ch3x3red, spec.ch3x3, 3, padding=1))
            self.branch3 = nn.Sequential(conv(in_channels, spec.ch5x5red, 1), conv(spec.ch5x5red, spec.ch5x5, 5, padding=2))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(in_channels, spec.pool_proj, 1))
            pool_out = spec.pool_proj
        else:
            self.branch2 = conv(in_channels, spec.ch3x3, 3, padding=1)
            self.branch3 = conv(in_channels, spec.ch5x5, 5, padding=2)
            self.branch4 = nn.MaxPool2d(3, 1, 1)
            pool_out = in_channels
        self.out_channels = spec.ch1x1 + spec.ch3x3 + spec.ch5x5 + pool_out

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionNet(nn.Module):
    """stem -> stages of Inception modules (max-pool between) -> global average pool -> dropout -> linear."""

    def __init__(self, stages: list[list[str]], in_channels: int, num_classes: int, image_size,
                 stem: str, width: float, reduce: bool, batch_norm: bool, dropout: float):
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        if stem == "imagenet":
            self.stem = nn.Sequential(
                BasicConv2d(in_channels, c(64), 7, batch_norm, stride=2, padding=3), nn.MaxPool2d(3, 2, ceil_mode=True),
                BasicConv2d(c(64), c(64), 1, batch_norm), BasicConv2d(c(64), c(192), 3, batch_norm, padding=1),
                nn.MaxPool2d(3, 2, ceil_mode=True))
        else:
            self.stem = BasicConv2d(in_channels, c(192), 3, batch_norm, padding=1)
        channels = c(192)
        layers: list[nn.Module] = []
        for i, stage in enumerate(stages):
            if i > 0:
                layers.append(nn.MaxPool2d(3, 2, 1))
            for name in stage:
                module = Inception(channels, ModuleSpec(*(c(n) for n in GOOGLENET_MODULES[name])), reduce, batch_norm)
                layers.append(module)
                channels = module.out_channels
        self.inception = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.fc(self.dropout(self.flatten(self.avgpool(self.inception(self.stem(x))))))


def _build(cfg: str, in_channels, num_classes, image_size, stem="auto", width=1.0, stages=None, reduce=True,
           batch_norm=True, dropout=0.4) -> InceptionNet:
    if stem == "auto":
        stem = "imagenet" if min(image_size) >= 64 else "small"
    if stem not in ("imagenet", "small"):
        raise UserError(f"Inception stem must be auto, imagenet or small; got {stem!r}.")
    table = cfgs[cfg]
    if stages is not None:
        if not 1 <= stages <= len(table):
            raise UserError(f"{cfg} has {len(table)} stages; stages must be between 1 and {len(table)}, got {stages}.")
        table = table[:stages]
    return InceptionNet(table, in_channels, num_classes, image_size, stem, width, reduce, batch_norm, dropout)


@register_model("inception_v1", "GoogLeNet-style net: 9 Inception modules with 1x1 reductions, BN, global pool")
def inception_v1(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
                 stages: int | None = None, batch_norm: bool = True, dropout: float = 0.4):
    return _build("inception_v1", in_channels, num_classes, image_size, stem, width, stages, True, batch_norm, dropout)


@register_model("inception_v1_naive", "inception_v1 with naive modules: no 1x1 reductions before 3x3/5x5 or after pooling")
def inception_v1_naive(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
                       stages: int | None = None, batch_norm: bool = True, dropout: float = 0.4):
    return _build("inception_v1", in_channels, num_classes, image_size, stem, width, stages, False, batch_norm, dropout)


@register_model("inception50", "Inception net 50 weight layers deep: 24 GoogLeNet modules with 1x1 reductions")
def inception50(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
                stages: int | None = None, batch_norm: bool = True, dropout: float = 0.4):
    return _build("inception50", in_channels, num_classes, image_size, stem, width, stages, True, batch_norm, dropout)
