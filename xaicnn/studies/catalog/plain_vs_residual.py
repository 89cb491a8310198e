"""plain_vs_residual: 20 and 56 fully connected layers vs ResNet-18 on CIFAR-10.

A deep stack of fully connected ReLU layers without normalisation or shortcuts barely learns (FC20:
about 0.18) or not at all (FC56: chance, 0.10), while ResNet-18 reaches about 0.79 with the same
optimiser - the degradation problem of He et al. (2016) in its starkest form. The original plotted
per-epoch train/validation loss and accuracy, macro precision and recall, and the gradient flow.
"""
from dataclasses import replace

from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, SMOKE

SPEC = register_study(StudySpec(
    name="plain_vs_residual",
    description="FC20 and FC56 (fully connected, width 4096) vs ResNet-18 on CIFAR-10: deep plain nets fail to train",
    dataset="cifar10", fallback=CIFAR_FALLBACK, image_size=32,
    original="FC20 and FC56 (width 4096, ReLU, dropout) and ResNet-18 on CIFAR-10, Adam 1e-3 (constant), batch 32, "
             "30 epochs; accuracy about 0.18 / 0.10 (chance) / 0.79.",
    conditions=(
        Condition("fc20", "fc20", title="FC20"),
        Condition("fc56", "fc56", title="FC56"),
        Condition("resnet18", "resnet18", title="ResNet-18"),
        # He et al. 2016 Sec. 4.2: the CIFAR nets of the degradation experiment (batch norm, 3x3 convs, 16-32-64)
        Condition("plain20", "plain20", title="plain-20"),
        Condition("plain56", "plain56", title="plain-56"),
        Condition("resnet20", "resnet20", title="ResNet-20"),
        Condition("resnet56", "resnet56", title="ResNet-56"),
    ),
    train={"batch_size": 32, "lr": 1e-3, "optimizer": "adam", "schedule": "none"},
    presets={
        "smoke": replace(SMOKE, condition_options={"fc20": {"width": 32}, "fc56": {"width": 32}}),
        "quick": Preset(epochs=8, seeds=5, minutes=11, train_size=2000, val_size=1000,
                        options={"width": 0.125},
                        condition_options={"fc20": {"width": 256}, "fc56": {"width": 256},
                                           **{k: {"width": 0.5} for k in ("plain20", "plain56", "resnet20", "resnet56")}},
                        notes=("FC layers 256 wide instead of 4096: depth, not width, is what fails to train",
                               "the CIFAR nets of He et al. at half width (8-16-32 filters): depth is kept")),
        "full": Preset(epochs=30, seeds=5),
    },
    claims=(
        Claim("ResNet-18 is far more accurate than FC20", "final_acc", "resnet18", ">", "fc20", "0.79 vs 0.18"),
        Claim("FC20 is more accurate than FC56", "final_acc", "fc20", ">", "fc56", "0.18 vs 0.10"),
        Claim("FC56 stays at chance (below chance + 0.05)", "final_acc", "fc56", "<", "chance", "0.10 (chance)",
              margin=0.05),
        Claim("ResNet-18 has higher macro recall than FC56", "recall", "resnet18", ">", "fc56", "about 0.79 vs 0.10"),
    ),
    figures=("curves", "gradient_heatmap", "confusion"),
))
