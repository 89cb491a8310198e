"""The built-in attribution methods: each wraps one captum class and says what one image costs.

Registered in :data:`xaicnn.analysis.attribution.METHODS` when :mod:`xaicnn.analysis.attribution` is
imported (it imports this module; this module takes its base pieces from :mod:`._attribution_base` and
never imports :mod:`.attribution`, so the two do not import each other). Every ``_attribute`` gets one group of images ``inputs`` [n, C, H, W] (normalised), their
``targets`` [n], the resolved options and ``pass_size`` (image-steps one forward/backward pass may hold)
and returns ``(raw [n, C, H, W], extras {name: [n]})``.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from ..errors import UserError
from ._attribution_base import AttributionMethod, find_last_conv, register_method

IG_RULES = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right")


def _positive_int(options: dict, key: str) -> None:
    value = options[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{key} must be a positive whole number; got {value!r}.")


@contextlib.contextmanager
def _seeded(seed: int):
    """captum draws its noise from torch's global generator: seed it for this call only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@register_method("ig")
class IntegratedGradientsMethod(AttributionMethod):
    """Integrated Gradients (Sundararajan et al. 2017): gradients integrated along a path from a baseline.

    Completeness: the attributions of an image sum to f(x) - f(baseline) for the target logit, up to
    the quadrature error captum reports as ``extras["delta"]``.
    """

    signed = True
    defaults = {
        "baseline": "black",  # black | blurred | noise | a tensor broadcastable to the inputs
        "steps": 50,  # points on the path (forward+backward passes per image)
        "integration": "gausslegendre",  # quadrature rule; Gauss-Legendre needs far fewer steps than Riemann sums
    }

    def validate(self, options):
        super().validate(options)
        _positive_int(options, "steps")
        if options["integration"] not in IG_RULES:
            raise UserError(f"Unknown integration rule {options['integration']!r}; use one of {', '.join(IG_RULES)}.")

    def passes_per_image(self, options, image_shape):
        return options["steps"]

    def _attribute(self, inputs, targets, options, pass_size):
        from captum.attr import IntegratedGradients

        n, steps = len(inputs), options["steps"]
        # captum's internal batching splits the steps: each pass holds n images x (internal // n) steps
        internal = None if n * steps <= pass_size else max(n, (pass_size // n) * n)
        baseline = self.baseline(options["baseline"], inputs, options)
        raw = IntegratedGradients(self.model).attribute(
            inputs, baselines=baseline, target=targets, n_steps=steps, method=options["integration"],
            internal_batch_size=internal)
        return raw, {}

    def summarize(self, inputs, targets, raw, options, pass_size):
        """captum's convergence delta, sum(attributions) - (f(x) - f(baseline)), for all images at once:
        two forward passes over large batches instead of two small ones per group of images."""
        from captum.attr import IntegratedGradients

        ig, chunk = IntegratedGradients(self.model), 3 * pass_size  # forward only: larger batches fit
        baseline = options["baseline"]
        return {"delta": torch.cat([
            ig.compute_convergence_delta(raw[i:i + chunk].to(inputs.device), baseline[i:i + chunk], inputs[i:i + chunk],
                                         target=targets[i:i + chunk]).cpu()
            for i in range(0, len(inputs), chunk)])}


@register_method("saliency")
class SaliencyMethod(AttributionMethod):
    """Saliency (Simonyan et al. 2014): the absolute gradient of the target logit with respect to each pixel."""

    signed = False

    def _attribute(self, inputs, targets, options, pass_size):
        from captum.attr import Saliency

        inputs = inputs.clone().requires_grad_()  # captum warns when it has to switch this on itself
        return Saliency(self.model).attribute(inputs, target=targets, abs=True), {}


@register_method("smoothgrad")
class SmoothGradMethod(AttributionMethod):
    """SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies of the input (captum NoiseTunnel)."""

    signed = False
    defaults = {
        "samples": 25,  # noisy copies per image
        "noise": 0.15,  # noise std as a fraction of the input range (the paper finds 10-20% best)
    }

    def validate(self, options):
        super().validate(options)
        _positive_int(options, "samples")
        if not isinstance(options["noise"], (int, float)) or options["noise"] < 0:
            raise UserError(f"noise must be a fraction of the input range such as 0.15; got {options['noise']!r}.")

    def passes_per_image(self, options, image_shape):
        return options["samples"]

    def _attribute(self, inputs, targets, options, pass_size):
        from captum.attr import NoiseTunnel, Saliency

        stdev = options["noise"] * float(inputs.max() - inputs.min())
        with _seeded(options["seed"]):
            raw = NoiseTunnel(Saliency(self.model)).attribute(
                inputs, nt_type="smoothgrad", nt_samples=options["samples"], stdevs=stdev, target=targets, abs=True,
                nt_samples_batch_size=max(1, min(options["samples"], pass_size // len(inputs))))
        return raw, {}


@register_method("gradient_shap")
class GradientShapMethod(AttributionMethod):
    """GradientSHAP (Lundberg & Lee 2017): expected gradients x (input - baseline) over random baselines and path points."""

    signed = True
    splits_steps = False  # captum evaluates all of an image's samples in one pass
    per_image_baseline = False  # one baseline distribution shared by all images
    defaults = {
        "samples": 25,  # (baseline, path point) draws per image
        "baseline": "noise",  # noise: 16 uniform-noise images; black: the black image only
        "stdevs": 0.1,  # Gaussian noise added to each draw (normalised units)
    }

    def validate(self, options):
        super().validate(options)
        _positive_int(options, "samples")
        if options["baseline"] == "blurred":
            raise UserError("gradient_shap needs one baseline distribution for all images; use --baseline black or noise.")

    def passes_per_image(self, options, image_shape):
        return options["samples"]

    def _attribute(self, inputs, targets, options, pass_size):
        from captum.attr import GradientShap

        kind = options["baseline"]
        like = inputs[:1].expand(16 if kind == "noise" else 1, *inputs.shape[1:])
        baselines = self.baseline(kind, like, options)
        with _seeded(options["seed"]):
            raw = GradientShap(self.model).attribute(inputs, baselines=baselines, target=targets,
                                                     n_samples=options["samples"], stdevs=options["stdevs"])
        return raw, {}


@register_method("occlusion")
class OcclusionMethod(AttributionMethod):
    """Occlusion (Zeiler & Fergus 2014): the drop in the target logit when a square patch is replaced by the baseline."""

    signed = True
    defaults = {
        "window": None,  # patch side in pixels (default: an eighth of the shorter side, at least 2)
        "stride": None,  # pixels between patches (default: half the window)
        "baseline": "black",  # what a patch is replaced with: black | blurred | noise
    }

    def _geometry(self, options, image_shape):
        side = min(image_shape[-2:])
        window = options["window"] or max(2, round(side / 8))
        stride = options["stride"] or max(1, window // 2)
        if window > side:
            raise UserError(f"The occlusion window ({window} px) is larger than the image ({side} px); pass a smaller window.")
        return window, stride

    def validate(self, options):
        super().validate(options)
        for key in ("window", "stride"):
            if options[key] is not None:
                _positive_int(options, key)

    def passes_per_image(self, options, image_shape):
        window, stride = self._geometry(options, image_shape)
        h, w = image_shape[-2:]
        return ((h - window) // stride + 1) * ((w - window) // stride + 1) + 1  # + the unoccluded image

    def _attribute(self, inputs, targets, options, pass_size):
        from captum.attr import Occlusion

        c = inputs.shape[1]
        window, stride = self._geometry(options, inputs.shape[1:])
        baseline = self.baseline(options["baseline"], inputs, options)
        raw = Occlusion(self.model).attribute(
            inputs, sliding_window_shapes=(c, window, window), strides=(c, stride, stride), baselines=baseline,
            target=targets, perturbations_per_eval=max(1, pass_size // len(inputs)))
        return raw / c, {}  # each patch covers every channel: one value per pixel, not one per channel


@register_method("gradcam")
class GradCamMethod(AttributionMethod):
    """Grad-CAM (Selvaraju et al. 2017): channel-weighted activations of the last Conv2d, ReLU, upsampled to the input."""

    signed = False
    defaults = {
        "layer": None,  # module name (see model.named_modules()); default: the last Conv2d to run
    }

    def layer(self, options, image_shape, device) -> tuple[str, nn.Module]:
        if options["layer"] is None:
            return find_last_conv(self.model, image_shape, device)
        modules = dict(self.model.named_modules())
        if options["layer"] not in modules:
            convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
            raise UserError(f"The model has no layer {options['layer']!r}; its Conv2d layers are {', '.join(convs)}.")
        return options["layer"], modules[options["layer"]]

    def _attribute(self, inputs, targets, options, pass_size):
        from captum.attr import LayerAttribution, LayerGradCam

        _, layer = self.layer(options, inputs.shape[1:], inputs.device)
        cam = LayerGradCam(self.model, layer).attribute(inputs, target=targets, relu_attributions=True)
        return LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), interpolate_mode="bilinear"), {}
