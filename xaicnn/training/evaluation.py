"""Evaluation of a model on in-memory images: logits in batches, and the classification scores every
epoch records (scikit-learn's)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, normalize: Callable, *, batch_size: int = 256,
            device: torch.device | None = None, bf16: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Logits [N, K] (float32, on the CPU) of ``model`` for uint8 ``images`` [N, C, H, W]."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for i in range(0, len(images), batch_size):
            x = normalize(images[i:i + batch_size].to(device, non_blocking=True))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out.append(model(x).float().cpu())
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
