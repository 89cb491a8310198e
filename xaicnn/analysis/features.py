"""Inside the network: the first layer's learned filters, a layer's feature maps for one image, and unit health
(the share of units that never activate on the validation set).

- :func:`first_conv_filters`: the kernels of the first ``Conv2d`` that runs, as AlexNet's and ZFNet's papers
  show them (Krizhevsky et al. 2012, fig. 3; Zeiler & Fergus 2014, fig. 6); :func:`filter_grid` lays them out
  as one RGB array on one symmetric scale (0 = grey), the array the figure and the app both draw.
- :func:`feature_maps`: one layer's output for one image, channels sorted most active first (mean activation),
  the view Zeiler & Fergus use to ask what a layer responds to.
- :func:`unit_health`: one streaming pass over validation images; per layer the share of units that are never
  > 0 on any image (dead ReLUs: a unit whose pre-activation is negative everywhere gets no gradient and never
  recovers) and the mean and spread of the activations, from running sums so memory does not grow with n.

Layers are module names of the model's own tree (``features.3``, ``layer2.1``). Sets of layers are a kind
from :data:`~xaicnn.analysis.similarity.LAYER_KINDS` (``blocks``, ``convs``), picked from a traced forward
pass exactly as the CKA analysis picks them.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from ..errors import UserError
from .._hooks import first_tensor
from .._io import json_number
from ._model_inputs import model_inputs
from .similarity import select_layers, trace_modules

DEFAULT_TOP = 16  # feature maps shown per run: a 4 x 4 grid
DEFAULT_BATCH_SIZE = 128  # images per forward pass in unit_health; memory is one batch's activations


# --- layers by name --------------------------------------------------------------------------------------

def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The module called ``name`` in ``model.named_modules()``; an unknown name is one sentence with the
    closest names (so a typo such as ``feature.3`` points at ``features.3``)."""
    modules = dict(model.named_modules())
    if name and name in modules:
        return modules[name]
    names = [n for n in modules if n]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = (f"did you mean {', '.join(close)}?" if close else
            f"its top-level modules are {', '.join(n for n, _ in model.named_children())}.")
    raise UserError(f"No layer {name!r} in {type(model).__name__}; {hint}")


@dataclass(frozen=True)
class LayerOutput:
    """What one probe pass says about a layer: its output shape for one image and whether that output is the
    model's own output (the logits: not units that can die, so unit health leaves them out)."""

    name: str
    shape: tuple[int, ...]
    is_model_output: bool

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 4


@torch.no_grad()
def probe_layers(model: nn.Module, example: torch.Tensor, names: Sequence[str]) -> list[LayerOutput]:
    """Run ``example`` [1, C, H, W] once (eval mode) and report every layer in ``names``: shape, model output."""
    from .._hooks import forward_hooks

    modules = [find_layer(model, n) for n in names]
    outputs: dict[nn.Module, torch.Tensor] = {}

    def keep(module, inputs, output):
        outputs.setdefault(module, first_tensor(output))

    was_training = model.training
    model.eval()
    try:
        with forward_hooks(modules, keep):
            result = first_tensor(model(example))
    finally:
        model.train(was_training)
    missing = [n for n, m in zip(names, modules) if m not in outputs]
    if missing:
        raise UserError(f"Layer {missing[0]!r} does not run in {type(model).__name__}'s forward pass; choose one that does.")
    return [LayerOutput(n, tuple(outputs[m].shape), outputs[m] is result) for n, m in zip(names, modules)]


