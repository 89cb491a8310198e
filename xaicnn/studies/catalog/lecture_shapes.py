"""lecture_shapes: the lecture's numbers - per-layer output shapes, parameters and operations of the classic nets.

Trains nothing. LeNet-5 (LeCun et al. 1998) on 1x32x32; AlexNet (Krizhevsky et al. 2012) on 227x227x3,
whose first conv (96 filters 11x11 stride 4) gives 55x55x96 and whose first pool 27x27x96; ZFNet (Zeiler
& Fergus 2014), VGG-16 (Simonyan & Zisserman 2015), GoogLeNet (Szegedy et al. 2015) and ResNet-50 (He et
al. 2016) on 224x224x3, 1000 classes; and the lecture's Inception module (28x28x256 in; 1x1 128, 3x3 192,
5x5 96 and a 3x3 pool) naive vs with 1x1 reductions to 64 channels. Everything is measured on the meta
device by :func:`xaicnn.models.complexity.complexity`; the lecture's "ops" are multiply-accumulates
(MACs), FLOPs are 2 x MACs. Figures the notes do not contain are labelled with the reference they come from.
"""
from __future__ import annotations

from ..spec import Claim, ComputedStudy, StudySpec, register_study
from ._common import LECTURE_NOTES as NOTES

# (label, arch, (C, H, W), classes)
NETS = (
    ("LeNet-5", "lenet5", (1, 32, 32), 10),
    ("AlexNet", "alexnet", (3, 227, 227), 1000),
    ("ZFNet", "zfnet", (3, 224, 224), 1000),
    ("VGG-16", "vgg16", (3, 224, 224), 1000),
    ("GoogLeNet", "inception_v1", (3, 224, 224), 1000),
    ("ResNet-50", "resnet50", (3, 224, 224), 1000),
)
MODULE_INPUT = (256, 28, 28)  # the lecture's example module (CS231n lecture 9), not GoogLeNet's 3a
MODULE = (128, 64, 192, 64, 96, 64)  # 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection
STACK_CHANNELS = 64  # C of the "three 3x3 vs one 7x7" comparison (any C gives the same 27:49)
C2 = STACK_CHANNELS ** 2


def _exact(text, metric, a, values, source, b=None, original="", **kw) -> Claim:
    return Claim(text, metric, a, kw.pop("direction", "~"), b, original, source, kind="exact", values=values, **kw)


