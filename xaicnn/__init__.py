"""xaicnn: train the classic CNN architectures, then explain and compare the runs.

The public API, imported lazily so that ``import xaicnn`` (and ``xaicnn --help``) does not load torch::

    xaicnn.create_model(name, in_channels=..., num_classes=..., image_size=...)   # the zoo
    xaicnn.available_models()                                                     # name -> description
    xaicnn.load_data(name, split)                                                 # uint8 tensors in memory
    xaicnn.complexity(model, input_size)                                          # per-layer shapes/params/FLOPs
    xaicnn.receptive_fields(model, input_size)                                    # per-layer theoretical RF, jump, start
    xaicnn.trained_vs_init(run, run.val_data(size=64))                            # effective RF (Luo et al. 2016)
    xaicnn.unit_health(run); xaicnn.first_conv_filters(run)                       # dead units per layer; first-layer kernels
    xaicnn.train(xaicnn.TrainConfig(arch="vgg_block", dataset="digits"))          # -> checkpoint path
    run = xaicnn.load_checkpoint(path)                                            # .model .meta .history .gradient_flow
    xaicnn.evaluate(run); xaicnn.gradient_flow(run)                               # scikit-learn metrics; layers x epochs
    xaicnn.attribute(model, inputs, targets, method="ig")                         # captum, one call for every method
    xaicnn.compare_attributions([run_a, run_b], n=8).save("out/")                 # heatmaps + faithfulness side by side
    xaicnn.attribution_agreement([maps_a, maps_b], ["a", "b"], top_k=0.1)         # runs x runs Spearman and top-k IoU
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute"
_API = {
    "create_model": "xaicnn.models:create",
    "available_models": "xaicnn.models:available",
    "load_data": "xaicnn.data:load",
    "dataset_info": "xaicnn.data:info",
    "complexity": "xaicnn.models.complexity:complexity",
    "summarize": "xaicnn.models.complexity:summarize",
    "UserError": "xaicnn.errors:UserError",
    "TrainConfig": "xaicnn.training.config:TrainConfig",
    "train": "xaicnn.training.trainer:train",
    "resume": "xaicnn.training.trainer:resume",
    "load_checkpoint": "xaicnn.training.checkpoint:load_checkpoint",
    "attribute": "xaicnn.analysis.attribution:attribute",
    "compare_attributions": "xaicnn.analysis.compare_attributions:compare_attributions",
    "attribution_agreement": "xaicnn.analysis.agreement:attribution_agreement",
    "deletion_insertion": "xaicnn.analysis.faithfulness:deletion_insertion",
    "sanity_check": "xaicnn.analysis.sanity:sanity_check",
    "evaluate": "xaicnn.analysis.metrics:evaluate",
    "gradient_flow": "xaicnn.analysis.gradient_flow:gradient_flow",
    "layer_similarity": "xaicnn.analysis.similarity:layer_similarity",
    "linear_cka": "xaicnn.analysis.similarity:linear_cka",
    "receptive_fields": "xaicnn.models.receptive_field:receptive_fields",
    "effective_receptive_field": "xaicnn.analysis.effective_rf:effective_receptive_field",
    "effective_receptive_field_at_init": "xaicnn.analysis.effective_rf:effective_receptive_field_at_init",
    "trained_vs_init": "xaicnn.analysis.effective_rf:trained_vs_init",
    "first_conv_filters": "xaicnn.analysis.features:first_conv_filters",
    "feature_maps": "xaicnn.analysis.features:feature_maps",
    "unit_health": "xaicnn.analysis.features:unit_health",
    "top_images": "xaicnn.analysis.top_images:top_images",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    try:
        module, attr = _API[name].split(":")
    except KeyError:
        raise AttributeError(f"module 'xaicnn' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
