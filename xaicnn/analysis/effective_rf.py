"""Effective receptive field (Luo, Li, Urtasun & Zemel, 2016, "Understanding the effective receptive field in
deep convolutional neural networks"): how much each input pixel actually moves one unit of a layer.

For the centre unit of a layer's output (default: the net's last spatial layer, where its theoretical
field is measured) the gradient of that unit - summed over the layer's channels - with respect to the input
is taken on every image; |gradient| summed over the input channels and averaged over the images (and, "at
initialisation", over several random-weight models) is the map, normalised to sum 1. Luo et al. show it is
roughly Gaussian and much smaller than the theoretical field, and that it grows with training.

The map is summarised as a radius: the half-side of the smallest square centred on the unit's theoretical
window that holds ``share`` of the gradient mass. A square (Chebyshev distance), not a circle, so that it
compares like with like with the theoretical window, a square too: at ``share=1`` the radius is at most
(size - 1) / 2, and ``fraction`` = radius / (theoretical size / 2) is at most 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..errors import UserError
from ._model_inputs import model_inputs

DEFAULT_SHARE = 0.95  # the share of gradient mass the radius holds
DEFAULT_INIT_SEEDS = (0, 1, 2)  # random-weight models averaged for "at initialisation"


@dataclass
class EffectiveRF:
    map: torch.Tensor = field(repr=False)  # [H, W] float64: mean |d unit / d input| per pixel, sums to 1
    layer: str  # module path of the layer whose centre unit was differentiated
    unit: tuple[int, int]  # that unit's (row, column) in the layer's output
    centre: tuple[float, float]  # centre of its theoretical window, in input pixels (row, column)
    theoretical_size: tuple[int, int]  # (h, w) theoretical receptive field of the layer
    share: float  # share of the gradient mass the radius holds
    radius: float  # half-side, in pixels, of the smallest centred square holding `share` of the mass
    fraction: float  # radius / (largest theoretical side / 2): 1 = the ERF fills the theoretical window
    window_inside_input: bool  # False when the theoretical window reaches past the image (the image bounds the ERF)
    mass_within: list[tuple[float, float]]  # (radius, share of the mass within it) at every distance on the grid
    images: int  # images averaged
    models: int  # weight sets averaged (1 for trained weights, the seeds at initialisation)
    label: str = ""  # run name and weights, for captions

    def to_json(self, include_map: bool = False) -> dict:
        doc = {"label": self.label, "layer": self.layer, "unit": list(self.unit), "centre": list(self.centre),
               "theoretical_size": list(self.theoretical_size), "share": self.share, "radius": self.radius,
               "fraction": self.fraction, "window_inside_input": self.window_inside_input,
               "images": self.images, "models": self.models,
               "mass_within": [[r, round(m, 6)] for r, m in self.mass_within]}
        if include_map:
            doc["map"] = self.map.tolist()
        return doc


@dataclass
class TrainedVsInit:
    """A run's effective receptive field with its trained weights and at initialisation (same images, layer)."""

    trained: EffectiveRF
    init: EffectiveRF

    @property
    def growth(self) -> float:
        """Trained radius / initial radius (> 1: training widened the field, as Luo et al. report)."""
        return self.trained.radius / self.init.radius if self.init.radius else float("inf")

    def to_json(self, include_map: bool = False) -> dict:
        return {"trained": self.trained.to_json(include_map), "init": self.init.to_json(include_map),
                "growth": self.growth}


class _Reached(Exception):
    """Raised by the hook on the chosen layer: the rest of the forward pass is not needed."""

    def __init__(self, output):
        self.output = output


def _layer_field(model: nn.Module, input_size: tuple[int, int, int], layer: str | None):
    """The chosen layer's name and theoretical field (default: the net's, at its last spatial layer)."""
    from ..models.receptive_field import receptive_fields

    fields = receptive_fields(model, input_size)
    if layer is None:
        if fields.net is None:
            raise UserError(f"{type(model).__name__} has no spatial layer (it flattens the image at once), so it has "
                            f"no receptive field to measure.")
        return fields.net
    try:
        row = fields[layer]
    except KeyError:
        raise UserError(f"No layer {layer!r} in {type(model).__name__}; the spatial layers are "
                        f"{', '.join(r.name for r in fields.layers if r.spatial and r.name)}.") from None
    if not row.spatial:
        raise UserError(f"Layer {layer!r}'s output is not spatial (each unit sees the whole input); choose a "
                        f"convolution, pooling or block before the global pooling.")
    return row