CLAIMS = (
    _exact("AlexNet's first conv (96 filters 11x11, stride 4) turns 227x227x3 into 55x55x96", "output_shape",
           "AlexNet conv1", ((55, 55, 96),), f"{NOTES} §1.2 (Q1)", original="(227-11)/4+1 = 55: 55x55x96"),
    _exact("AlexNet's first conv has (11*11*3)*96 = 35K weights", "weights", "AlexNet conv1", (34_848,),
           f"{NOTES} §1.2 (Q2)", original="(11*11*3)*96 = 35K",
           note="34,848 weights; with the 96 biases the layer has 34,944 parameters"),
    _exact("AlexNet's first pool (3x3, stride 2) gives 27x27x96", "output_shape", "AlexNet pool1", ((27, 27, 96),),
           f"{NOTES} §1.2 (Q3)", original="(55-3)/2+1 = 27: 27x27x96"),
    _exact("a pooling layer has no parameters", "params", "AlexNet pool1", (0,), f"{NOTES} §1.2 (Q4)", original="0"),
    _exact("AlexNet has 5 conv and 3 FC layers", "layers", "AlexNet conv", (5, 3), f"{NOTES} §1.2", b="AlexNet fc",
           original="5 conv + 3 FC"),
    _exact("VGG-16 has 16 weight layers (13 conv + 3 FC)", "layers", "VGG-16", (16,), f"{NOTES} §1.3",
           original="16-19 layers (VGG16Net)"),
    _exact("three stacked 3x3 convs (stride 1) see a 7x7 receptive field", "receptive_field", "three 3x3", (7,),
           f"{NOTES} §1.3 (Q2)", original="three 3x3 = one 7x7"),
    _exact("three 3x3 convs (C -> C) have 27C² weights, one 7x7 conv 49C²", "weights", "three 3x3",
           (27 * C2, 49 * C2), f"{NOTES} §1.3", b="one 7x7", original="3*(3²C²) vs 7²C² (C = 64 here)"),
    _exact("as written: 3*(3²C²) vs 7*(7²C²)", "weights", "three 3x3", (27 * C2, 343 * C2), f"{NOTES} §1.3",
           b="one 7x7", original="3*(3²C²) vs 7*(7²C²)",
           note="the notes write the 7x7 side as 7*(7²C²) = 343C², seven 7x7 layers; one 7x7 conv (the comparison the "
                "text makes) has 49C², which the previous check tests"),
    _exact("AlexNet has about 60M parameters", "params", "AlexNet", (60_000_000,), f"{NOTES} §1.4",
           original="AlexNet: 60M", rel_tol=0.1),
    _exact("GoogLeNet has about 5M parameters", "params", "GoogLeNet", (5_000_000,), f"{NOTES} §1.4",
           original="about 5M", rel_tol=0.2,
           note="ours, built from the paper's Table 1 with batch norm and no auxiliary classifiers, has 7.0M"),
    _exact("the naive module turns 28x28x256 into 28x28x672", "output_shape", "naive module", ((28, 28, 672),),
           f"{NOTES} §1.4", original="28x28x256 -> 28x28x672"),
    _exact("the naive module costs 854M operations", "macs", "naive module", (854_000_000,), f"{NOTES} §1.4",
           original="854M ops", rel_tol=0.001),
    _exact("the module with 1x1 reductions costs 358M operations", "macs", "reduced module", (358_000_000,),
           f"{NOTES} §1.4", original="358M ops", rel_tol=0.001,
           note="the lecture's own list of the reduced module's convolutions (1x1 64, 1x1 64, 1x1 128, 3x3 192 on 64, "
                "5x5 96 on 64, 1x1 64 after the pool) sums to 271M, not 358M; the next check tests that reading"),
    _exact("the reduced module's listed convolutions sum to 271M operations", "macs", "reduced module",
           (271_351_808,), f"{NOTES} §1.4 (the per-conv list)", original="28x28x64x1x1x256 + ... + 28x28x64x1x1x256"),
    _exact("ResNet uses bottleneck blocks from 50 layers on (basic blocks below)", "block", "ResNet-34",
           ("basic", "bottleneck"), f"{NOTES} §1.6", b="ResNet-50", original="bottleneck layers at depth 50+"),
    _exact("ZFNet's first conv (96 filters 7x7, stride 2) gives 110x110x96", "output_shape", "ZFNet conv1",
           ((110, 110, 96),), f"{NOTES} §1.2 (ZFNet: AlexNet with other strides and filters)",
           reference="Zeiler & Fergus 2014, Fig. 3", original="110x110x96"),
    _exact("LeNet-5 has 61,706 parameters", "params", "LeNet-5", (61_706,), f"{NOTES} §1.1",
           reference="LeCun et al. 1998 as usually implemented (ReLU, max-pool, 10 classes)", original="61,706"),
    _exact("VGG-16 has 138,357,544 parameters", "params", "VGG-16", (138_357_544,), f"{NOTES} §1.3",
           reference="torchvision vgg16", original="138,357,544"),
    _exact("ResNet-50 has 25,557,032 parameters", "params", "ResNet-50", (25_557_032,), f"{NOTES} §1.6",
           reference="torchvision resnet50", original="25,557,032"),
)


def _measure(arch: str, input_size, classes: int):
    import torch

    from ... import models
    from ...models.complexity import complexity

    with torch.device("meta"):
        model = models.create(arch, in_channels=input_size[0], num_classes=classes, image_size=input_size[1:])
    return complexity(model, input_size)


def inception_module_costs() -> dict[str, dict]:
    """The lecture's module on 28x28x256, naive vs reduced (conv + bias, no batch norm, as the lecture counts):
    {"naive"|"reduced": {"params", "flops", "macs", "out_channels", "report"}}."""
    from ...models.complexity import complexity
    from ...models.inception import Inception, ModuleSpec

    out = {}
    for label, reduce in (("naive", False), ("reduced", True)):
        module = Inception(MODULE_INPUT[0], ModuleSpec(*MODULE), reduce=reduce, batch_norm=False)
        r = complexity(module, MODULE_INPUT)
        out[label] = {"params": r.params, "flops": r.flops, "macs": r.macs, "out_channels": module.out_channels,
                      "report": r}
    return out


def _dims(shape) -> str:
    return "x".join(map(str, shape))


def _hwc(chw) -> tuple:
    c, h, w = chw
    return (h, w, c)


def _stack_weights() -> dict:
    import torch.nn as nn

    C = STACK_CHANNELS
    three = sum(nn.Conv2d(C, C, 3, bias=False).weight.numel() for _ in range(3))
    return {"three 3x3": three, "one 7x7": nn.Conv2d(C, C, 7, bias=False).weight.numel()}


def _receptive_field(kernels) -> int:
    """Receptive field of stacked stride-1 convs: 1 + sum(k - 1)."""
    return 1 + sum(k - 1 for k in kernels)


