"""The base of the attribution methods: the :class:`AttributionMethod` class, the :data:`METHODS` registry and
its :func:`register_method` decorator, and the helpers the methods share (frozen parameters, baselines,
memory-bounded pass sizes, :func:`find_last_conv`).

The public entry point is :mod:`xaicnn.analysis.attribution` (``attribute()``), which re-exports these names
and imports :mod:`xaicnn.analysis.attribution_methods` to register the built-in methods; both import this
module, and this module imports neither, so there is no import cycle.
"""
from __future__ import annotations

import contextlib
import math
import weakref
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence

import torch
import torch.nn as nn

from .._hooks import forward_hooks
from .._registry import Registry
from ..errors import UserError

BASELINES = ("black", "blurred", "noise")
CPU_BUDGET_BYTES = 768 * 2**20  # activation memory a CPU pass may always use (fwd + bwd)
CPU_MEMORY_FRACTION = 0.25  # ... and up to this share of the machine's available memory, when that is more
CPU_MEMORY_CAP = 4 * 2**30  # ... but never more than this per pass
GPU_BUDGET_FRACTION = 0.4  # share of the GPU's free memory one pass may use
MAX_PASS = 4096  # image-steps per pass at most, so tiny models do not build huge input batches
MEASURE_FROM = 8  # jobs of at least this many largest passes measure which pass size runs fastest (once per model)
BACKWARD_FACTOR = 3  # a backward pass holds the saved activations plus their gradients (~3x the forward outputs)


@dataclass
class Attribution:
    """The result of :func:`attribute` (tensors on the CPU, float32).

    ``raw``: per-channel attributions [N, C, H, W] (Grad-CAM: [N, 1, H, W], it has no per-channel map);
    ``maps``: per-pixel maps [N, H, W], channels summed; ``targets``: the attributed classes [N];
    ``extras``: per-image values [N] such as IG's convergence ``delta``; ``signed``: whether maps carry a
    sign (IG, GradientSHAP, occlusion) or are magnitudes (saliency, SmoothGrad, Grad-CAM).
    """

    method: str
    raw: torch.Tensor
    maps: torch.Tensor
    targets: torch.Tensor
    signed: bool
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    options: dict = field(default_factory=dict)


METHODS: Registry[type["AttributionMethod"]] = Registry("attribution method")


def register_method(name: str):
    """Class decorator: register an :class:`AttributionMethod` subclass under ``name``."""

    def wrap(cls):
        cls.name = name
        METHODS.add(name, cls)
        return cls

    return wrap


# ----------------------------------------------------------------------------------------------------
# shared helpers