def _gradient_mass(model: nn.Module, inputs: torch.Tensor, layer: str, batch_size: int, bar) -> tuple[torch.Tensor, tuple]:
    """Sum over the images of |d (centre unit of ``layer``, summed over channels) / d input|, summed over input
    channels: [H, W] float64, and the unit's (row, column). Images are batched: in eval mode each image's unit
    depends on that image only, so the gradient of the batch sum is every image's own gradient."""
    module = model.get_submodule(layer)

    def stop(_module, _inputs, output):
        raise _Reached(output)

    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    total, unit = torch.zeros(inputs.shape[-2:], dtype=torch.float64), None
    handle = module.register_forward_hook(stop)
    try:
        with torch.enable_grad():
            for batch in inputs.split(batch_size):
                x = batch.to(device=device, dtype=dtype).requires_grad_(True)
                try:
                    model(x)
                    raise RuntimeError(f"layer {layer} did not run in the forward pass")
                except _Reached as reached:
                    out = reached.output
                unit = ((out.shape[-2] - 1) // 2, (out.shape[-1] - 1) // 2)
                (grad,) = torch.autograd.grad(out[:, :, unit[0], unit[1]].sum(), x)
                total += grad.abs().sum((0, 1)).to("cpu", torch.float64)
                bar.update(1)
    finally:
        handle.remove()
    return total, unit


def _summarise(mass: torch.Tensor, centre: tuple[float, float], share: float) -> tuple[float, list]:
    """The smallest Chebyshev radius around ``centre`` holding ``share`` of ``mass`` (sums to 1), and the
    cumulative share at every distance that occurs on the pixel grid."""
    rows = torch.arange(mass.shape[0], dtype=torch.float64).sub_(centre[0]).abs_()
    cols = torch.arange(mass.shape[1], dtype=torch.float64).sub_(centre[1]).abs_()
    distance = torch.maximum(rows[:, None], cols[None, :]).flatten()
    levels, which = torch.unique(distance, return_inverse=True)
    within = torch.zeros_like(levels).index_add_(0, which, mass.flatten()).cumsum(0)
    reached = (within >= share - 1e-9).nonzero()  # the tolerance absorbs float rounding at share = 1
    radius = float(levels[reached[0, 0]]) if len(reached) else float(levels[-1])
    return radius, [(float(d), float(m)) for d, m in zip(levels, within)]


def _measure(models: list[nn.Module], inputs: torch.Tensor, *, layer, share, batch_size, progress, label):
    if not 0 < share <= 1:
        raise UserError(f"share must be in (0, 1]; got {share}.")
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1; got {batch_size}.")
    from tqdm.auto import tqdm

    input_size = tuple(inputs.shape[1:])
    row = _layer_field(models[0], input_size, layer)
    batches = -(-len(inputs) // batch_size)
    mean_map, unit = torch.zeros(inputs.shape[-2:], dtype=torch.float64), None
    with tqdm(total=batches * len(models), desc=f"effective RF{f' of {label}' if label else ''}", unit="batch",
              delay=2, leave=False, disable=not progress) as bar:
        for model in models:
            was_training = model.training
            model.eval()  # batch-norm with running statistics: each image's gradient is its own
            try:
                mass, unit = _gradient_mass(model, inputs, row.name, batch_size, bar)
            finally:
                model.train(was_training)
            if mass.sum() > 0:  # each model counts once, whatever its gradient scale
                mean_map += mass / mass.sum()
    if mean_map.sum() == 0:
        raise UserError(f"The centre unit of {row.name} has zero gradient on every image (dead units); no effective "
                        f"receptive field can be measured there.")
    mean_map /= mean_map.sum()
    centre = tuple(s + i * j for s, i, j in zip(row.start, unit, row.jump))
    size = tuple(row.receptive_field)
    radius, mass_within = _summarise(mean_map, centre, share)
    inside = all(c - (s - 1) / 2 >= 0 and c + (s - 1) / 2 <= n - 1 for c, s, n in zip(centre, size, input_size[1:]))
    return EffectiveRF(mean_map.float(), row.name, unit, centre, size, share, radius, radius / (max(size) / 2),
                       inside, mass_within, len(inputs), len(models), label)


def effective_receptive_field(run_or_model, images, *, layer: str | None = None, share: float = DEFAULT_SHARE,
                              batch_size: int = 32, progress: bool = False, label: str | None = None) -> EffectiveRF:
    """Effective receptive field of ``layer`` (module path; default the net's last spatial layer) over ``images``.

    ``run_or_model``: a :class:`~xaicnn.training.Run` (its trained model; ``images`` uint8 or 0..1 [N, C, H, W]
    or an ``ImageData`` split, normalised as the run was trained) or an ``nn.Module`` (``images`` are its inputs
    as they are). The model runs in eval mode, on its own device and dtype, ``batch_size`` images at a time.
    """
    model, inputs, name = model_inputs(run_or_model, images)
    return _measure([model], inputs, layer=layer, share=share, batch_size=batch_size, progress=progress,
                    label=label or (f"{name} (trained)" if not isinstance(run_or_model, nn.Module) else name))


def effective_receptive_field_at_init(run, images, *, seeds=DEFAULT_INIT_SEEDS, layer: str | None = None,
                                      share: float = DEFAULT_SHARE, batch_size: int = 32, progress: bool = False,
                                      label: str | None = None) -> EffectiveRF:
    """The same measurement on freshly initialised models of ``run``'s architecture (one per seed, built from its
    metadata; each model's map normalised before averaging so each counts once), on the run's images."""
    from ..training.checkpoint import build_model

    if not seeds:
        raise UserError("Give at least one seed for the random-weight models.")
    _, inputs, name = model_inputs(run, images)
    models = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
            torch.manual_seed(seed)
            models.append(build_model(run.meta))
    return _measure(models, inputs, layer=layer, share=share, batch_size=batch_size, progress=progress,
                    label=label or f"{name} (init, {len(models)} seed{'s' if len(models) > 1 else ''})")


def trained_vs_init(run, images, *, seeds=DEFAULT_INIT_SEEDS, layer: str | None = None, share: float = DEFAULT_SHARE,
                    batch_size: int = 32, progress: bool = False) -> TrainedVsInit:
    """A run's effective receptive field with its trained weights and at initialisation, on the same images."""
    options = dict(layer=layer, share=share, batch_size=batch_size, progress=progress)
    return TrainedVsInit(effective_receptive_field(run, images, **options),
                         effective_receptive_field_at_init(run, images, seeds=seeds, **options))
