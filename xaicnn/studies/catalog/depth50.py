"""depth50: VGG-16 vs a 50-layer VGG, Inception-v1 vs a 50-layer Inception (CIFAR-10).

Without batch norm or shortcuts, a 50-layer plain stack starves its early layers of gradient (Glorot
& Bengio 2010; He et al. 2016) and barely trains; the Inception nets keep training at 50 layers
(batch norm in every conv, short parallel paths). The original: accuracy 0.843 / 0.388 / 0.759 /
0.761, and a per-layer, per-epoch gradient map in which VGG-50's first and deep layers get almost
no gradient while Inception-50's do. That failure is robust, so the quick preset keeps all four nets
at reduced width.
"""
from ..spec import Claim, Condition, Preset, StudySpec, register_study
from ._common import CIFAR_FALLBACK, CNN_LAB, SMOKE

QUICK_LIMITS = ("A 50-layer VGG without batch norm on 1,400 images may never leave chance; the original's reached "
                "0.39. Where it stays at chance its accuracy and gradient claims are not testable here, and only the "
                "gradient figures show what happened. The VGGs train without batch norm (as in the original) and "
                "the Inception nets with it; 12 short epochs favour the nets with batch norm, so comparisons across "
                "the two families say more about this budget than about depth.")

CKA_PAIRS = {"similarity": {"pairs": (("vgg16", "vgg50"),)}}  # where VGG-16's blocks reappear in VGG-50

SPEC = register_study(StudySpec(
    name="depth50",
    description="VGG-16 vs VGG-50 and Inception-v1 vs Inception-50: accuracy and per-layer gradient flow",
    dataset="cifar10", fallback=CIFAR_FALLBACK, image_size=32,
    original="VGG-16, VGG-50 (no batch norm), Inception-v1 and Inception-50 on CIFAR-10; accuracy 0.843 / 0.388 / "
             "0.759 / 0.761; gradient norm per layer per epoch. Settings not given: full uses 30 epochs of Adam "
             "(one-cycle, peak 1e-4), batch 128.",
    conditions=(
        Condition("vgg16", "vgg16", title="VGG-16"),
        Condition("vgg50", "vgg50", title="VGG-50"),
        Condition("inception_v1", "inception_v1", title="Inception-v1"),
        Condition("inception50", "inception50", title="Inception-50"),
    ),
    train={"batch_size": 128, "lr": 1e-4, "optimizer": "adam", "schedule": "onecycle"},
    presets={
        "smoke": SMOKE,
        "quick": Preset(limits=QUICK_LIMITS, epochs=12, seeds=5, minutes=13, train_size=1400, val_size=500,
                        options={"width": 0.125},
                        condition_options={"inception_v1": {"width": 0.0625}, "inception50": {"width": 0.0625}},
                        config={"batch_size": 64, "lr": 5e-4},
                        figure_options=CKA_PAIRS,
                        notes=("the Inception nets at 1/16 width, the VGGs at 1/8: all four keep their depth, which is "
                               "what the gradient flow is about",)),
        "full": Preset(epochs=30, seeds=5, figure_options=CKA_PAIRS),
    },
    claims=(
        Claim("VGG-16 is far more accurate than VGG-50", "final_acc", "vgg16", ">", "vgg50", "0.8434 vs 0.3876",
              f"{CNN_LAB} §4 (table, 1.1)", values=(0.8434, 0.3876)),
        Claim("Inception-50 is about as accurate as Inception-v1", "final_acc", "inception50", "~", "inception_v1",
              "0.7609 vs 0.7586 ('similar')", f"{CNN_LAB} §4 (table, 1.3)", values=(0.7609, 0.7586), margin=0.02),
        Claim("Inception-50 is more accurate than VGG-50", "final_acc", "inception50", ">", "vgg50", "0.7609 vs 0.3876",
              f"{CNN_LAB} §4 (table, conclusion 2)", values=(0.7609, 0.3876)),
        Claim("VGG-16 is more accurate than Inception-v1", "final_acc", "vgg16", ">", "inception_v1",
              "0.8434 vs 0.7586", f"{CNN_LAB} §4 (table)", values=(0.8434, 0.7586)),
        Claim("VGG-50's first layer gets far less gradient than VGG-16's", "grad_first", "vgg16", ">", "vgg50",
              "VGG-50's features.0.weight stays near 0 all training", f"{CNN_LAB} §4 (1.1, 1.2)"),
        Claim("Inception-50's first layer gets more gradient than VGG-50's", "grad_first", "inception50", ">", "vgg50",
              "VGG-50's first layers get almost no gradient; Inception-50's flow evenly", f"{CNN_LAB} §4 (1.3, conclusion)"),
    ),
    figures=("curves", "gradient_heatmap", "gradient_lines", "unit_health", "similarity"),
    departures=("the original's 50-layer nets are not described: our VGG-50 stacks 47 3x3 convs (4-6-12-13-12 per "
                "stage) + 3 FC without batch norm, our Inception-50 24 GoogLeNet modules (batch norm in every conv)",
                "gradient is compared as log10 of the mean |gradient| of the first conv's weights, averaged over "
                "epochs (the original plots a per-layer gradient norm)"),
))
