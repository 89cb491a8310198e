"""Small helpers every architecture family shares."""
from __future__ import annotations

import itertools

import torch
import torch.nn as nn


class InputTooSmall(Exception):
    """The input shrank to nothing inside the network (raised by ``output_shape``)."""


def as_size(image_size) -> tuple[int, int]:
    """``32`` or ``(32, 32)`` or ``[32, 32]`` -> ``(32, 32)``."""
    if isinstance(image_size, int):
        return (image_size, image_size)
    h, w = image_size
    return (int(h), int(w))


def scaled(channels: int, width: float) -> int:
    """Channel count ``channels`` scaled by the width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))


@torch.no_grad()
def output_shape(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Per-sample output shape of ``module`` for per-sample ``input_shape``, computed on the meta
    device: nothing is allocated and no arithmetic runs, so it is free even for 100M-parameter nets.
    Raises :class:`InputTooSmall` if the input collapses to nothing on the way."""
    tensors = {k: torch.empty_like(v, device="meta")
               for k, v in itertools.chain(module.named_parameters(), module.named_buffers())}
    was_training = module.training
    module.eval()  # batch-norm refuses a batch of one in training mode
    try:
        out = torch.func.functional_call(module, tensors, (torch.zeros((1, *input_shape), device="meta"),))
    except RuntimeError as err:
        text = str(err).lower()
        if any(s in text for s in ("too small", "can't be greater", "non-positive", "output size", "negative")):
            raise InputTooSmall(str(err)) from None
        raise
    finally:
        module.train(was_training)
    return tuple(out.shape[1:])


def flat_features(features: nn.Module, in_channels: int, image_size: tuple[int, int]) -> int:
    """Number of features ``features`` produces per image once flattened (sizes a classifier head)."""
    shape = output_shape(features, (in_channels, *image_size))
    n = 1
    for s in shape:
        n *= s
    if n == 0:
        raise InputTooSmall(f"feature map {shape} is empty")
    return n


def init_like_torchvision(model: nn.Module, linear_std: float | None = 0.01) -> None:
    """Kaiming-normal (fan_out, ReLU) convolutions, unit batch-norm, N(0, linear_std) linears, zero biases:
    torchvision's VGG/AlexNet-era initialisation. ``linear_std=None`` keeps PyTorch's default for linears."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)
