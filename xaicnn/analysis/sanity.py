"""The model-randomisation sanity check for attribution methods.

Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018: re-initialise the layers of a
trained network one after another from the output down (cascading randomisation), re-compute the
maps after each step and measure how similar they stay to the original maps. A method whose maps
barely change once the weights are random explains the input (edges, intensities), not the model,
and fails the check.

Similarity: Spearman rank correlation (``scipy.stats.spearmanr``) of the absolute maps, per image,
averaged over the images. Verdict: after every layer is randomised, a mean correlation above
:data:`THRESHOLD` (0.5) "fails"; at or below it "passes".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from .._hooks import forward_hooks
from .attribution import attribute

THRESHOLD = 0.5  # final mean Spearman correlation above which the maps are judged independent of the weights
NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


@dataclass
class SanityCheck:
    """Result of :func:`sanity_check`.

    ``layers``: the randomised layers in the order randomised (output first); ``correlations[k]``: mean
    Spearman correlation over the images after layers[: k + 1] are random; ``per_image`` [L, N];
    ``maps`` [L + 1, N, H, W]: the original maps then the maps after each step (when kept).
    """

    method: str
    layers: list[str]
    correlations: list[float]
    per_image: np.ndarray
    threshold: float = THRESHOLD
    maps: torch.Tensor | None = field(default=None, repr=False)

    @property
    def final(self) -> float:
        return self.correlations[-1] if self.correlations else 1.0

    @property
    def passed(self) -> bool:
        return self.final <= self.threshold

    @property
    def verdict(self) -> str:
        return "passes" if self.passed else "fails"

    def to_json(self) -> dict:
        return {"method": self.method, "threshold": self.threshold, "final_correlation": self.final,
                "verdict": self.verdict,
                "steps": [{"layer": name, "correlation": c} for name, c in zip(self.layers, self.correlations)]}

    def describe(self) -> str:
        return (f"sanity check ({self.method}): mean Spearman correlation with the trained model's maps falls to "
                f"{self.final:.3f} once all {len(self.layers)} layers are random -> {self.verdict} "
                f"(threshold {self.threshold})")


def weight_layers(model: nn.Module, example: torch.Tensor) -> list[tuple[str, nn.Module]]:
    """Modules that own parameters (conv, linear, attention, embeddings; normalisation layers excluded, their
    re-initialisation is the identity), in the order a forward pass runs them (input first)."""
    owners = {m: name for name, m in model.named_modules()
              if any(True for _ in m.parameters(recurse=False)) and not isinstance(m, NORM_LAYERS)}
    order: list[nn.Module] = []

    def seen(module, *_):
        if module not in order:
            order.append(module)

    with forward_hooks(owners, seen, pre=True), torch.no_grad():
        model.eval()(example[:1].to(next(model.parameters()).device))
    order += [m for m in owners if m not in order]  # parameters used outside forward hooks, if any
    return [(owners[m], m) for m in order]


@torch.no_grad()
def randomize(module: nn.Module) -> None:
    """Re-initialise ``module``'s own parameters as at construction (its ``reset_parameters``), else N(0, std of the weights)."""
    reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
    if callable(reset):
        reset()
        return
    for p in module.parameters(recurse=False):
        p.normal_(0, float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 0.02)


def spearman_per_image(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman correlation of |a[i]| and |b[i]| for each image (maps [N, H, W]); a constant map ranks
    nothing, so it counts as 0 (scipy returns nan)."""
    from scipy.stats import spearmanr

    out = []
    for x, y in zip(a.abs().reshape(len(a), -1).numpy(), b.abs().reshape(len(b), -1).numpy()):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            out.append(0.0)
        else:
            out.append(float(spearmanr(x, y).statistic))
    return np.array(out)


def sanity_check(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, method="ig", *, seed: int = 0,
                 threshold: float = THRESHOLD, keep_maps: bool = False, callback=None, **options) -> SanityCheck:
    """Cascading model randomisation (Adebayo et al. 2018) for ``method`` (a registered name or an
    :class:`~xaicnn.analysis.attribution.AttributionMethod` subclass) on normalised ``inputs`` [N, C, H, W]
    with fixed ``targets`` [N]; ``options`` go to :func:`attribute`. Works on a deep copy of ``model``."""
    work = copy.deepcopy(model).eval()
    layers = weight_layers(work, inputs)[::-1]  # top (output) down
    original = attribute(work, inputs, targets, method, **options).maps
    kept = [original]
    correlations, per_image = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name, module in layers:
            randomize(module)
            maps = attribute(work, inputs, targets, method, **options).maps
            rho = spearman_per_image(original, maps)
            per_image.append(rho)
            correlations.append(float(rho.mean()))
            if keep_maps:
                kept.append(maps)
            if callback is not None:
                callback(name)
    name = method if isinstance(method, str) else getattr(method, "name", "") or method.__name__
    return SanityCheck(name, [n for n, _ in layers], correlations, np.array(per_image), threshold,
                       torch.stack(kept) if keep_maps else None)
