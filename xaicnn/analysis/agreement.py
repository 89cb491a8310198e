"""How much the attribution maps of several models agree on the same images.

Two measures for every pair of runs, per image and then averaged over the images, both on |map| (which
pixels matter, whatever the sign):

- **Spearman rank correlation** of all pixels (``scipy.stats.spearmanr`` through
  :func:`xaicnn.analysis.sanity.spearman_per_image`; a constant map ranks nothing and counts as 0), the
  similarity measure of Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
- **Top-k IoU**: intersection over union of the ``top_k`` fraction of pixels with the largest |map|, after
  the top-k intersection of Ghorbani, Abid & Zou, "Interpretation of Neural Networks is Fragile", AAAI 2019
  (they report |A n B| / k; IoU is 1 for the same set and about top_k / (2 - top_k), 0.053 at 10%, for two
  random sets).

The top k are the k = max(1, round(top_k * H * W)) highest pixels. Pixels tied at the cut (such as the exact
zeros IG gives wherever the input equals its baseline) share the free places: each of m tied pixels belongs
to the top k with weight (places left) / m, the chance it would be picked if ties were broken at random, and
the IoU is the weighted one, sum(min) / sum(max). Without ties this is the plain IoU; with ties it depends on
neither pixel order nor a seed, and identical maps still score 1.

Read the two together: pixels every model leaves at exactly 0 (IG with a black baseline on a black
background) tie in every map, so Spearman over all pixels counts that shared background as agreement; the
top-k IoU looks only at the pixels that matter most.

Maps of different sizes (runs with different input sizes, each shown the same image file at its own size)
are compared at the smallest height and width: |map| is resized with bilinear, antialiased interpolation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError

DEFAULT_TOP_K = 0.1  # fraction of pixels whose overlap the IoU measures


@dataclass
class Agreement:
    """Agreement of R runs' maps on N images.

    ``spearman`` and ``iou`` [R, R]: means over the images, symmetric, diagonal 1 by definition;
    ``spearman_per_image`` and ``iou_per_image`` [R, R, N]; ``size`` (H, W) the maps were compared at.
    ``accuracy_on_images`` (fraction of these images a run classifies correctly; None without labels) and
    ``deletion_auc`` (mean over these images) [R] are filled in by
    :meth:`~xaicnn.analysis.compare_attributions.AttributionComparison.agreement`, None otherwise.
    """

    names: list[str]
    spearman: np.ndarray
    iou: np.ndarray
    spearman_per_image: np.ndarray = field(repr=False)
    iou_per_image: np.ndarray = field(repr=False)
    top_k: float
    images: int
    size: tuple[int, int]
    accuracy_on_images: list[float | None] | None = None
    deletion_auc: list[float | None] | None = None

    def to_json(self) -> dict:
        return {"names": list(self.names), "spearman": _rows(self.spearman), "iou": _rows(self.iou),
                "top_k": self.top_k, "images": self.images, "size": list(self.size),
                "accuracy_on_images": self.accuracy_on_images, "deletion_auc": self.deletion_auc}

    def describe(self) -> str:
        """A heading and one line per run: its Spearman row, its IoU row, then accuracy and deletion AUC."""
        width = max(len(n) for n in self.names)
        lines = [f"agreement on {self.images} image(s) (Spearman of |map| | IoU of the top {self.top_k * 100:g}% pixels):"]
        for i, name in enumerate(self.names):
            facts = []
            if self.accuracy_on_images is not None and self.accuracy_on_images[i] is not None:
                facts.append(f"accuracy {self.accuracy_on_images[i]:.2f}")
            if self.deletion_auc is not None and self.deletion_auc[i] is not None:
                facts.append(f"deletion AUC {self.deletion_auc[i]:.3f}")
            lines.append(f"  {name:<{width}}  spearman {' '.join(f'{v:5.2f}' for v in self.spearman[i])}"
                         f" | iou {' '.join(f'{v:4.2f}' for v in self.iou[i])}" + (f" | {', '.join(facts)}" if facts else ""))
        return "\n".join(lines)


def _rows(matrix: np.ndarray) -> list[list[float | None]]:
    return [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]


def check_top_k(top_k) -> float:
    """``top_k`` as a float, or :class:`UserError` unless 0 < top_k <= 1."""
    try:
        value = float(top_k)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= 1:  # also false for nan
        raise UserError(f"The top-k fraction must be above 0 and at most 1 (0.1 compares the top 10% of pixels); "
                        f"got {top_k!r}.")
    return value


def top_k_membership(maps: torch.Tensor, k: int) -> torch.Tensor:
    """Weight in [0, 1] of each pixel's membership of the top k of |maps| [N, H, W] -> [N, H*W]: 1 above the
    k-th largest value, 0 below it, and the places left shared equally among the pixels tied with it."""
    flat = maps.abs().reshape(len(maps), -1).double()
    kth = flat.topk(k, dim=1).values[:, -1:]
    above, tied = flat > kth, flat == kth
    places_left = k - above.sum(1, keepdim=True)
    return above.double() + tied.double() * places_left / tied.sum(1, keepdim=True)


def top_k_iou(a: torch.Tensor, b: torch.Tensor, top_k: float = DEFAULT_TOP_K) -> np.ndarray:
    """IoU of the top ``top_k`` fraction of pixels of |a[i]| and |b[i]| for each image (maps [N, H, W]) -> [N]."""
    k = max(1, round(top_k * a.shape[1] * a.shape[2]))
    wa, wb = top_k_membership(a, k), top_k_membership(b, k)
    return (torch.minimum(wa, wb).sum(1) / torch.maximum(wa, wb).sum(1)).numpy()


def _common_size(maps: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """|maps| at the smallest height and width among them (unchanged where already that size)."""
    size = (min(m.shape[1] for m in maps), min(m.shape[2] for m in maps))
    return [m.abs().float() if tuple(m.shape[1:]) == size else
            F.interpolate(m.abs().float().unsqueeze(1), size=size, mode="bilinear", align_corners=False,
                          antialias=True).squeeze(1) for m in maps]


def attribution_agreement(maps: Sequence[torch.Tensor], names: Sequence[str], *,
                          top_k: float = DEFAULT_TOP_K) -> Agreement:
    """Pairwise Spearman rank correlation and top-k IoU of R runs' maps (each [N, H, W], the same N images
    in the same order; sizes may differ, see the module docstring) -> :class:`Agreement`."""
    from .sanity import spearman_per_image

    top_k = check_top_k(top_k)
    maps, names = [torch.as_tensor(m).detach().cpu() for m in maps], list(names)
    if not maps or len(maps) != len(names):
        raise UserError(f"Pass one name per map array and at least one of each; got {len(maps)} map arrays and "
                        f"{len(names)} names.")
    shapes = [tuple(m.shape) for m in maps]
    if any(len(s) != 3 for s in shapes) or len({s[0] for s in shapes}) != 1 or shapes[0][0] == 0:
        raise UserError(f"Every run's maps must be [N, H, W] for the same N >= 1 images; got shapes {shapes}.")
    maps = _common_size(maps)
    runs, n = len(maps), shapes[0][0]
    spearman, iou = np.ones((runs, runs, n)), np.ones((runs, runs, n))
    for i in range(runs):
        for j in range(i + 1, runs):
            spearman[i, j] = spearman[j, i] = spearman_per_image(maps[i], maps[j])
            iou[i, j] = iou[j, i] = top_k_iou(maps[i], maps[j], top_k)
    return Agreement(names, spearman.mean(2), iou.mean(2), spearman, iou, top_k, n, tuple(maps[0].shape[1:]))
