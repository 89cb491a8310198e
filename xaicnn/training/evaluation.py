"""Evaluation of a model on in-memory images: logits in batches, and the classification scores every
epoch records (scikit-learn's)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


# Images per forward pass. On the CPU small passes are faster: bottleneck_alpha (1x100x100) evaluated 1,318
# images/s in passes of 32 against 556 in passes of 256 (fp32, 2 cores), while resnet18, vgg16 and vgg_block
# on 32x32 images ran within 5% of their best at 32 (docs/performance.md).
CPU_BATCH, DEVICE_BATCH = 32, 256
FUSE_FROM = 256  # fold batch norm into the convolutions when predicting at least this many images


def inference_copy(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """``model`` (in eval mode) with each batch norm that follows a convolution folded into it (torch.fx's
    ``fuse``: the same function up to float rounding, one pass over the activations fewer): 1.5x faster
    evaluation of bottleneck_alpha, 1.15x of vgg_block. The model itself where it cannot be traced."""
    from torch.fx.experimental.optimization import fuse

    try:
        fused = fuse(model)
    except Exception:  # noqa: BLE001 - any tracing failure: evaluate the model as it is
        return model
    return fused.to(memory_format=torch.channels_last) if channels_last else fused


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, normalize: Callable, *, batch_size: int | None = None,
            device: torch.device | None = None, bf16: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Logits [N, K] (float32, on the CPU) of ``model`` for uint8 ``images`` [N, C, H, W], in eval mode
    (``model``'s own mode is restored). ``batch_size`` default: ``CPU_BATCH`` on the CPU, ``DEVICE_BATCH`` else."""
    device = device or next(model.parameters()).device
    batch_size = batch_size or (CPU_BATCH if device.type == "cpu" else DEVICE_BATCH)
    was_training = model.training
    model.eval()
    out = []
    try:
        net = inference_copy(model, channels_last) if len(images) >= FUSE_FROM else model
        for i in range(0, len(images), batch_size):
            x = normalize(images[i:i + batch_size].to(device, non_blocking=True))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out.append(net(x).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def classification_scores(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """Loss, accuracy and macro precision/recall/F1 (scikit-learn) of logits against labels."""
    from sklearn.metrics import precision_recall_fscore_support

    preds = logits.argmax(1)
    precision, recall, f1, _ = precision_recall_fscore_support(labels.numpy(), preds.numpy(), labels=list(range(num_classes)),
                                                               average="macro", zero_division=0)
    return {"val_loss": F.cross_entropy(logits, labels).item(), "val_acc": (preds == labels).float().mean().item(),
            "precision": float(precision), "recall": float(recall), "f1": float(f1)}
