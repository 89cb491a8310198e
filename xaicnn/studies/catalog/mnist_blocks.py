"""mnist_blocks: small MNIST models (at most 5 conv layers), each built around one block.

VGG block, ResNet bottleneck, ViT transformer encoder block (Dosovitskiy et al. 2021), CSP
bottleneck (YOLOv5's C3) and SPPF (YOLOv5's fast spatial pyramid pooling), on MNIST resized to
32x32. The original: 0.991 / 0.987 / 0.895 / 0.987 / 0.960 test accuracy after 10 epochs, and
Integrated Gradients heatmaps (Sundararajan et al. 2017) of the models side by side on the same digits.
"""
from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, SMOKE

SPEC = register_study(StudySpec(
    name="mnist_blocks",
    description="MNIST models around one block each (VGG, bottleneck, transformer, CSP, SPPF), with IG heatmaps",
    dataset="mnist", fallback=CIFAR_FALLBACK, image_size=32,
    original="Five small models on MNIST at 32x32, 10 epochs; test accuracy 0.991 (VGG block) / 0.987 (bottleneck) / "
             "0.895 (transformer) / 0.987 (CSP) / 0.960 (SPPF). Optimiser not given: full uses Adam (one-cycle, "
             "peak 2e-3), batch 64.",
    conditions=(
        Condition("vgg", "vgg_block", title="VGG block"),
        Condition("bottleneck", "bottleneck_block", title="ResNet bottleneck"),
        Condition("transformer", "transformer_block", title="transformer block"),
        Condition("csp", "csp_block", title="CSP (C3) block"),
        Condition("sppf", "sppf_block", title="SPPF block"),
    ),
    train={"batch_size": 64, "lr": 2e-3, "optimizer": "adam", "schedule": "onecycle"},
    presets={
        "smoke": SMOKE,
        "quick": Preset(epochs=6, seeds=5, minutes=7, train_size=6000, val_size=1000),
        "full": Preset(epochs=10, seeds=5),
    },
    claims=(
        Claim("the VGG block beats the transformer block", "final_acc", "vgg", ">", "transformer", "0.991 vs 0.895"),
        Claim("the bottleneck block beats the transformer block", "final_acc", "bottleneck", ">", "transformer",
              "0.987 vs 0.895"),
        Claim("the CSP block beats the transformer block", "final_acc", "csp", ">", "transformer", "0.987 vs 0.895"),
        Claim("the VGG block beats the SPPF block", "final_acc", "vgg", ">", "sppf", "0.991 vs 0.960"),
        Claim("the SPPF block beats the transformer block", "final_acc", "sppf", ">", "transformer", "0.960 vs 0.895"),
        Claim("the VGG block beats the bottleneck block", "final_acc", "vgg", ">", "bottleneck", "0.991 vs 0.987"),
    ),
    figures=("curves", "attributions"),
))
