"""MNIST-scale models, each built around one well-known block (the mnist_blocks experiment).

Every model has at most five convolutions, a ``features`` stack (stem -> the block -> pooling) and a
small head, so differences in accuracy come from the block. Inputs are 32x32 (MNIST is resized up).

- ``vgg_block``: two 3x3 conv-BN-ReLU then a max-pool (Simonyan & Zisserman, 2015)
- ``bottleneck_block``: torchvision's ResNet ``Bottleneck`` 1x1-3x3-1x1 with identity shortcut (He et al., 2016)
- ``transformer_block``: 4x4 patch embedding + one torchvision ViT ``EncoderBlock`` (Dosovitskiy et al., 2021)
- ``csp_block``: YOLOv5's C3 cross-stage-partial bottleneck (Wang et al., CSPNet, 2020), after a
  parameter-free space-to-depth stem as in YOLOv5's Focus layer
- ``sppf_block``: YOLOv5's SPPF - three chained 5x5 max-pools concatenated (He et al., SPP, 2015)
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
from torchvision.models.resnet import Bottleneck
from torchvision.models.vision_transformer import EncoderBlock
from torchvision.ops import Conv2dNormActivation

from ._common import output_shape
from ._registry import register_model

ConvReLU = partial(Conv2dNormActivation, activation_layer=nn.ReLU)
ConvSiLU = partial(Conv2dNormActivation, activation_layer=nn.SiLU)  # YOLOv5's Conv: conv-BN-SiLU


class SpaceToDepth(nn.Module):
    """YOLOv5's Focus slicing without its conv: 2x2 pixel blocks become channels (odd sizes padded by one)."""

    def forward(self, x):
        x = nn.functional.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        return nn.functional.pixel_unshuffle(x, 2)


class VGGBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(ConvReLU(in_channels, out_channels, 3), ConvReLU(out_channels, out_channels, 3), nn.MaxPool2d(2))


class C3(nn.Module):
    """YOLOv5 C3: split into a 1x1 -> bottleneck path and a 1x1 shortcut path, concatenate, fuse with 1x1."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        hidden = out_channels // 2
        self.cv1 = ConvSiLU(in_channels, hidden, 1)
        self.cv2 = ConvSiLU(in_channels, hidden, 1)
        self.m = nn.ModuleDict({"cv1": ConvSiLU(hidden, hidden, 1), "cv2": ConvSiLU(hidden, hidden, 3)})
        self.cv3 = ConvSiLU(2 * hidden, out_channels, 1)

    def forward(self, x):
        y = self.cv1(x)
        y = y + self.m["cv2"](self.m["cv1"](y))  # YOLOv5 Bottleneck with shortcut
        return self.cv3(torch.cat([y, self.cv2(x)], 1))


class SPPF(nn.Module):
    """YOLOv5 SPPF: 1x1 reduce, three chained k x k max-pools, concatenate the four maps, 1x1 fuse."""

    def __init__(self, in_channels: int, out_channels: int, k: int = 5):
        super().__init__()
        hidden = in_channels // 2
        self.cv1 = ConvSiLU(in_channels, hidden, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)
        self.cv2 = ConvSiLU(hidden * 4, out_channels, 1)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class BlockNet(nn.Module):
    """features -> adaptive 4x4 average pool -> flatten -> dropout -> linear."""

    def __init__(self, features: nn.Sequential, in_channels: int, num_classes: int, image_size, dropout: float):
        super().__init__()
        self.features = features
        channels = output_shape(features, (in_channels, *image_size))[0]
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels * 16, num_classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.pool(self.features(x))))


class PatchTransformer(nn.Module):
    """ViT in miniature: patch embedding conv, class token + learned positions, one encoder block."""

    def __init__(self, in_channels: int, num_classes: int, image_size, patch: int, dim: int, heads: int,
                 mlp_dim: int, dropout: float):
        super().__init__()
        self.conv_proj = nn.Conv2d(in_channels, dim, patch, patch)
        h, w = output_shape(self.conv_proj, (in_channels, *image_size))[1:]
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, h * w + 1, dim).normal_(std=0.02))
        self.encoder = EncoderBlock(heads, dim, mlp_dim, dropout, 0.0, partial(nn.LayerNorm, eps=1e-6))
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)  # (B, tokens, dim)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embedding
        return self.head(self.ln(self.encoder(x))[:, 0])


@register_model("vgg_block", "MNIST-scale CNN around a VGG block (4 conv layers)",
                default_input=(1, 32, 32), default_dataset="digits", fixed_size=32)
def vgg_block(*, in_channels, num_classes, image_size, dropout: float = 0.2):
    features = nn.Sequential(ConvReLU(in_channels, 32, 3), nn.MaxPool2d(2), VGGBlock(32, 64),
                             ConvReLU(64, 128, 3), nn.MaxPool2d(2))
    return BlockNet(features, in_channels, num_classes, image_size, dropout)


@register_model("bottleneck_block", "MNIST-scale CNN around a ResNet bottleneck block (5 conv layers)",
                default_input=(1, 32, 32), default_dataset="digits", fixed_size=32)
def bottleneck_block(*, in_channels, num_classes, image_size, dropout: float = 0.2):
    features = nn.Sequential(ConvReLU(in_channels, 64, 3), nn.MaxPool2d(2), Bottleneck(64, 16), nn.MaxPool2d(2),
                             ConvReLU(64, 128, 3), nn.MaxPool2d(2))
    return BlockNet(features, in_channels, num_classes, image_size, dropout)


@register_model("transformer_block", "MNIST-scale ViT: 4x4 patches + one transformer encoder block (1 conv layer)",
                default_input=(1, 32, 32), default_dataset="digits", fixed_size=32)
def transformer_block(*, in_channels, num_classes, image_size, patch: int = 4, dim: int = 64, heads: int = 4,
                      mlp_dim: int = 128, dropout: float = 0.1):
    return PatchTransformer(in_channels, num_classes, image_size, patch, dim, heads, mlp_dim, dropout)


@register_model("csp_block", "MNIST-scale CNN around a YOLOv5 C3 (CSP bottleneck) block (5 conv layers)",
                default_input=(1, 32, 32), default_dataset="digits", fixed_size=32)
def csp_block(*, in_channels, num_classes, image_size, dropout: float = 0.2):
    features = nn.Sequential(SpaceToDepth(), C3(4 * in_channels, 64), nn.MaxPool2d(2))
    return BlockNet(features, in_channels, num_classes, image_size, dropout)


@register_model("sppf_block", "MNIST-scale CNN around a YOLOv5 SPPF pooling block (4 conv layers)",
                default_input=(1, 32, 32), default_dataset="digits", fixed_size=32)
def sppf_block(*, in_channels, num_classes, image_size, dropout: float = 0.2):
    features = nn.Sequential(ConvSiLU(in_channels, 32, 3), nn.MaxPool2d(2), ConvSiLU(32, 64, 3), nn.MaxPool2d(2),
                             SPPF(64, 128))
    return BlockNet(features, in_channels, num_classes, image_size, dropout)
