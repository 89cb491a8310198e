"""vgg_kernel: VGG-16 with 3x3 kernels vs the same net with 7x7 kernels (padding 3) on CIFAR-10.

Same feature-map shapes, so the 7x7 net only adds parameters (about 3x: 33.6M -> 99.0M) and compute
(49/9 of the conv FLOPs). The original found it both less accurate and slower per epoch (5 seeds).
Simonyan & Zisserman (2015) argue the same from the other side: a stack of 3x3 layers has the 7x7
receptive field with fewer parameters and more non-linearities.
"""
from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, SMOKE

SPEC = register_study(StudySpec(
    name="vgg_kernel",
    description="VGG-16 with 3x3 kernels vs 7x7 kernels on CIFAR-10: accuracy, parameters, time per epoch",
    dataset="cifar10", fallback=CIFAR_FALLBACK, image_size=32,
    original="VGG-16 (classifier 512-4096-4096-10) on CIFAR-10, 3x3 vs 7x7 kernels, 5 seeds; accuracy 0.869 vs 0.825, "
             "22.8 vs 29.8 s/epoch on the original's GPU. Optimiser and epochs not given: full uses 30 epochs of Adam "
             "(one-cycle, peak 1e-4), batch 128.",
    conditions=(
        Condition("k3", "vgg16", title="VGG-16 3x3"),
        Condition("k7", "vgg16_7x7", title="VGG-16 7x7"),
        Condition("rf", "vgg16_rf", title="VGG-16, one 5x5/7x7 conv per stage"),
    ),
    train={"batch_size": 128, "lr": 1e-4, "optimizer": "adam", "schedule": "onecycle"},
    presets={
        "smoke": SMOKE,
        "quick": Preset(epochs=8, seeds=5, minutes=10, train_size=4000, val_size=1000,
                        options={"width": 0.25, "batch_norm": True}, config={"batch_size": 64, "lr": 2e-3},
                        notes=("width x0.25 keeps the 3x3/7x7 ratio of parameters and FLOPs (both scale with width "
                               "squared)",
                               "batch norm after every conv (the original had none): without it 2 of 3 7x7 runs never "
                               "left chance in 6 epochs, so the comparison measured trainability, not kernel size",)),
        "full": Preset(epochs=30, seeds=5),
    },
    claims=(
        Claim("VGG-16 3x3 has 33,638,218 parameters and the 7x7 variant 99,018,058", "params", "k3", "<", "k7",
              "33,638,218 vs 99,018,058", kind="exact", expected=(33_638_218, 99_018_058)),
        Claim("3x3 kernels are more accurate than 7x7", "final_acc", "k3", ">", "k7", "0.869 vs 0.825"),
        Claim("7x7 kernels are slower per epoch", "sec_per_epoch", "k7", ">", "k3", "29.8 vs 22.8 s"),
    ),
    figures=("curves",),
))
