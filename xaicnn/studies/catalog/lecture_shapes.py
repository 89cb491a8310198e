"""lecture_shapes: the lecture tables - per-layer output shapes, parameters and FLOPs of the classic nets.

Trains nothing. LeNet-5 (LeCun et al. 1998) on 1x32x32; AlexNet (Krizhevsky et al. 2012) on
227x227x3, whose first conv (96 filters 11x11 stride 4) gives 55x55x96; ZFNet (Zeiler & Fergus 2014),
VGG-16 (Simonyan & Zisserman 2015), GoogLeNet (Szegedy et al. 2015) and ResNet-50 (He et al. 2016)
on 224x224x3, 1000 classes; and one Inception module (3a: 28x28x192 in) naive vs with 1x1 reductions.
Everything is measured on the meta device by :func:`xaicnn.analysis.complexity.complexity` (FLOPs =
2 x MACs, convolutions and matrix products only).
"""
from __future__ import annotations

from ..spec import Claim, ComputedStudy, StudySpec, register_study
from .. import stats

# (label, arch, (C, H, W), classes)
NETS = (
    ("LeNet-5", "lenet5", (1, 32, 32), 10),
    ("AlexNet", "alexnet", (3, 227, 227), 1000),
    ("ZFNet", "zfnet", (3, 224, 224), 1000),
    ("VGG-16", "vgg16", (3, 224, 224), 1000),
    ("GoogLeNet", "inception_v1", (3, 224, 224), 1000),
    ("ResNet-50", "resnet50", (3, 224, 224), 1000),
)
MODULE_INPUT = (192, 28, 28)  # Inception 3a's input in GoogLeNet

CLAIMS = (
    Claim("AlexNet's first conv (96 filters 11x11, stride 4) turns 227x227x3 into 55x55x96", "output_shape", "AlexNet",
          original="55x55x96, 34,944 parameters", kind="exact", expected=((96, 55, 55), 34_944)),
    Claim("ZFNet's first conv (96 filters 7x7, stride 2) gives 110x110x96", "output_shape", "ZFNet",
          original="110x110x96", kind="exact", expected=((96, 110, 110),)),
    Claim("LeNet-5 has about 60K parameters", "params", "LeNet-5", original="about 60K (61,706)", kind="exact",
          expected=(61_706,)),
    Claim("AlexNet has about 60M parameters", "params", "AlexNet", original="about 60M", kind="exact",
          expected=(60_000_000,), rel_tol=0.05),
    Claim("VGG-16 has 138M parameters", "params", "VGG-16", original="138,357,544", kind="exact",
          expected=(138_357_544,)),
    Claim("GoogLeNet has far fewer parameters than AlexNet", "params", "GoogLeNet", "<", "AlexNet",
          original="about 5M vs 60M (12x fewer)", kind="exact"),
    Claim("ResNet-50 has 25.6M parameters", "params", "ResNet-50", original="25,557,032", kind="exact",
          expected=(25_557_032,)),
    Claim("the naive Inception module has more parameters than the 1x1-reduced one", "params", "naive", ">", "reduced",
          original="naive costs far more", kind="exact"),
    Claim("the naive Inception module costs more FLOPs than the 1x1-reduced one", "flops", "naive", ">", "reduced",
          original="naive costs far more", kind="exact"),
)


def _measure(arch: str, input_size, classes: int):
    import torch

    from ... import models
    from ...analysis.complexity import complexity

    with torch.device("meta"):
        model = models.create(arch, in_channels=input_size[0], num_classes=classes, image_size=input_size[1:])
    return complexity(model, input_size)


def inception_module_costs() -> dict[str, dict]:
    """Inception 3a on 28x28x192, naive vs reduced (conv + bias, no batch norm, as the lecture counts):
    {"naive"|"reduced": {"params", "flops", "macs", "out_channels"}}."""
    from ...analysis.complexity import complexity
    from ...models.inception import GOOGLENET_MODULES, Inception

    out = {}
    for label, reduce in (("naive", False), ("reduced", True)):
        module = Inception(MODULE_INPUT[0], GOOGLENET_MODULES["3a"], reduce=reduce, batch_norm=False)
        r = complexity(module, MODULE_INPUT)
        out[label] = {"params": r.params, "flops": r.flops, "macs": r.macs, "out_channels": module.out_channels,
                      "report": r}
    return out


