"""The CIFAR-10 networks of He et al. (2016), section 4.2: residual and plain.

A 3x3 conv with 16 filters, then three stages of ``n`` two-conv blocks at 16, 32 and 64 filters
(32x32 -> 16x16 -> 8x8), global average pooling and a K-way linear layer: 6n+2 weight layers
(n=3 -> 20, n=9 -> 56). Residual nets use the paper's option A shortcuts (identity; at a stage change,
stride-2 subsampling with zero-padded channels, so shortcuts add no parameters). Plain nets are the
same stack without shortcuts, which is what makes plain-56 train worse than plain-20.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from ._common import scaled
from ._registry import register_model


class ZeroPadShortcut(nn.Module):
    """Option A: subsample spatially by ``stride`` and zero-pad the new channels (parameter-free)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, out_channels - in_channels

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class CifarBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN (+ shortcut) -ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, residual: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual
        if residual and (stride != 1 or in_channels != out_channels):
            self.shortcut = ZeroPadShortcut(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, n: int, in_channels: int, num_classes: int, residual: bool, width: float):
        super().__init__()
        widths = [scaled(w, width) for w in (16, 32, 64)]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        stages, channels = [], widths[0]
        for i, w in enumerate(widths):
            blocks = [CifarBlock(channels if j == 0 else w, w, 2 if (i > 0 and j == 0) else 1, residual) for j in range(n)]
            stages.append(nn.Sequential(*blocks))
            channels = w
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out" if isinstance(m, nn.Conv2d) else "fan_in", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


@register_model("resnet20", "CIFAR ResNet-20 (He et al. 4.2): 3 stages x 3 blocks, 16-32-64 filters, option A shortcuts")
def resnet20(*, in_channels, num_classes, image_size, width: float = 1.0):
    return CifarResNet(3, in_channels, num_classes, residual=True, width=width)


@register_model("resnet56", "CIFAR ResNet-56 (He et al. 4.2): 3 stages x 9 blocks, 16-32-64 filters, option A shortcuts")
def resnet56(*, in_channels, num_classes, image_size, width: float = 1.0):
    return CifarResNet(9, in_channels, num_classes, residual=True, width=width)


@register_model("plain20", "Plain-20: resnet20 without shortcuts (He et al. 4.2)")
def plain20(*, in_channels, num_classes, image_size, width: float = 1.0):
    return CifarResNet(3, in_channels, num_classes, residual=False, width=width)


@register_model("plain56", "Plain-56: resnet56 without shortcuts; trains worse than plain20 (He et al. 4.2)")
def plain56(*, in_channels, num_classes, image_size, width: float = 1.0):
    return CifarResNet(9, in_channels, num_classes, residual=False, width=width)
