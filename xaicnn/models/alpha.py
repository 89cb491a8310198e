"""The 52-class letters-and-digits models of the alpha_bottleneck experiment (1x100x100 glyphs).

``bottleneck_alpha`` (366,792 parameters on 1x100x100 with 52 classes) replaces the 5x5 convolutions
of ``plain_alpha`` (582,824) with ResNet-style 1x1-reduce / 5x5 / 1x1-expand bottlenecks, each conv
followed by BN and ReLU:

- layer1: Conv 1->32 5x5 pad 2, BN, ReLU, MaxPool 2 (100 -> 50)
- layer2: bottleneck 32 -> 16 -> 16 -> 64, MaxPool 2 (-> 25)     | plain: Conv 32->64 5x5
- layer3: bottleneck 64 -> 32 -> 32 -> 128, MaxPool 5 (-> 5)     | plain: Conv 64->128 5x5
- head: Dropout, Linear 3200->100, ReLU, Dropout, Linear 100->K

Each stage's max-pool runs *before* its last ReLU (BN, MaxPool, ReLU). Max-pooling and ReLU commute
exactly (ReLU is monotone, so the max of the rectified values is the rectified max), so the network
computes the same function bit for bit, with that ReLU and its backward on a quarter (layer3: a 25th)
of the values; at 100x100 those full-resolution passes were a tenth of a training step
(bench/step_profile.py; the step ran about 12% faster, docs/performance.md). The module order
differs from the report's; the parameter names and the checkpoints do not.
"""
from __future__ import annotations

import torch.nn as nn

from ._common import flat_features
from ._registry import register_model


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, pool: int = 1) -> list[nn.Module]:
    """Conv, BN, ReLU; with ``pool`` > 1, Conv, BN, MaxPool, ReLU (the same function, see the module's doc)."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2), nn.BatchNorm2d(out_channels)]
    return layers + ([nn.MaxPool2d(pool)] if pool > 1 else []) + [nn.ReLU(inplace=True)]


def bottleneck(in_channels: int, mid: int, out_channels: int, pool: int) -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu(in_channels, mid, 1), *conv_bn_relu(mid, mid, 5),
                         *conv_bn_relu(mid, out_channels, 1, pool))


def plain(in_channels: int, out_channels: int, pool: int) -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu(in_channels, out_channels, 5, pool))


class AlphaNet(nn.Module):
    def __init__(self, layer2: nn.Module, layer3: nn.Module, in_channels: int, num_classes: int, image_size,
                 hidden: int, dropout: float):
        super().__init__()
        self.layer1 = nn.Sequential(*conv_bn_relu(in_channels, 32, 5, pool=2))
        self.layer2 = layer2
        self.layer3 = layer3
        self.flatten = nn.Flatten()
        features = nn.Sequential(self.layer1, self.layer2, self.layer3)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(flat_features(features, in_channels, image_size), hidden),
                                  nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.head(self.flatten(self.layer3(self.layer2(self.layer1(x)))))


@register_model("bottleneck_alpha", "52-class glyph CNN with 1x1-5x5-1x1 bottlenecks (366,792 params on 1x100x100)",
                default_input=(1, 100, 100), default_classes=52, default_dataset="glyphs")
def bottleneck_alpha(*, in_channels, num_classes, image_size, hidden: int = 100, dropout: float = 0.4):
    return AlphaNet(bottleneck(32, 16, 64, 2), bottleneck(64, 32, 128, 5), in_channels, num_classes, image_size,
                    hidden, dropout)


@register_model("plain_alpha", "52-class glyph CNN with plain 5x5 convs in place of bottlenecks (582,824 params)",
                default_input=(1, 100, 100), default_classes=52, default_dataset="glyphs")
def plain_alpha(*, in_channels, num_classes, image_size, hidden: int = 100, dropout: float = 0.4):
    return AlphaNet(plain(32, 64, 2), plain(64, 128, 5), in_channels, num_classes, image_size, hidden, dropout)
