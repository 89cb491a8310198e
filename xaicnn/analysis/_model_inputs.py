"""What the analyses that run a model on images share: a run or a bare model, and its inputs."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import UserError


def model_inputs(source, images) -> tuple[nn.Module, torch.Tensor, str]:
    """(model, model inputs [N, C, H, W], label) for ``source``, a :class:`~xaicnn.training.Run` or an
    ``nn.Module``. A run's images (uint8 or 0..1, or an ``ImageData`` split) are normalised as it was trained
    on them; a bare module takes them as they are (uint8 turned to float)."""
    images = getattr(images, "images", images)  # ImageData or a tensor
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not len(images):
        raise UserError("images must be a non-empty [N, C, H, W] tensor (or a dataset split).")
    if isinstance(source, nn.Module):
        return source, images.float() if images.dtype == torch.uint8 else images, type(source).__name__
    return source.model, source.normalize(images), source.name