@contextlib.contextmanager
def frozen(model: nn.Module):
    """Eval mode and ``requires_grad_(False)`` on every parameter while inside; both restored on exit.
    Attribution needs gradients with respect to the inputs only: weight gradients would cost a second
    matrix product per layer and accumulate into ``.grad`` for nothing."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def gaussian_blur(x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur of [N, C, H, W] (default sigma: a tenth of the shorter side, so digits become blobs).
    Blurring commutes with per-channel normalisation, so it works on normalised inputs directly."""
    from torchvision.transforms.functional import gaussian_blur as tv_blur

    h, w = x.shape[-2:]
    sigma = sigma or max(0.5, min(h, w) / 10)
    k = min(2 * math.ceil(3 * sigma) + 1, 2 * (min(h, w) // 2) - 1)  # reflect padding needs k // 2 < side
    return tv_blur(x, [max(k, 1)] * 2, [sigma, sigma]) if k >= 3 else x.clone()


def _stats(like: torch.Tensor, values: Sequence[float] | None, default: float) -> torch.Tensor:
    values = values if values is not None else [default] * like.shape[1]
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


def pixel_values(value: float, like: torch.Tensor, mean: Sequence[float] | None, std: Sequence[float] | None):
    """The normalised input of a pixel whose 0..1 value is ``value``, broadcastable to ``like`` [N, C, H, W]."""
    return (value - _stats(like, mean, 0.0)) / _stats(like, std, 1.0)


def make_baseline(kind: str | torch.Tensor, inputs: torch.Tensor, *, mean=None, std=None, seed: int = 0) -> torch.Tensor:
    """A reference input per image, shaped like ``inputs`` [N, C, H, W] (normalised space).

    ``black``: the normalised value of a 0 pixel (zeros when ``mean``/``std`` are not given, i.e. the
    inputs are taken as raw pixels); ``blurred``: a Gaussian blur of each input (Fong & Vedaldi, 2017);
    ``noise``: uniform 0..1 pixel noise, normalised (seeded). A tensor is broadcast as given.
    """
    if isinstance(kind, torch.Tensor):
        return kind.to(inputs).expand_as(inputs).contiguous()
    if kind == "black":
        return pixel_values(0.0, inputs, mean, std).expand_as(inputs).contiguous()
    if kind == "blurred":
        return gaussian_blur(inputs)
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        noise = torch.rand(inputs.shape, generator=g).to(inputs)
        return (noise - _stats(inputs, mean, 0.0)) / _stats(inputs, std, 1.0)
    raise UserError(f"Unknown baseline {kind!r}; use one of {', '.join(BASELINES)}.")


_ACTIVATION_BYTES: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def activation_bytes(model: nn.Module, image_shape: Sequence[int], device=None) -> int:
    """Bytes of every leaf module's output for one image of ``image_shape`` (C, H, W), measured once
    per model and shape with forward hooks (cached)."""
    cache = _ACTIVATION_BYTES.setdefault(model, {})
    key = tuple(image_shape)
    if key not in cache:
        total = [0]

        def hook(_module, _inputs, output):
            if isinstance(output, torch.Tensor):
                total[0] += output.numel() * output.element_size()

        leaves = [m for m in model.modules() if not list(m.children())]
        with forward_hooks(leaves, hook), torch.no_grad(), frozen(model):
            model(torch.zeros(1, *key, device=device))
        cache[key] = max(total[0], 1)
    return cache[key]


def cpu_memory_budget() -> int:
    """Bytes one CPU pass may hold: a quarter of the available memory, at least ``CPU_BUDGET_BYTES`` and at most
    ``CPU_MEMORY_CAP`` (Linux's sysconf; the floor where the machine does not say)."""
    import os

    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return CPU_BUDGET_BYTES
    return int(min(CPU_MEMORY_CAP, max(CPU_BUDGET_BYTES, available * CPU_MEMORY_FRACTION)))


_FASTEST_PASS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def _image_steps_per_second(model: nn.Module, image_shape, size: int, device) -> float:
    """Forward + backward to the input of ``size`` zero images, timed after one warm-up pass."""
    import time

    x = torch.zeros(size, *image_shape, device=device, requires_grad=True)

    def step():
        out = model(x)
        torch.autograd.grad(out[:, 0].sum(), x)

    step()
    start = time.perf_counter()
    step()
    return size / max(time.perf_counter() - start, 1e-9)


def fastest_pass_size(model: nn.Module, image_shape, largest: int, device=None) -> int:
    """The faster of ``largest`` and ``largest // 4`` image-steps per pass, measured once per model and image
    shape: on a CPU the largest pass that fits in memory is not always the fastest (caches), and the only way
    to know is to time it. Callers use it for jobs big enough to repay the two timed passes."""
    cache = _FASTEST_PASS.setdefault(model, {})
    key = (tuple(image_shape), largest)
    if key not in cache:
        candidates = [largest] + ([largest // 4] if largest >= 64 else [])
        with frozen(model):
            rates = {size: _image_steps_per_second(model, image_shape, size, device) for size in candidates}
        cache[key] = max(rates, key=rates.get)
    return cache[key]


def auto_pass_size(model: nn.Module, inputs: torch.Tensor, work: int | None = None) -> int:
    """Image-steps per forward/backward pass: as many as the memory budget allows (a share of the available
    memory on the CPU - see :func:`cpu_memory_budget` - or of the free memory on a GPU) and no more than the
    ``work`` (image-steps of the whole job) needs; on the CPU a job of at least ``MEASURE_FROM`` such passes
    runs at the size measured fastest (:func:`fastest_pass_size`)."""
    per_image = activation_bytes(model, inputs.shape[1:], inputs.device) * BACKWARD_FACTOR
    if inputs.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(inputs.device)
        budget = free * GPU_BUDGET_FRACTION
    else:
        budget = cpu_memory_budget()
    largest = int(max(1, min(MAX_PASS, budget // per_image)))
    if work is not None and inputs.device.type != "cuda" and work >= MEASURE_FROM * largest:
        return fastest_pass_size(model, inputs.shape[1:], largest, inputs.device)
    return largest if work is None else max(1, min(largest, work))


def find_last_conv(model: nn.Module, image_shape: Sequence[int], device=None) -> tuple[str, nn.Conv2d]:
    """The ``Conv2d`` that runs last in a forward pass (execution order, not registration order, so a
    branch defined first but run last is found); :class:`UserError` when the model has none."""
    names = {m: n for n, m in model.named_modules()}
    order: list[nn.Module] = []
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    with forward_hooks(convs, lambda mod, _i, _o: order.append(mod)), torch.no_grad(), frozen(model):
        model(torch.zeros(1, *image_shape, device=device))
    if not order:
        raise UserError(f"{type(model).__name__} has no Conv2d layer, so Grad-CAM has nothing to look at; "
                        f"use --method ig or saliency.")
    return names[order[-1]], order[-1]


# ----------------------------------------------------------------------------------------------------
# the base class


class AttributionMethod:
    """Base class: owns eval mode, frozen parameters, baselines and memory-bounded batching.

    A subclass sets ``defaults`` (its options, with units in comments), ``signed``, and implements
    ``passes_per_image(options, image_shape)`` (forward(+backward) passes one image costs) and
    ``_attribute(inputs, targets, options, pass_size) -> (raw, extras)`` for one group of images.
    """

    name: ClassVar[str] = ""
    signed: ClassVar[bool] = True
    defaults: ClassVar[dict] = {}
    splits_steps: ClassVar[bool] = True  # captum can split one image's steps/samples over several passes
    per_image_baseline: ClassVar[bool] = True  # the 'baseline' option is one reference image per input
    # options every method accepts: pixel statistics for 'black'/'noise' baselines, batching, randomness
    common: ClassVar[dict] = {"mean": None, "std": None, "internal_batch_size": None, "seed": 0}

    def __init__(self, model: nn.Module):
        self.model = model

    def resolve_options(self, options: dict) -> dict:
        allowed = {**self.common, **self.defaults}
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise UserError(f"{self.name} has no option {', '.join(map(repr, unknown))}; its options are "
                            f"{', '.join(sorted(allowed))}.")
        resolved = {**allowed, **{k: v for k, v in options.items() if v is not None}}
        self.validate(resolved)
        return resolved

    def validate(self, options: dict) -> None:
        """Raise :class:`UserError` for a bad option value (subclasses extend)."""
        b = options.get("baseline")
        if isinstance(b, str) and b not in BASELINES:
            raise UserError(f"Unknown baseline {b!r}; use one of {', '.join(BASELINES)}.")
        ibs = options["internal_batch_size"]
        if ibs is not None and (not isinstance(ibs, int) or ibs < 1):
            raise UserError(f"internal_batch_size must be a positive number of image-steps; got {ibs!r}.")

    def passes_per_image(self, options: dict, image_shape: Sequence[int]) -> int:
        return 1

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor, *, callback: Callable[[int], None] | None = None,
                  **options) -> Attribution:
        """Attributions of ``target`` [N] for ``inputs`` [N, C, H, W]; ``callback(k)`` after each k images."""
        opts = self.resolve_options(options)
        if inputs.dim() != 4:
            raise UserError(f"attribute() takes a batch of images [N, C, H, W]; got a tensor of shape {tuple(inputs.shape)}.")
        device = next(self.model.parameters()).device
        inputs = inputs.detach().to(device, torch.float32)
        target = torch.as_tensor(target, dtype=torch.long).reshape(-1).to(device)
        if len(target) == 1 and len(inputs) > 1:
            target = target.expand(len(inputs))
        if len(target) != len(inputs):
            raise UserError(f"attribute() needs one target per image; got {len(target)} targets for {len(inputs)} images.")
        with frozen(self.model):
            work = len(inputs) * self.passes_per_image(opts, inputs.shape[1:])
            pass_size = opts["internal_batch_size"] = opts["internal_batch_size"] or auto_pass_size(self.model, inputs,
                                                                                                   work)
            per_group = self.images_per_group(len(inputs), self.passes_per_image(opts, inputs.shape[1:]), pass_size)
            # Per-image baselines are made once for all images, so the result does not depend on the grouping
            # (the noise baseline would otherwise repeat its seed in every group).
            kind = opts.get("baseline")
            full = self.baseline(kind, inputs, opts) if self.per_image_baseline and kind is not None else None
            raws, extras = [], {}
            for i in range(0, len(inputs), per_group):
                group = slice(i, i + per_group)
                group_opts = {**opts, "baseline": full[group]} if full is not None else opts
                raw, extra = self._attribute(inputs[group], target[group], group_opts, pass_size)
                raws.append(raw.detach().float().cpu())
                for k, v in extra.items():
                    extras.setdefault(k, []).append(v.detach().float().cpu().reshape(-1))
                if callback is not None:
                    callback(len(raw))
            raw = torch.cat(raws)
            for k, v in self.summarize(inputs, target, raw, {**opts, "baseline": full}, pass_size).items():
                extras[k] = [v.detach().float().cpu()]
        return Attribution(self.name, raw, raw.sum(1), target.cpu(), self.signed,
                           {k: torch.cat(v) for k, v in extras.items()}, opts)

    def images_per_group(self, n: int, cost: int, pass_size: int) -> int:
        """Images handed to one ``_attribute`` call. When an image's ``cost`` (passes) fits in a pass, whole
        images fill it; otherwise ``pass_size`` images go together and captum splits their steps into
        passes of ``pass_size // images`` steps each. Groups are full except the last, which captum gives
        more steps per pass, so passes stay near ``pass_size`` (equal groups would leave every pass short)."""
        if cost <= pass_size:
            per_group = pass_size // cost
        else:
            per_group = pass_size if self.splits_steps else 1
        return max(1, min(n, per_group))

    def _attribute(self, inputs, targets, options, pass_size) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def summarize(self, inputs, targets, raw, options, pass_size) -> dict[str, torch.Tensor]:
        """Per-image extras [N] computed once over all images after the groups (e.g. IG's delta)."""
        return {}

    def baseline(self, kind, inputs, options) -> torch.Tensor:
        return make_baseline(kind, inputs, mean=options["mean"], std=options["std"], seed=options["seed"])