def _device(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


# --- learned filters -------------------------------------------------------------------------------------

@dataclass
class Filters:
    """The kernels of a model's first convolution: ``weight`` float32 [out, in, kh, kw] of module ``module``."""

    module: str
    weight: np.ndarray = field(repr=False)
    label: str = ""

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(self.weight.shape)

    @property
    def display(self) -> str:
        """How the input channels are shown: ``rgb`` (3), ``grey`` (1) or ``channel mean`` (any other count)."""
        return {3: "rgb", 1: "grey"}.get(self.weight.shape[1], "channel mean")

    def shown(self) -> np.ndarray:
        """The values drawn, [out, c, kh, kw] with c = 3 (RGB) or 1 (grey; the mean over the input channels when
        they are neither 1 nor 3 - their colours have no RGB meaning)."""
        w = self.weight
        return w if w.shape[1] in (1, 3) else w.mean(1, keepdims=True)

    @property
    def scale(self) -> float:
        """The one symmetric colour scale of this run's grid: largest |value| drawn (-scale black, +scale white)."""
        return float(np.abs(self.shown()).max()) or 1.0

    def grid(self, columns: int | None = None) -> np.ndarray:
        """The filters as one RGB image (see :func:`filter_grid`) on this run's scale."""
        return filter_grid(self.shown(), scale=self.scale, columns=columns)

    def caption(self) -> str:
        out, cin, kh, kw = self.shape
        what = {"rgb": "RGB", "grey": "grey"}.get(self.display, f"mean of {cin} input channels, grey")
        return f"{out} filters {kh}x{kw} ({what}); scale ±{self.scale:.2g}, 0 = grey"

    def to_json(self) -> dict:
        return {"label": self.label, "module": self.module, "shape": list(self.shape), "display": self.display,
                "scale": round(self.scale, 6), "caption": self.caption()}


def filter_grid(weight, *, scale: float | None = None, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Kernels ``weight`` [out, c, kh, kw] (c = 1 or 3) as one image float [rows*(kh+pad)-pad, cols*(kw+pad)-pad, 3]
    in 0..1: kernel i at row i // cols, column i % cols; each value v drawn as 0.5 + 0.5 v / scale (clipped), so
    0 is mid-grey and ±scale black/white per channel; grey kernels are copied to R, G and B. ``scale`` defaults
    to the largest |value| (one scale for every kernel, so their strengths compare); the ``pad`` lines between
    kernels are white. ``columns`` defaults to ceil(sqrt(out))."""
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"expected kernels [out, 1 or 3, kh, kw]; got {w.shape}")
    out, c, kh, kw = w.shape
    scale = float(scale) if scale else float(np.abs(w).max()) or 1.0
    cols = columns or math.ceil(math.sqrt(out))
    rows = math.ceil(out / cols)
    grid = np.ones((rows * (kh + pad) - pad, cols * (kw + pad) - pad, 3), dtype=np.float32)
    values = np.clip(0.5 + 0.5 * w / scale, 0.0, 1.0).transpose(0, 2, 3, 1)  # [out, kh, kw, c]
    for i in range(out):
        r, q = divmod(i, cols)
        grid[r * (kh + pad):r * (kh + pad) + kh, q * (kw + pad):q * (kw + pad) + kw] = values[i]  # c=1 broadcasts
    return grid


def first_conv_filters(run_or_model, *, input_size: tuple[int, int, int] | None = None, label: str | None = None) -> Filters:
    """The kernels of the first ``Conv2d`` that runs in the forward pass of a run's model (traced at the run's input
    size) or of an ``nn.Module`` (traced at ``input_size`` [C, H, W] if given, else the first ``Conv2d`` in
    ``named_modules()`` order, which is definition order)."""
    if isinstance(run_or_model, nn.Module):
        model, name = run_or_model, type(run_or_model).__name__
    else:
        model, name, input_size = run_or_model.model, run_or_model.name, run_or_model.input_size
    if input_size is not None:
        example = torch.zeros(1, *input_size, device=_device(model))
        was_training = model.training
        model.eval()
        try:
            candidates = [(t.name, t.module) for t in trace_modules(model, example)]
        finally:
            model.train(was_training)
    else:
        candidates = list(model.named_modules())
    conv = next(((n, m) for n, m in candidates if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise UserError(f"{type(model).__name__} has no 2-D convolution, so it has no filters to show.")
    return Filters(conv[0], conv[1].weight.detach().float().cpu().numpy().copy(), label or name)


# --- feature maps for one image ----------------------------------------------------------------------------

@dataclass
class FeatureMaps:
    """The ``top`` most active channels of ``layer`` for one image: ``maps`` float32 [top, H, W], the channels'
    indices in the layer (``channels``) and their mean activation over the map (``means``, descending)."""

    layer: str
    maps: np.ndarray = field(repr=False)
    channels: list[int]
    means: list[float]
    layer_channels: int  # channels the layer has (the maps are the first `top` of them by activity)
    image: torch.Tensor = field(repr=False)  # the uint8 image [C, H, W] as shown
    label: str = ""
    image_index: int | None = None  # its index in the validation split, when it came from there

    def to_json(self) -> dict:
        return {"label": self.label, "layer": self.layer, "image_index": self.image_index,
                "layer_channels": self.layer_channels, "map_size": list(self.maps.shape[1:]),
                "channels": list(self.channels), "means": [round(m, 6) for m in self.means],
                "min": round(float(self.maps.min()), 6), "max": round(float(self.maps.max()), 6)}


def default_feature_layer(model: nn.Module, example: torch.Tensor) -> str:
    """The layer :func:`feature_maps` shows unless told: the middle one of the model's spatial ``blocks`` layers
    (lower middle for an even count). Middle layers show parts and textures that still line up with the image
    (Zeiler & Fergus's layers 2-3); the first shows edges, the last few are too coarse to read."""
    spatial = [p.name for p in probe_layers(model, example, select_layers(model, example, "blocks")) if p.spatial]
    if not spatial:
        raise UserError(f"{type(model).__name__} has no spatial layer (it flattens the image at once), so it has no "
                        f"feature maps to show.")
    return spatial[(len(spatial) - 1) // 2]


@torch.no_grad()
def feature_maps(run_or_model, image: torch.Tensor, *, layer: str | None = None, top: int = DEFAULT_TOP,
                 label: str | None = None, image_index: int | None = None) -> FeatureMaps:
    """Layer ``layer``'s output (module name; default :func:`default_feature_layer`) for one ``image``.

    ``image``: uint8 [C, H, W] (a run normalises it as it was trained; a bare ``nn.Module`` takes it as float).
    The model runs once in eval mode; the ``top`` channels with the largest mean activation are kept, most
    active first. The layer's output must be spatial ([1, C, H, W]).
    """
    from .._hooks import forward_hooks

    if top < 1:
        raise UserError(f"top must be at least 1 channel; got {top}.")
    image = torch.as_tensor(image)
    if image.dim() != 3:
        raise UserError(f"Feature maps take one image [C, H, W]; got a tensor of shape {tuple(image.shape)}.")
    model, inputs, name = model_inputs(run_or_model, image[None])
    inputs = inputs.to(_device(model))
    layer = layer or default_feature_layer(model, inputs)
    module = find_layer(model, layer)
    captured: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        if not captured:  # clone: an in-place ReLU after this module would overwrite the output
            captured.append(first_tensor(output).detach().float().cpu().clone())

    was_training = model.training
    model.eval()
    try:
        with forward_hooks([module], keep):
            model(inputs)
    finally:
        model.train(was_training)
    if not captured:
        raise UserError(f"Layer {layer!r} does not run in {type(model).__name__}'s forward pass; choose one that does.")
    out = captured[0]
    if out.dim() != 4:
        raise UserError(f"Layer {layer!r}'s output {tuple(out.shape[1:])} is not a stack of maps; choose a "
                        f"convolution or block before the global pooling.")
    maps = out[0]
    means = maps.mean((1, 2))
    order = torch.argsort(means, descending=True, stable=True)[:top]
    return FeatureMaps(layer, maps[order].numpy(), order.tolist(), means[order].tolist(), len(maps), image.cpu(),
                       label or name, image_index)


def feature_map_scales(maps: Sequence[FeatureMaps]) -> dict[str, tuple[float, float]]:
    """One colour range per layer name across ``maps`` (several runs): (min(0, lowest), highest), so the same
    colour means the same activation in every run shown at that layer."""
    scales: dict[str, tuple[float, float]] = {}
    for m in maps:
        lo, hi = scales.get(m.layer, (0.0, 0.0))
        scales[m.layer] = (min(lo, float(m.maps.min())), max(hi, float(m.maps.max())))
    return {k: (lo, hi if hi > lo else lo + 1.0) for k, (lo, hi) in scales.items()}


# --- unit health: dead units, mean and spread, streamed ---------------------------------------------------

@dataclass
class LayerHealth:
    """One layer's units over the images: ``units`` channels (spatial outputs), features (linear outputs) or the
    last dimension of token outputs [B, N, D]; ``dead`` of them were never > 0 at any position of any image.
    ``mean``/``std``: of every activation (all units, images and positions; population std)."""

    layer: str
    units: int
    dead: int
    mean: float
    std: float
    unit_max: np.ndarray = field(repr=False)  # float32 [units]: each unit's largest activation over the images

    @property
    def dead_share(self) -> float:
        return self.dead / self.units if self.units else float("nan")

    def to_json(self) -> dict:
        return {"layer": self.layer, "units": self.units, "dead": self.dead, "dead_share": round(self.dead_share, 6),
                "mean": json_number(self.mean), "std": json_number(self.std)}


@dataclass
class UnitHealth:
    """Unit health of one model's layers (forward order) over ``images`` images."""

    rows: list[LayerHealth]
    images: int
    layer_kind: str  # the LAYER_KINDS name, or "named" for an explicit list of layers
    label: str = ""
    excluded: list[str] = field(default_factory=list)  # selected layers left out: the model's own output (logits)

    def to_json(self) -> dict:
        return {"label": self.label, "images": self.images, "layer_kind": self.layer_kind,
                "excluded": list(self.excluded), "rows": [r.to_json() for r in self.rows]}

    def describe(self) -> str:
        width = max((len(r.layer) for r in self.rows), default=5)
        lines = [f"{self.label}: unit health over {self.images} images ({self.layer_kind} layers)",
                 f"  {'layer':<{width}}  units   dead  share     mean      std"]
        lines += [f"  {r.layer:<{width}}  {r.units:>5}  {r.dead:>5}  {r.dead_share:>5.0%}  {r.mean:>7.3g}  {r.std:>7.3g}"
                  for r in self.rows]
        return "\n".join(lines)


def _units_last(output: torch.Tensor) -> torch.Tensor:
    """Activations [rows, units]: channels of [B, C, H, W] (rows = images x positions), features of [B, F], the
    last dimension of token outputs [B, N, D] (batch-first, as torchvision's encoder)."""
    if output.dim() == 4:
        return output.permute(0, 2, 3, 1).reshape(-1, output.shape[1])
    return output.reshape(-1, output.shape[-1])


class _RunningStats:
    """Count, mean and sum of squared deviations merged batch by batch (Chan, Golub & LeVeque 1979) in float64,
    and each unit's running maximum: a pass over any number of images holds one batch's activations."""

    def __init__(self):
        self.count, self.mean, self.m2, self.unit_max = 0, 0.0, 0.0, None

    def update(self, output: torch.Tensor) -> None:
        x = _units_last(output.detach())
        batch_max = x.amax(0).float().cpu()
        self.unit_max = batch_max if self.unit_max is None else torch.maximum(self.unit_max, batch_max)
        x = x.double()
        n, mean = x.numel(), float(x.mean())
        m2 = float(((x - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    def result(self, layer: str) -> LayerHealth:
        unit_max = self.unit_max.numpy()
        return LayerHealth(layer, len(unit_max), int((unit_max <= 0).sum()), self.mean,
                           math.sqrt(self.m2 / self.count) if self.count else float("nan"), unit_max)


def _health_layers(model: nn.Module, example: torch.Tensor, layers) -> tuple[list[str], list[str], str]:
    """(layers measured, layers left out because they are the model's output, kind) for ``layers``: a
    :data:`LAYER_KINDS` name or a list of module names."""
    if isinstance(layers, str):
        names, kind = select_layers(model, example, layers), layers
    else:
        names, kind = list(layers), "named"
        if not names:
            raise UserError("Give at least one layer name.")
    probed = probe_layers(model, example, names)
    kept = [p.name for p in probed if not p.is_model_output]
    if not kept:
        raise UserError(f"The only layer selected is {type(model).__name__}'s output (its logits), which has no units "
                        f"that can die; choose inner layers.")
    return kept, [p.name for p in probed if p.is_model_output], kind


@torch.no_grad()
def unit_health(run_or_model, *, images: torch.Tensor | None = None, layers: str | Sequence[str] = "blocks",
                n: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE, data_dir: str | None = None,
                progress: bool = False, label: str | None = None) -> UnitHealth:
    """Dead units, mean and spread of the activations of ``layers`` (a :data:`LAYER_KINDS` name, default
    ``blocks``, or module names) over validation images, in one streaming pass.

    ``images``: uint8 [N, C, H, W] (required for a bare ``nn.Module``, which takes them as float); by default a
    run's validation split (``n`` class-balanced images of it, or all of it). Read after the activation (as
    ``blocks`` reads plain stacks), "never > 0" is the dead-ReLU test: such a unit passes no gradient. The model's
    own output (the logits) is left out and named in ``excluded``. Memory: one batch of ``batch_size`` images.
    """
    from .._hooks import forward_hooks

    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1; got {batch_size}.")
    if n is not None and n < 1:
        raise UserError(f"n must be at least 1 image; got {n}.")
    if images is None:
        if isinstance(run_or_model, nn.Module):
            raise UserError("A bare model needs the images to measure on.")
        images = run_or_model.val_data(size=n, data_dir=data_dir).images
    images = torch.as_tensor(images)[:n] if n else torch.as_tensor(images)
    if images.dim() != 4 or not len(images):
        raise UserError("images must be a non-empty [N, C, H, W] tensor.")
    model, first, name = model_inputs(run_or_model, images[:1])
    device = _device(model)
    was_training = model.training
    model.eval()
    try:
        names, excluded, kind = _health_layers(model, first.to(device), layers)
        names = list(dict.fromkeys(names))
        stats = [_RunningStats() for _ in names]
        slot = {find_layer(model, layer): i for i, layer in enumerate(names)}

        def record(module, inputs, output):  # reduced at once: nothing of the batch outlives its forward pass
            stats[slot[module]].update(first_tensor(output))

        from tqdm.auto import tqdm

        with forward_hooks(list(slot), record), \
                tqdm(total=len(images), desc=f"unit health of {label or name}", unit="img", delay=2, leave=False,
                     disable=not progress, dynamic_ncols=True) as bar:
            for chunk in images.split(batch_size):
                model(model_inputs(run_or_model, chunk)[1].to(device, non_blocking=True))
                bar.update(len(chunk))
    finally:
        model.train(was_training)
    rows = [s.result(layer) for layer, s in zip(names, stats)]
    return UnitHealth(rows, len(images), kind, label or name, excluded)
