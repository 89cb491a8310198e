"""LeNet-5 (LeCun et al., "Gradient-based learning applied to document recognition", 1998).

C1 6@5x5 -> S2 avg-pool -> C3 16@5x5 -> S4 avg-pool -> F5 120 -> F6 84 -> K, tanh activations as in
the paper (``activation="relu"`` for the modern variant). On 32x32 inputs the feature map before F5
is 16x5x5, so F5 is the paper's C5 convolution written as a linear layer.
"""
from __future__ import annotations

import torch.nn as nn

from ._common import flat_features
from ._registry import register_model

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class LeNet5(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int], activation: str = "tanh"):
        super().__init__()
        act = _ACTIVATIONS[activation]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5), act(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), act(), nn.AvgPool2d(2),
        )
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(self.features, in_channels, image_size), 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


@register_model("lenet5", "LeNet-5 (1998): two 5x5 conv + avg-pool stages, 120-84-K classifier, tanh",
                default_input=(1, 32, 32), default_dataset="digits")
def lenet5(*, in_channels, num_classes, image_size, activation: str = "tanh"):
    if activation not in _ACTIVATIONS:
        from ..errors import UserError
        raise UserError(f"lenet5 activation must be one of {', '.join(_ACTIVATIONS)}; got {activation!r}.")
    return LeNet5(in_channels, num_classes, image_size, activation)
