"""Deep fully connected networks: the plain baselines of the plain-vs-residual experiment.

``depth`` linear layers in all: flatten -> (Linear(width) -> ReLU -> Dropout) x (depth-1) -> Linear(K).
PyTorch's default initialisation and no normalisation, so signal and gradient shrink layer by layer
and the 56-layer net sits at chance - the effect the experiment shows.
"""
from __future__ import annotations

import torch.nn as nn

from ._registry import register_model


class DeepFC(nn.Module):
    def __init__(self, depth: int, in_features: int, num_classes: int, width: int, dropout: float):
        super().__init__()
        self.flatten = nn.Flatten()
        layers: list[nn.Module] = []
        for i in range(depth - 1):
            layers += [nn.Linear(in_features if i == 0 else width, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width if depth > 1 else in_features, num_classes)

    def forward(self, x):
        return self.classifier(self.features(self.flatten(x)))


def _build(depth: int, in_channels, num_classes, image_size, width, dropout) -> DeepFC:
    return DeepFC(depth, in_channels * image_size[0] * image_size[1], num_classes, width, dropout)


@register_model("fc20", "FC20: 20 fully connected layers (width 4096), ReLU, dropout - a deep plain baseline")
def fc20(*, in_channels, num_classes, image_size, width: int = 4096, dropout: float = 0.2):
    return _build(20, in_channels, num_classes, image_size, width, dropout)


@register_model("fc56", "FC56: 56 fully connected layers (width 4096), ReLU, dropout - trains at chance")
def fc56(*, in_channels, num_classes, image_size, width: int = 4096, dropout: float = 0.2):
    return _build(56, in_channels, num_classes, image_size, width, dropout)