def _check(claim: Claim, ours: tuple, text: str) -> dict:
    ok = all(o == e if not claim.rel_tol else abs(o - e) <= claim.rel_tol * e for o, e in zip(ours, claim.expected))
    return {"claim": claim.text, "metric": claim.metric, "a": claim.a, "b": claim.b, "direction": claim.direction,
            "original": claim.original, "kind": "exact", "ours": text, "p_value": None, "difference": None,
            "test": "exact" if not claim.rel_tol else f"exact within {claim.rel_tol:.0%}",
            "verdict": stats.CONFIRMED if ok else stats.REFUTED}


def _dims(shape) -> str:
    return "x".join(map(str, shape))


def compute() -> ComputedStudy:
    """Per-net totals and first layers, the Inception module comparison, the verdicts and per-layer tables."""
    from ...analysis.complexity import format_table

    reports = {label: _measure(arch, size, k) for label, arch, size, k in NETS}
    firsts = {label: next(row for row in r.layers if row.params) for label, r in reports.items()}
    table, sections = [], ["## Per-layer tables", ""]
    for label, arch, size, k in NETS:
        r, first = reports[label], firsts[label]
        table.append({"item": label, "arch": arch, "input": _dims(size), "classes": k, "params": r.params,
                      "flops": r.flops, "macs": r.macs, "first_layer": first.name,
                      "first_output": _dims(first.output_shape), "first_params": first.params})
        sections += [f"### {label} (`{arch}`, input {_dims(size)}, {k} classes)", "", "```text", format_table(r),
                     "```", ""]
    module = inception_module_costs()
    for label in ("naive", "reduced"):
        m = module[label]
        table.append({"item": f"Inception 3a {label}", "arch": "inception module", "input": _dims(MODULE_INPUT),
                      "params": m["params"], "flops": m["flops"], "macs": m["macs"],
                      "first_output": _dims((m["out_channels"], *MODULE_INPUT[1:]))})
    sections += _module_section(module["naive"], module["reduced"])

    def value(label: str, metric: str) -> int:
        return module[label][metric] if label in module else getattr(reports[label], metric)

    claims = []
    for c in CLAIMS:
        if c.metric == "output_shape":
            row = firsts[c.a]
            ours = (tuple(row.output_shape), row.params)[:len(c.expected)]
            c_, h, w = row.output_shape
            text = f"{h}x{w}x{c_}" + (f", {row.params:,} parameters" if len(c.expected) > 1 else "")  # lecture: HxWxC
            claims.append(_check(c, ours, text))
        elif c.b is not None:  # a comparison: the direction is the claim
            a, b = value(c.a, c.metric), value(c.b, c.metric)
            ok = a > b if c.direction == ">" else a < b
            claims.append({**_check(c, (), f"{a:,} vs {b:,}"), "difference": a - b,
                           "verdict": stats.CONFIRMED if ok else stats.REFUTED})
        else:
            claims.append(_check(c, (value(c.a, c.metric),), f"{value(c.a, c.metric):,}"))
    return ComputedStudy(table, claims, sections)


def _module_section(naive: dict, reduced: dict) -> list[str]:
    from ...analysis.complexity import format_table, human

    return ["## Inception module 3a on 28x28x192: naive vs 1x1 reductions", "",
            f"The naive module has {naive['params'] - reduced['params']:,} more parameters "
            f"({naive['params']:,} vs {reduced['params']:,}) and costs {human(naive['flops'] - reduced['flops'])} "
            f"more FLOPs per image ({human(naive['flops'])} vs {human(reduced['flops'])}; "
            f"{naive['flops'] / reduced['flops']:.2f}x); its output is {naive['out_channels']} channels deep "
            f"instead of {reduced['out_channels']} (the pool branch passes all 192 input channels through).", "",
            "```text", format_table(naive["report"]), "```", "",
            "```text", format_table(reduced["report"]), "```", ""]


SPEC = register_study(StudySpec(
    name="lecture_shapes",
    description="output shapes, parameters and FLOPs of LeNet-5 .. ResNet-50, and the naive vs 1x1 Inception module",
    dataset="cifar10", fallback="digits",
    original="The lecture tables: LeNet-5, AlexNet (227x227x3 -> 55x55x96 after conv1), ZFNet, VGG-16, GoogLeNet, "
             "ResNet-50; the naive Inception module costs far more than the one with 1x1 bottlenecks.",
    claims=CLAIMS, figures=(), compute=compute,
))
