"""Attribution maps: one call for every method, like captum's ``attribute()``.

``attribute(model, inputs, targets, method="ig", **options) -> Attribution`` where ``inputs`` are the
model's normalised float inputs [N, C, H, W] and ``targets`` int64 class indices [N]. Every method is a
small subclass of :class:`AttributionMethod` registered in :data:`METHODS`; the base class owns what
they share (eval mode, frozen parameters, memory-bounded batching, baselines); a subclass wraps one
captum class and says what one pass costs.

Methods (``xaicnn.analysis.attribution.available()``):

- ``ig``: Integrated Gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks",
  ICML 2017), Gauss-Legendre quadrature by default; ``extras["delta"]`` is captum's completeness error.
- ``saliency``: absolute input gradient (Simonyan, Vedaldi & Zisserman, 2014).
- ``smoothgrad``: saliency averaged over noisy copies (Smilkov et al., 2017), captum ``NoiseTunnel``.
- ``gradient_shap``: expected gradients over a baseline distribution (Lundberg & Lee, NeurIPS 2017).
- ``occlusion``: drop in the target logit when a square patch is replaced (Zeiler & Fergus, 2014).
- ``gradcam``: Grad-CAM on the last ``Conv2d`` (Selvaraju et al., ICCV 2017), upsampled to the input.

Batching: one forward+backward pass holds at most ``pass_size`` image-steps (captum's
``internal_batch_size``), chosen from the model's activation memory per image (measured once with
forward hooks): a share of the available memory on the CPU (the fastest of two sizes, measured once, for large
jobs), a share of the free memory on a GPU. IG on N images with S
steps then costs N*S image passes in passes of that size, plus two forward passes for the delta.
Stochastic methods (``smoothgrad``, ``gradient_shap``) are reproducible for a given ``seed`` and pass size.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

# The base pieces live in a lower module that the methods import too; re-exported here, the public path.
from ._attribution_base import (  # noqa: F401
    BASELINES, METHODS, Attribution, AttributionMethod, activation_bytes, auto_pass_size, cpu_memory_budget,
    fastest_pass_size, find_last_conv, frozen, gaussian_blur, make_baseline, pixel_values, register_method,
)
from . import attribution_methods  # noqa: F401  (registers the built-in methods in METHODS)

__all__ = ["BASELINES", "METHODS", "Attribution", "AttributionMethod", "activation_bytes", "attribute", "auto_pass_size",
           "available", "cpu_memory_budget", "fastest_pass_size", "find_last_conv", "frozen", "gaussian_blur",
           "make_baseline", "pixel_values", "register_method"]


def available() -> dict[str, str]:
    """Method name -> one-line description."""
    return {name: (cls.__doc__ or "").strip().splitlines()[0] for name, cls in METHODS.items()}


def attribute(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, method: str = "ig", *,
              callback: Callable[[int], None] | None = None, **options) -> Attribution:
    """Attribution maps of ``model`` for normalised ``inputs`` [N, C, H, W] and class ``targets`` [N].

    ``method``: a name in :data:`METHODS` (unknown names raise :class:`UserError` naming the closest);
    ``options``: the method's options (``steps``, ``baseline``, ...) plus ``mean``/``std`` (the 0..1 pixel
    statistics the inputs were normalised with, for the ``black`` and ``noise`` baselines),
    ``internal_batch_size`` (image-steps per pass; default: chosen from the model's activation memory)
    and ``seed``. Parameters are frozen and the model is in eval mode during the call (both restored).
    Returns an :class:`Attribution` on the CPU with ``maps`` [N, H, W].
    """
    cls = METHODS.get(method) if isinstance(method, str) else method
    return cls(model).attribute(inputs, targets, callback=callback, **options)

