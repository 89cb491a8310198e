"""Faithfulness of attribution maps: the deletion and insertion metrics of RISE.

Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box Models", BMVC
2018. Deletion removes pixels in order of attribution, highest first, and tracks the softmax
probability of the target class: a faithful map makes it fall fast (low area under the curve).
Insertion starts from a blurred image and puts pixels back in the same order: a faithful map makes it
rise fast (high area). A random pixel order gives the reference each AUC must beat.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from ..errors import UserError
from .attribution import auto_pass_size, frozen, make_baseline

CURVES = ("deletion", "insertion", "deletion_random", "insertion_random")


@dataclass
class Faithfulness:
    """Curves and their areas for N images.

    ``fractions`` [S+1]: share of pixels removed (deletion) or inserted (insertion), 0..1; each curve
    [N, S+1] is the softmax probability of the target after that share; each ``*_auc`` [N] is the
    trapezoidal area under its curve (x axis normalised to [0, 1], so an AUC is a mean probability).
    """

    fractions: torch.Tensor
    deletion: torch.Tensor
    insertion: torch.Tensor
    deletion_random: torch.Tensor
    insertion_random: torch.Tensor

    def auc(self, curve: str) -> torch.Tensor:
        return torch.trapezoid(getattr(self, curve), self.fractions, dim=1)

    @property
    def deletion_auc(self) -> torch.Tensor:
        return self.auc("deletion")

    @property
    def insertion_auc(self) -> torch.Tensor:
        return self.auc("insertion")

    @property
    def deletion_auc_random(self) -> torch.Tensor:
        return self.auc("deletion_random")

    @property
    def insertion_auc_random(self) -> torch.Tensor:
        return self.auc("insertion_random")

    def summary(self) -> dict[str, float]:
        """Mean AUC of each curve over the images."""
        return {f"{c}_auc" if "random" not in c else c.replace("_random", "_auc_random"): float(self.auc(c).mean())
                for c in CURVES}


def pixel_ranks(maps: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rank of every pixel in removal order [N, H, W] (0 = removed first = highest attribution).
    Ties (e.g. the exact zeros IG gives where the input equals the baseline) are broken at random,
    so a map that cannot tell pixels apart is not favoured by scan order."""
    n = maps.shape[0]
    flat = maps.reshape(n, -1).float()
    shuffle = torch.stack([torch.randperm(flat.shape[1], generator=generator) for _ in range(n)])
    order = shuffle.gather(1, torch.sort(flat.gather(1, shuffle), dim=1, descending=True, stable=True).indices)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1]).expand(n, -1).contiguous())
    return ranks.view_as(maps)


def random_ranks(shape, generator: torch.Generator) -> torch.Tensor:
    n, h, w = shape
    return torch.stack([torch.randperm(h * w, generator=generator) for _ in range(n)]).view(n, h, w)


@torch.no_grad()
def _curves(model, inputs, targets, ranks, start, replace, steps, batch, callback):
    """Probability curves [N, steps+1]: image i after step k shows ``replace`` where rank < k/steps of
    the pixels and ``start`` elsewhere (deletion: start = input, replace = baseline)."""
    n, hw = len(inputs), ranks[0].numel()
    counts = torch.round(torch.linspace(0, 1, steps + 1) * hw).long()
    pairs = torch.cartesian_prod(torch.arange(n), torch.arange(steps + 1))  # (image, step), all images x all steps
    probs = torch.empty(n * (steps + 1))
    for lo in range(0, len(pairs), batch):
        i, k = pairs[lo:lo + batch].unbind(1)
        mask = (ranks[i] < counts[k].view(-1, 1, 1)).unsqueeze(1).to(inputs.device)  # [B, 1, H, W]
        dev_i = i.to(inputs.device)
        x = torch.where(mask, replace[dev_i], start[dev_i])
        p = model(x).float().softmax(1).gather(1, targets[dev_i].view(-1, 1)).squeeze(1)
        probs[lo:lo + len(i)] = p.cpu()
        if callback is not None:
            callback(len(i))
    return probs.view(n, steps + 1)


def deletion_insertion(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, maps: torch.Tensor, *,
                       steps: int = 32, baseline: str | torch.Tensor = "black", insertion_start: str | torch.Tensor = "blurred",
                       mean=None, std=None, seed: int = 0, batch_size: int | None = None,
                       callback: Callable[[int], None] | None = None) -> Faithfulness:
    """Deletion and insertion curves (Petsiuk et al., RISE, 2018) of ``maps`` [N, H, W] for ``model``.

    ``inputs``: normalised [N, C, H, W]; ``targets``: classes [N] whose softmax probability is tracked.
    ``steps``: points on each curve after the start (each removes or inserts 1/steps of the pixels,
    a pixel being all channels at one location). ``baseline``: what deleted pixels become (``black``:
    a 0 pixel, needing the ``mean``/``std`` the inputs were normalised with; or ``blurred``, ``noise``, a
    tensor); ``insertion_start``: the image insertion starts from (default a heavy Gaussian blur, as in
    RISE). Pixel order: highest attribution first; the random reference uses a seeded random order.
    Evaluates all images x all steps in batches of ``batch_size`` (default: from activation memory).
    """
    if maps.shape != inputs.shape[:1] + inputs.shape[2:]:
        raise UserError(f"deletion_insertion() needs one map [H, W] per image; got maps {tuple(maps.shape)} "
                        f"for inputs {tuple(inputs.shape)}.")
    if not isinstance(steps, int) or steps < 1:
        raise UserError(f"steps must be a positive whole number; got {steps!r}.")
    device = next(model.parameters()).device
    inputs = inputs.detach().to(device, torch.float32)
    targets = torch.as_tensor(targets, dtype=torch.long).to(device)
    g = torch.Generator().manual_seed(seed)
    ranks = pixel_ranks(maps.detach().cpu(), g)
    rand = random_ranks(tuple(maps.shape), g)
    removed = make_baseline(baseline, inputs, mean=mean, std=std, seed=seed)
    start = make_baseline(insertion_start, inputs, mean=mean, std=std, seed=seed)
    with frozen(model):
        batch = batch_size or 3 * auto_pass_size(model, inputs)  # forward only: no activations kept for backward
        run = lambda r, a, b: _curves(model, inputs, targets, r, a, b, steps, batch, callback)  # noqa: E731
        curves = [run(ranks, inputs, removed), run(ranks, start, inputs), run(rand, inputs, removed), run(rand, start, inputs)]
    return Faithfulness(torch.linspace(0, 1, steps + 1), *curves)