def measure(reports: dict) -> dict:
    """metric -> label -> our value, for every quantity a claim names."""
    import torch

    from ... import models

    alex = reports["AlexNet"].layers
    conv1 = next(r for r in alex if r.type == "Conv2d")
    pool1 = next(r for r in alex if r.type == "MaxPool2d")
    zf1 = next(r for r in reports["ZFNet"].layers if r.type == "Conv2d")
    module = inception_module_costs()
    with torch.device("meta"):
        alexnet = models.create("alexnet", in_channels=3, num_classes=1000, image_size=227)
        vgg = models.create("vgg16", in_channels=3, num_classes=1000, image_size=224)
        blocks = {name: type(models.create(name, in_channels=3, num_classes=1000, image_size=224).layer1[0]).__name__
                  for name in ("resnet34", "resnet50")}
    count = lambda m, kind: sum(isinstance(x, kind) for x in m.modules())  # noqa: E731
    return {
        "output_shape": {"AlexNet conv1": _hwc(conv1.output_shape), "AlexNet pool1": _hwc(pool1.output_shape),
                         "ZFNet conv1": _hwc(zf1.output_shape),
                         "naive module": (*MODULE_INPUT[1:], module["naive"]["out_channels"])},
        "weights": {"AlexNet conv1": alexnet.features[0].weight.numel(), **_stack_weights()},
        "params": {"AlexNet pool1": pool1.params, **{label: r.params for label, r in reports.items()}},
        "layers": {"AlexNet conv": count(alexnet, torch.nn.Conv2d), "AlexNet fc": count(alexnet, torch.nn.Linear),
                   "VGG-16": count(vgg, torch.nn.Conv2d) + count(vgg, torch.nn.Linear)},
        "receptive_field": {"three 3x3": _receptive_field((3, 3, 3))},
        "macs": {"naive module": module["naive"]["macs"], "reduced module": module["reduced"]["macs"]},
        "block": {"ResNet-34": "basic" if blocks["resnet34"] == "BasicBlock" else blocks["resnet34"],
                  "ResNet-50": "bottleneck" if blocks["resnet50"] == "Bottleneck" else blocks["resnet50"]},
    }, module


def _show(value) -> str:
    if isinstance(value, tuple):
        return _dims(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def compute() -> ComputedStudy:
    """Per-net totals and first layers, the Inception module comparison, the exact checks and per-layer tables."""
    from ...models.complexity import format_table
    from .. import verdicts

    reports = {label: _measure(arch, size, k) for label, arch, size, k in NETS}
    ours, module = measure(reports)
    table, sections = [], ["## Per-layer tables", ""]
    for label, arch, size, k in NETS:
        r = reports[label]
        first = next(row for row in r.layers if row.params)
        table.append({"item": label, "arch": arch, "input": _dims(size), "classes": k, "params": r.params,
                      "flops": r.flops, "macs": r.macs, "first_layer": first.name,
                      "first_output": _dims(first.output_shape), "first_params": first.params})
        sections += [f"### {label} (`{arch}`, input {_dims(size)}, {k} classes)", "", "```text", format_table(r),
                     "```", ""]
    for label in ("naive", "reduced"):
        m = module[label]
        table.append({"item": f"lecture Inception module, {label}", "arch": "inception module",
                      "input": _dims(MODULE_INPUT), "params": m["params"], "flops": m["flops"], "macs": m["macs"],
                      "first_output": _dims((m["out_channels"], *MODULE_INPUT[1:]))})
    sections += _module_section(module["naive"], module["reduced"])
    claims = [verdicts.evaluate_exact(c, ours.get(c.metric, {}), show=_show) for c in CLAIMS]
    return ComputedStudy(table, claims, sections)


def _module_section(naive: dict, reduced: dict) -> list[str]:
    from ...models.complexity import format_table, human

    return ["## The lecture's Inception module on 28x28x256: naive vs 1x1 reductions", "",
            f"The naive module has {naive['params'] - reduced['params']:,} more parameters "
            f"({naive['params']:,} vs {reduced['params']:,}) and costs {human(naive['flops'] - reduced['flops'])} "
            f"more FLOPs per image ({human(naive['flops'])} vs {human(reduced['flops'])}; "
            f"{naive['flops'] / reduced['flops']:.2f}x); its output is {naive['out_channels']} channels deep "
            f"instead of {reduced['out_channels']} (the pool branch passes all 256 input channels through).", "",
            "```text", format_table(naive["report"]), "```", "",
            "```text", format_table(reduced["report"]), "```", ""]


SPEC = register_study(StudySpec(
    name="lecture_shapes",
    description="output shapes, parameters and FLOPs of LeNet-5 .. ResNet-50, and the naive vs 1x1 Inception module",
    dataset="cifar10", fallback="digits",
    original="CS231n lecture 9 notes (003): AlexNet's conv1 and pool1 shapes and parameters, 3x3 stacks vs 7x7, "
             "GoogLeNet's size, the naive vs 1x1-reduced Inception module (854M vs 358M ops), ResNet's bottlenecks.",
    claims=CLAIMS, figures=(), compute=compute,
))
