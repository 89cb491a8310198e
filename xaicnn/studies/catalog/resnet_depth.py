"""resnet_depth: ResNet-18 vs ResNet-50 vs ResNet-101 on CIFAR-10 (He et al., "Deep Residual Learning
for Image Recognition", 2016).

Shortcuts let the gradient reach every stage, so depth no longer breaks training - but on 32x32
images it does not buy accuracy either: the original got 94.56 / 93.54 / 93.69 % with about 11M /
25M / 44M parameters, the deeper nets costing far more time. The figure is the gradient norm per
stage over epochs.
"""
from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, SMOKE

SPEC = register_study(StudySpec(
    name="resnet_depth",
    description="ResNet-18/50/101 on CIFAR-10: accuracy, parameters, training time and gradient flow per stage",
    dataset="cifar10", fallback=CIFAR_FALLBACK, image_size=32,
    original="ResNet-18/50/101 (CIFAR stem) on CIFAR-10: 94.56 / 93.54 / 93.69 %, about 11M / 25M / 44M parameters. "
             "The recipe is not given: full uses 30 epochs of SGD (Nesterov, one-cycle, peak 0.1, weight decay 5e-4), "
             "batch 128, flip + crop.",
    conditions=(
        Condition("resnet18", "resnet18", augment="basic", title="ResNet-18"),
        Condition("resnet50", "resnet50", augment="basic", title="ResNet-50"),
        Condition("resnet101", "resnet101", augment="basic", title="ResNet-101"),
    ),
    train={"batch_size": 128, "lr": 0.1, "optimizer": "sgd", "schedule": "onecycle", "weight_decay": 5e-4},
    presets={
        "smoke": SMOKE,
        "quick": Preset(epochs=8, seeds=5, minutes=12, train_size=4000, val_size=1000, options={"width": 0.125},
                        config={"batch_size": 64}),
        "full": Preset(epochs=30, seeds=5),
    },
    claims=(
        Claim("ResNet-18 has about 11M parameters", "params", "resnet18", original="about 11M", kind="exact",
              expected=(11_000_000,), rel_tol=0.1),
        Claim("ResNet-50 has about 25M parameters", "params", "resnet50", original="about 25M", kind="exact",
              expected=(25_000_000,), rel_tol=0.1),
        Claim("ResNet-101 has about 44M parameters", "params", "resnet101", original="about 44M", kind="exact",
              expected=(44_000_000,), rel_tol=0.1),
        Claim("ResNet-18 is more accurate than ResNet-50", "final_acc", "resnet18", ">", "resnet50",
              "0.9456 vs 0.9354"),
        Claim("ResNet-18 is more accurate than ResNet-101", "final_acc", "resnet18", ">", "resnet101",
              "0.9456 vs 0.9369"),
        Claim("ResNet-101 takes longer to train than ResNet-18", "total_time", "resnet101", ">", "resnet18",
              "deeper nets took longer (no numbers given)"),
    ),
    figures=("curves", "gradient_stages"),
))
