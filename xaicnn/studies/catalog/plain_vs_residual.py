"""plain_vs_residual: 20 and 56 fully connected layers vs ResNet-18 on CIFAR-10.

A deep stack of fully connected ReLU layers without normalisation or shortcuts barely learns (FC20:
about 0.18) or not at all (FC56: chance, 0.10), while ResNet-18 reaches about 0.79 with the same
optimiser - the degradation problem of He et al. (2016) in its starkest form. The original plotted
per-epoch train/validation loss and accuracy, macro precision and recall, and the gradient flow.
"""
from dataclasses import replace

from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, LECTURE_NOTES, RESNET_EXERCISE, SMOKE

QUICK_LIMITS = ("The fully connected nets are 256 wide instead of 4,096 and the CIFAR nets of He et al. half width, "
                "trained with the report's recipe (Adam 1e-3, batch 32) on 1,500 images: the claims are about which "
                "nets train at all, not about the accuracies at convergence.")

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
        "quick": Preset(limits=QUICK_LIMITS, epochs=10, seeds=5, minutes=12, train_size=1500, val_size=1000,
                        options={"width": 0.125},
                        condition_options={"fc20": {"width": 256}, "fc56": {"width": 256},
                                           **{k: {"width": 0.5} for k in ("plain20", "plain56", "resnet20", "resnet56")}},
                        notes=("FC layers 256 wide instead of 4096: depth, not width, is what fails to train",
                               "the CIFAR nets of He et al. at half width (8-16-32 filters): depth is kept")),
        "full": Preset(epochs=30, seeds=5),
    },
    claims=(
        Claim("ResNet-18 is far more accurate than FC20", "final_acc", "resnet18", ">", "fc20",
              "val accuracy 79% or more vs 16%", f"{RESNET_EXERCISE} §3 (results)", values=(0.79, 0.16),
              note="the text gives FC20 16% validation accuracy; the table's first five epochs show 0.161-0.193"),
        Claim("FC20 is more accurate than FC56", "final_acc", "fc20", ">", "fc56", "val 16% vs about 9.5-9.7%",
              f"{RESNET_EXERCISE} §3 (results, table)", values=(0.16, 0.0968), at_chance=("fc56",)),
        Claim("FC56 trains to a lower training accuracy than FC20", "final_train_acc", "fc20", ">", "fc56",
              "train 16% vs 9.6-10.0%", f"{RESNET_EXERCISE} §3 (results, table)", values=(0.16, 0.0989),
              at_chance=("fc56",)),
        Claim("FC56 stays at chance", "final_acc", "fc56", "~", "chance", "val 0.0948-0.0968; precision and recall "
              "10% or less", f"{RESNET_EXERCISE} §3 (results, table)", values=(0.0968,), margin=0.02,
              at_chance=("fc56",)),
        Claim("plain-56 is less accurate than plain-20 (degradation)", "final_acc", "plain56", "<", "plain20",
              "'56 layers can be worse than 20'", f"{LECTURE_NOTES} §1.6",
              reference="He et al. 2016, §4.2 and Fig. 6 (CIFAR-10)"),
        Claim("plain-56 has the higher training error too: not overfitting", "final_train_acc", "plain56", "<",
              "plain20", "training error is also higher for the deeper net", f"{LECTURE_NOTES} §1.6",
              reference="He et al. 2016, Fig. 6 (left)"),
        Claim("ResNet-56 is more accurate than ResNet-20", "final_acc", "resnet56", ">", "resnet20",
              "test error 6.97% vs 8.75%", f"{LECTURE_NOTES} §1.6 (residual connections)",
              reference="He et al. 2016, Table 6", values=(0.9303, 0.9125)),
    ),
    figures=("curves", "gradient_heatmap", "confusion"),
    departures=("FC20 / FC56 dropout rate is not given in the original; ours is 0.2 between the hidden layers",
                "plain-20/56 and ResNet-20/56 (He et al. 2016, §4.2: batch norm, 16-32-64 filters, option-A shortcuts) "
                "are not in the original report; they are trained with the report's recipe (Adam 1e-3, batch 32), "
                "not the paper's SGD schedule",
                "the original's macro precision and recall are not claims of their own here: on a class-balanced "
                "validation set macro recall equals accuracy"),
))
