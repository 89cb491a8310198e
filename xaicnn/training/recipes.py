"""Per-architecture training recipes: what ``xaicnn train --arch A`` uses for the settings its flags leave out.

:class:`TrainConfig`'s own defaults are one recipe for every architecture (Adam, one-cycle to 2e-3, batch 64,
4 epochs). Where a measurement found a better one for an architecture, it is registered here with the
measurement that chose it; flags still override each setting. Studies never use these: a study's ``full``
preset follows the original report's settings, and its other presets set their own.

    config_for("bottleneck_alpha", seed=1)   # TrainConfig with the recipe's settings, then the given ones
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from .config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    settings: dict  # TrainConfig fields
    why: str  # the measurement that chose them (docs/performance.md has the figures)


RECIPES: dict[str, Recipe] = {}


def register_recipe(arch: str, why: str, **settings) -> Recipe:
    known = {f.name for f in fields(TrainConfig)} - {"arch", "out"}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"recipe for {arch}: not TrainConfig fields: {', '.join(sorted(unknown))}")
    RECIPES[arch] = Recipe(dict(settings), why)
    return RECIPES[arch]


def recipe_for(arch: str) -> dict:
    """The settings registered for ``arch`` ({} where TrainConfig's defaults are its recipe)."""
    recipe = RECIPES.get(arch)
    return dict(recipe.settings) if recipe else {}


def config_for(arch: str, **given) -> TrainConfig:
    """A TrainConfig for ``arch``: its recipe's settings, overridden by ``given``, over TrainConfig's defaults."""
    return TrainConfig(arch=arch, **{**recipe_for(arch), **given})


# bottleneck_alpha on the glyphs (41,600 train / 15,600 unseen-font validation images, 1x100x100). Chosen by the
# accuracy at the end of runs that fit 10 minutes on 2 cores (docs/performance.md, "Time to accuracy"): TrainConfig's
# defaults (4 epochs, peak 2e-3) end at 96.8%; 7 epochs at 2e-3 reached 98.57%, and at a peak of 4e-3 with label
# smoothing 0.1, 98.79% (seed 0); 6 epochs of the latter were 98.13% and 98.91% (seeds 0, 1): too close to call.
# The subset validation saves about 30 s an epoch over evaluating all 15,600 images every time.
register_recipe(
    "bottleneck_alpha", "98.5% validation accuracy within 10 minutes on 2 CPU cores (docs/performance.md)",
    epochs=7, lr=4e-3, label_smoothing=0.1, val_subset=2600)
