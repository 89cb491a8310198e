"""Per-layer output shapes, parameters and FLOPs of a model, and their totals.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as two
floating-point operations (FLOPs = 2 x MACs) and counts matrix products and convolutions only
(element-wise ops such as ReLU, pooling and batch-norm are not counted, as in the papers' tables).
Everything runs on the meta device: no memory is allocated and nothing is computed, so a
900M-parameter net is measured in milliseconds.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from .._hooks import first_tensor, forward_hooks
from .receptive_field import pair_text, receptive_fields

# Parameter-free element-wise layers: they keep shapes and cost no FLOPs; hidden unless asked for.
ELEMENTWISE = (nn.ReLU, nn.SiLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity)


@dataclass
class LayerRow:
    name: str  # module path, e.g. "features.0"; "" is the model itself
    type: str  # class name, e.g. "Conv2d"
    output_shape: list[int] | None  # per-sample shape, None if the module never ran
    params: int  # parameters owned by this module itself (children have their own rows)
    flops: int  # FLOPs of this module minus those of its children
    # theoretical receptive field of the output (h, w), effective stride and first unit's centre, in input pixels;
    # filled by summarize() (receptive_field.py), None where the output is not spatial (it sees the whole input)
    receptive_field: list | None = None
    jump: list | None = None
    start: list | None = None


@dataclass
class Complexity:
    input_size: list[int]  # (C, H, W)
    params: int
    trainable_params: int
    flops: int  # per image, FLOPs = 2 x MACs
    macs: int
    layers: list[LayerRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def complexity(model: nn.Module, input_size: tuple[int, int, int], include_elementwise: bool = False) -> Complexity:
    """Measure ``model`` on one image of ``input_size`` (C, H, W); rows follow the forward order."""
    names = {m: n for n, m in model.named_modules()}
    shapes: dict[str, list[int]] = {}
    order: list[str] = []

    def record(module, _inputs, output):
        name = names[module]
        if name not in shapes:
            t = first_tensor(output)
            shapes[name] = list(t.shape[1:]) if t is not None else None
            order.append(name)

    tensors = {k: torch.empty_like(v, device="meta")
               for k, v in itertools.chain(model.named_parameters(), model.named_buffers())}
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with forward_hooks(model.modules(), record), counter:
            torch.func.functional_call(model, tensors, (torch.zeros((1, *input_size), device="meta"),))
    finally:
        model.train(was_training)

    # FlopCounterMode keys are "<RootClass>.<path>", inclusive of children.
    root = type(model).__name__
    inclusive: dict[str, int] = {}
    for key, per_op in counter.get_flop_counts().items():
        if key == "Global":
            continue
        path = "" if key == root else key[len(root) + 1:] if key.startswith(root + ".") else None
        if path is not None:
            inclusive[path] = sum(per_op.values())

    rows: list[LayerRow] = []
    modules = dict(model.named_modules())
    seen = set(order)
    for name in order + [n for n in modules if n not in seen]:  # modules that never ran go last
        module = modules[name]
        children = [f"{name}.{c}" if name else c for c, _ in module.named_children()]
        own_flops = inclusive.get(name, 0) - sum(inclusive.get(c, 0) for c in children)
        own_params = sum(p.numel() for p in module.parameters(recurse=False))
        is_leaf = not children
        if own_params or own_flops or (is_leaf and (include_elementwise or not isinstance(module, ELEMENTWISE))):
            rows.append(LayerRow(name, type(module).__name__, shapes.get(name), own_params, own_flops))

    flops = counter.get_total_flops()
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Complexity(list(input_size), params, trainable, flops, flops // 2, rows)


def format_table(report: Complexity | dict) -> str:
    """A fixed-width table of the rows and the totals, for the terminal (a ``Complexity`` or its dict)."""
    if isinstance(report, dict):
        report = Complexity(**{k: report[k] for k in ("input_size", "params", "trainable_params", "flops", "macs")},
                            layers=[LayerRow(**row) for row in report["layers"]])
    header = ("layer", "type", "output shape", "params", "FLOPs")
    lines = [(r.name or "(model)", r.type, "x".join(map(str, r.output_shape)) if r.output_shape else "-",
              f"{r.params:,}", human(r.flops)) for r in report.layers]
    if any(r.receptive_field for r in report.layers):  # summarize()'s rows carry fields; complexity()'s alone do not
        header += ("RF", "jump")
        lines = [line + (pair_text(r.receptive_field), pair_text(r.jump)) for line, r in zip(lines, report.layers)]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    out = [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(l) for l in lines]
    out.append("")
    out.append(f"input {'x'.join(map(str, report.input_size))}: {report.params:,} parameters "
               f"({report.trainable_params:,} trainable), {human(report.flops)} FLOPs = {human(report.macs)} MACs per image "
               f"(FLOPs = 2 x MACs; convolutions and matrix products only)")
    return "\n".join(out)


def human(n: float) -> str:
    """12_345_678 -> '12.35M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def summarize(arch: str, *, dataset: str | None = None, input_size: tuple[int, int, int] | None = None,
              num_classes: int | None = None, options: dict | None = None, include_elementwise: bool = False) -> dict:
    """Complexity of registered architecture ``arch`` for a dataset's metadata or an explicit input size.

    Returns the ``xaicnn summary --json`` document: ``{"arch", "input_size", "num_classes", "params",
    "flops", "macs", "layers": [{"name", "type", "output_shape", "params", "flops", "receptive_field", "jump",
    "start"}], "receptive_field": {"layer", "size", "jump", "start"} | None, ...}``: per layer the theoretical
    receptive field (h, w) in input pixels, effective stride and first unit's centre (None where the output is
    not spatial), and the whole net's at its last spatial layer (:mod:`xaicnn.models.receptive_field`).
    The dataset is not loaded: only its metadata (channels, classes, image size) is read.
    """
    from .. import data, models
    from ..errors import UserError

    spec = models.get_spec(arch)
    if num_classes is not None and num_classes < 2:
        raise UserError(f"--num-classes must be at least 2; got {num_classes}.")
    if dataset and input_size:
        raise UserError("Give either --dataset or --input-size, not both.")
    if dataset:
        meta = data.info(dataset)
        size = spec.input_size_for(meta.image_size)
        input_size = (meta.in_channels, *size)
        num_classes = num_classes or meta.num_classes
        label = f"{dataset} ({'x'.join(map(str, input_size))})"
    else:
        input_size = tuple(input_size or spec.default_input)
        num_classes = num_classes or spec.default_classes
        label = "x".join(map(str, input_size))
    with torch.device("meta"):
        model = models.create(arch, in_channels=input_size[0], num_classes=num_classes, image_size=input_size[1:],
                              **(options or {}))
    report = complexity(model, input_size, include_elementwise)
    fields = receptive_fields(model, input_size)
    by_name = {row.name: row for row in fields.layers}
    for row in report.layers:
        if row.name in by_name:
            f = by_name[row.name]
            row.receptive_field, row.jump, row.start = f.receptive_field, f.jump, f.start
    net = fields.net
    return {"arch": arch, "dataset": dataset, "input_label": label, "options": options or {},
            "num_classes": num_classes, **report.to_dict(),
            "receptive_field": {"layer": net.name, "size": net.receptive_field, "jump": net.jump, "start": net.start}
            if net else None}
