"""ResNet-18/50/101 (He et al., "Deep Residual Learning for Image Recognition", 2016), torchvision's
structure built from torchvision's own ``BasicBlock`` and ``Bottleneck``.

Same layer names as torchvision (``conv1``, ``bn1``, ``layer1``..``layer4``, ``fc``) so hooks and
Grad-CAM find stages by name. Differences, both for small images: under 64 pixels the stem is a
3x3 stride-1 convolution without the max-pool (the usual CIFAR stem, so a 32x32 image reaches
``layer4`` at 4x4 instead of 1x1); ``width`` scales every stage (64-128-256-512 at 1.0).
"""
from __future__ import annotations

import torch.nn as nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from ..errors import UserError
from ._common import scaled
from ._registry import register_model

cfgs: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
}


class ResNet(nn.Module):
    def __init__(self, block, layers, in_channels: int, num_classes: int, small_stem: bool, width: float,
                 zero_init_residual: bool = False):
        super().__init__()
        widths = [scaled(w, width) for w in (64, 128, 256, 512)]
        self.inplanes = widths[0]
        if small_stem:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():  # each block starts as the identity (Goyal et al., 2017)
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


def _build(cfg: str, in_channels, num_classes, image_size, stem="auto", width=1.0, zero_init_residual=False) -> ResNet:
    if stem == "auto":
        stem = "imagenet" if min(image_size) >= 64 else "small"
    if stem not in ("imagenet", "small"):
        raise UserError(f"{cfg} stem must be auto, imagenet or small; got {stem!r}.")
    block, layers = cfgs[cfg]
    return ResNet(block, layers, in_channels, num_classes, stem == "small", width, zero_init_residual)


@register_model("resnet18", "ResNet-18: BasicBlock x (2,2,2,2), torchvision structure, CIFAR stem under 64px")
def resnet18(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
             zero_init_residual: bool = False):
    return _build("resnet18", in_channels, num_classes, image_size, stem, width, zero_init_residual)


@register_model("resnet34", "ResNet-34: BasicBlock x (3,4,6,3), torchvision structure, CIFAR stem under 64px")
def resnet34(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
             zero_init_residual: bool = False):
    return _build("resnet34", in_channels, num_classes, image_size, stem, width, zero_init_residual)


@register_model("resnet50", "ResNet-50: Bottleneck x (3,4,6,3), torchvision structure, CIFAR stem under 64px")
def resnet50(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
             zero_init_residual: bool = False):
    return _build("resnet50", in_channels, num_classes, image_size, stem, width, zero_init_residual)


@register_model("resnet101", "ResNet-101: Bottleneck x (3,4,23,3), torchvision structure, CIFAR stem under 64px")
def resnet101(*, in_channels, num_classes, image_size, stem: str = "auto", width: float = 1.0,
              zero_init_residual: bool = False):
    return _build("resnet101", in_channels, num_classes, image_size, stem, width, zero_init_residual)
