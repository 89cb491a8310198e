"""Theoretical receptive field of every layer: size, effective stride (jump) and offset (start), per axis.

Derived from what the model really runs: ``torch.fx`` traces the forward pass and the graph is executed on
the meta device (shapes only, nothing allocated), carrying one :class:`Field` per value. A window op with
kernel k, stride s, padding p and dilation d (convolution, pooling, space-to-depth) maps a field to

    size_out  = size_in + (k - 1) * d * jump_in
    jump_out  = jump_in * s
    start_out = start_in + ((k - 1) / 2 * d - p) * jump_in

where ``start`` is the centre of the first output unit's field in input pixel coordinates (pixel i has
its centre at i; padding makes it negative). Where several paths meet (a residual add, an Inception
concatenation) the field is their union - the largest field over the paths, as Araujo, Norris & Sim
(2019, "Computing receptive fields of convolutional neural networks", Distill) derive it for aligned
paths. Global pooling, flattening, linear layers, attention and normalisation over space see the whole
input (:data:`WHOLE_INPUT`). Each op's rule is looked up in a registry (module type, function, or tensor
method name); an op that keeps the spatial layout but has no rule is refused in one sentence rather than
guessed.
"""
from __future__ import annotations

import itertools
import math
import operator
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError


@dataclass(frozen=True)
class Field:
    """The receptive field of one layer's output units, per axis (h, w), in input pixels."""

    size: tuple[float, float]  # side of the input window one output unit depends on
    jump: tuple[float, float]  # input pixels between neighbouring output units (effective stride)
    start: tuple[float, float]  # centre of the first output unit's window (pixel i has its centre at i)

    def centre_of(self, index: tuple[int, int]) -> tuple[float, float]:
        """Centre, in input pixel coordinates, of the window of output unit ``index`` (row, column)."""
        return tuple(s + i * j for s, i, j in zip(self.start, index, self.jump))


class _WholeInput:
    """The field of a unit that depends on every input pixel (after global pooling, flatten, attention)."""

    def __repr__(self):
        return "WHOLE_INPUT"


WHOLE_INPUT = _WholeInput()
INPUT_FIELD = Field((1, 1), (1, 1), (0, 0))  # one input pixel sees itself


def _number(x: float) -> int | float:
    """Integers as ints in tables and JSON (fields are integral except after fractional strides)."""
    return int(x) if float(x).is_integer() else round(float(x), 4)


@dataclass
class LayerField:
    name: str  # module path, as in complexity's rows ("" is the model itself)
    type: str  # class name
    receptive_field: list | None  # (h, w) in input pixels; None where the output is not spatial (it sees the whole input)
    jump: list | None  # (h, w) effective stride in input pixels
    start: list | None  # (h, w) centre of the first output unit's field

    @property
    def spatial(self) -> bool:
        return self.receptive_field is not None


@dataclass
class ReceptiveFields:
    input_size: list[int]  # (C, H, W)
    layers: list[LayerField] = field(default_factory=list)  # every module that ran, in forward order (first call)
    net: LayerField | None = None  # the last spatial layer: the whole net's field before it mixes all positions

    def __getitem__(self, name: str) -> LayerField:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict:
        return asdict(self)

    def stage_ends(self) -> list[LayerField]:
        """The spatial layers where the jump grows (pooling, strided convs), in forward order: each ends a stage,
        so "the end of stage k" names comparable layers in nets of the same plan (a 3x3 stack and its 7x7 twin)."""
        rows = [row for row in self.layers if row.spatial]
        return [row for before, row in zip(rows, rows[1:]) if max(row.jump) > max(before.jump)]

    @classmethod
    def from_summary(cls, doc: dict) -> "ReceptiveFields":
        """The fields of ``xaicnn summary --json``'s rows (``summarize()``): its layers, not every module."""
        layers = [LayerField(r["name"], r["type"], r.get("receptive_field"), r.get("jump"), r.get("start"))
                  for r in doc["layers"]]
        net = doc.get("receptive_field")
        return cls(list(doc["input_size"]), layers,
                   LayerField(net["layer"], "", net["size"], net["jump"], net["start"]) if net else None)


def pair_text(pair) -> str:
    """(h, w) -> '7' when square, '7x5' otherwise; '-' where the output is not spatial."""
    if not pair:
        return "-"
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def format_fields(fields: ReceptiveFields) -> str:
    """A fixed-width table of the spatial rows (field, jump, first unit's centre) and the net's field."""
    header = ("layer", "type", "RF (px)", "jump", "start")
    lines = [(r.name or "(model)", r.type, pair_text(r.receptive_field), pair_text(r.jump), pair_text(r.start))
             for r in fields.layers if r.spatial]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    out = [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(line) for line in lines]
    net, (h, w) = fields.net, fields.input_size[1:]
    out.append("")
    if net is None:
        out.append(f"input {h}x{w}: no spatial layer (the image is flattened at once), so every unit sees the whole input")
    else:
        fits = "fits in" if max(net.receptive_field) <= min(h, w) else "is larger than"
        out.append(f"input {h}x{w}: the net's receptive field, at {net.name or '(model)'}, is {pair_text(net.receptive_field)} "
                   f"pixels with jump {pair_text(net.jump)} ({fits} the image); later layers see the whole input")
    return "\n".join(out)


# --- the rules: (call) -> Field | WHOLE_INPUT -------------------------------------------------------------


@dataclass
class _Call:
    """One executed graph node, as a rule sees it: concrete (meta) argument values and the inputs' fields."""

    node: fx.Node
    module: nn.Module | None
    args: tuple
    kwargs: dict
    fields: list  # fields of the arguments that depend on the input, in argument order
    output: Any

    def arg(self, index: int, name: str, default=None):
        """Argument ``name`` given by position ``index`` (the input tensor is position 0) or by keyword."""
        return self.args[index] if len(self.args) > index else self.kwargs.get(name, default)

    @property
    def field(self):
        """The field of the single tensor input (window ops have one)."""
        return _union(self.fields)


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _window(f, kernel, stride, padding=0, dilation=1):
    """The window-op rule of the module docstring, per axis."""
    if f is WHOLE_INPUT:
        return f
    k, s, p, d = _pair(kernel), _pair(stride if stride not in (None, ()) else kernel), _pair(padding), _pair(dilation)
    return Field(tuple(r + (ki - 1) * di * j for r, j, ki, di in zip(f.size, f.jump, k, d)),
                 tuple(j * si for j, si in zip(f.jump, s)),
                 tuple(st + ((ki - 1) / 2 * di - pi) * j for st, j, ki, di, pi in zip(f.start, f.jump, k, d, p)))


def _union(fields: list):
    """Where paths meet, the union of their windows (the largest field when they are centred alike)."""
    fields = [f for f in fields if f is not None]
    if not fields or any(f is WHOLE_INPUT for f in fields):
        return WHOLE_INPUT if fields else None
    if len(fields) == 1:
        return fields[0]
    size, start = [], []
    for axis in range(2):
        lo = min(f.start[axis] - (f.size[axis] - 1) / 2 for f in fields)
        hi = max(f.start[axis] + (f.size[axis] - 1) / 2 for f in fields)
        size.append(hi - lo + 1)
        start.append((lo + hi) / 2)
    return Field(tuple(size), tuple(max(f.jump[a] for f in fields) for a in range(2)), tuple(start))


def _conv_padding(padding, kernel, dilation):
    if padding == "valid":
        return 0
    if padding == "same":  # PyTorch pads floor(total / 2) before, the rest after
        return tuple(d * (k - 1) // 2 for k, d in zip(_pair(kernel), _pair(dilation)))
    return padding


def _conv_module(c: _Call):
    m = c.module
    return _window(c.field, m.kernel_size, m.stride, _conv_padding(m.padding, m.kernel_size, m.dilation), m.dilation)


def _conv_function(c: _Call):
    kernel, dilation = tuple(c.arg(1, "weight").shape[-2:]), c.arg(5, "dilation", 1)
    return _window(c.field, kernel, c.arg(3, "stride", 1), _conv_padding(c.arg(4, "padding", 0), kernel, dilation),
                   dilation)


def _pool_module(c: _Call):
    m = c.module
    return _window(c.field, m.kernel_size, m.stride, m.padding, getattr(m, "dilation", 1))


def _max_pool_function(c: _Call):
    return _window(c.field, c.arg(1, "kernel_size"), c.arg(2, "stride"), c.arg(3, "padding", 0), c.arg(4, "dilation", 1))


def _avg_pool_function(c: _Call):
    return _window(c.field, c.arg(1, "kernel_size"), c.arg(2, "stride"), c.arg(3, "padding", 0))


def _adaptive_pool(c: _Call):
    """Output 1x1: the whole input. Otherwise PyTorch's windows [floor(i n / o), ceil((i + 1) n / o)): a window
    op with stride n / o, the largest window as kernel (exact when o divides n) and the first window's centre."""
    f = c.field
    n_in, n_out = tuple(c.args[0].shape[-2:]), tuple(c.output.shape[-2:])
    if f is WHOLE_INPUT or n_out == (1, 1):
        return WHOLE_INPUT
    size, jump, start = [], [], []
    for axis, (n, o) in enumerate(zip(n_in, n_out)):
        widths = [math.ceil((i + 1) * n / o) - (i * n) // o for i in range(o)]
        r, j, s = f.size[axis], f.jump[axis], f.start[axis]
        size.append(r + (max(widths) - 1) * j)
        jump.append(j * n / o)
        start.append(s + (widths[0] - 1) / 2 * j)
    return Field(tuple(size), tuple(jump), tuple(start))


def _pad(c: _Call):
    """F.pad: only the last two entries pairs (W, then H) move the start; channel padding changes nothing."""
    pads = list(c.arg(1, "pad"))
    if c.args[0].dim() != 4:
        return _reshaped(c)
    left = pads[0] if len(pads) > 0 else 0
    top = pads[2] if len(pads) > 2 else 0
    return _window(c.field, 1, 1, (top, left))


def _getitem(c: _Call):
    """Indexing: an element of a tuple output keeps the tuple's field; slicing H or W subsamples the grid."""
    base, index = c.args[0], c.args[1]
    f = c.field
    if not isinstance(base, torch.Tensor):
        return f
    if f is WHOLE_INPUT or base.dim() != 4:
        return _reshaped(c)
    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis or i is None for i in index) or not all(isinstance(i, slice) for i in index[2:]):
        return _reshaped(c)
    start, jump = list(f.start), list(f.jump)
    for axis, sl in enumerate(index[2:4]):
        first, _, step = sl.indices(base.shape[2 + axis])
        start[axis] += first * jump[axis]
        jump[axis] *= step
    return Field(f.size, tuple(jump), tuple(start))


def _pixel_unshuffle(c: _Call):
    """Space-to-depth by r: r x r pixel blocks become channels - a window op with kernel r and stride r."""
    r = c.arg(1, "downscale_factor")
    return _window(c.field, r, r)


def _upsample(c: _Call, mode: str = "nearest"):
    """Upsampling by s: the grid gets s times finer (jump / s); nearest copies one input unit (same size),
    (bi)linear blends two neighbours (size + one jump: an upper bound at the borders)."""
    f = c.field
    if f is WHOLE_INPUT:
        return f
    scale = [o / i for o, i in zip(c.output.shape[-2:], c.args[0].shape[-2:])]
    widen = 0 if mode in ("nearest", "nearest-exact") else 1
    return Field(tuple(r + widen * j for r, j in zip(f.size, f.jump)), tuple(j / s for j, s in zip(f.jump, scale)),
                 f.start)


def _upsample_module(c: _Call):
    return _upsample(c, c.module.mode)


def _interpolate(c: _Call):
    return _upsample(c, c.arg(3, "mode", "nearest"))


def _pixel_shuffle(c: _Call):
    r = c.arg(1, "upscale_factor")
    f = c.field
    return f if f is WHOLE_INPUT else Field(f.size, tuple(j / r for j in f.jump), f.start)


def _concatenate(c: _Call):
    dim = c.arg(1, "dim", 0)
    tensors = c.args[0]
    if tensors and tensors[0].dim() == 4 and dim % 4 in (2, 3):
        raise UserError(f"{c.node.name} concatenates along a spatial axis, for which there is no receptive-field rule.")
    return _elementwise(c)


def _elementwise(c: _Call):
    """Each output unit reads the same position of every input: the union of their fields."""
    return _union(c.fields)


def _whole_input(c: _Call):
    return WHOLE_INPUT


def _reshaped(c: _Call):
    """Flattening, reshaping or reducing away the spatial axes: positions are no longer tracked (whole input)."""
    return WHOLE_INPUT


POINTWISE_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
                     nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Dropout,
                     nn.Dropout2d, nn.AlphaDropout, nn.Identity,
                     nn.BatchNorm2d,  # eval mode: per-channel affine, no spatial statistics
                     nn.LocalResponseNorm)  # normalises across channels at one position
WHOLE_INPUT_MODULES = (nn.Linear, nn.Flatten, nn.MultiheadAttention, nn.AdaptiveAvgPool1d,
                       nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)  # the norms' statistics span H and W

# module type -> rule; looked up along the type's MRO, so subclasses (torchvision's) inherit their base's rule
MODULE_RULES: dict[type, Callable[[_Call], Any]] = {
    nn.Conv2d: _conv_module,
    nn.MaxPool2d: _pool_module,
    nn.AvgPool2d: _pool_module,
    nn.AdaptiveAvgPool2d: _adaptive_pool,
    nn.AdaptiveMaxPool2d: _adaptive_pool,
    nn.Upsample: _upsample_module,
    nn.PixelUnshuffle: lambda c: _window(c.field, c.module.downscale_factor, c.module.downscale_factor),
    nn.PixelShuffle: lambda c: _pixel_shuffle(_Call(c.node, None, (c.args[0], c.module.upscale_factor), {},
                                                    c.fields, c.output)),
    **{t: _elementwise for t in POINTWISE_MODULES},
    **{t: _whole_input for t in WHOLE_INPUT_MODULES},
}

# function -> rule (call_function nodes: torch.*, torch.nn.functional.*, operator.*)
_ELEMENTWISE_FUNCTIONS = (operator.add, operator.iadd, operator.mul, operator.imul, operator.sub, operator.truediv,
                          operator.neg, torch.add, torch.mul, torch.sub, torch.div, torch.relu, torch.sigmoid,
                          torch.tanh, F.relu, F.relu6, F.leaky_relu, F.silu, F.gelu, F.hardswish, F.sigmoid, F.tanh,
                          F.dropout, F.batch_norm, F.local_response_norm)
FUNCTION_RULES: dict[Callable, Callable[[_Call], Any]] = {
    F.conv2d: _conv_function,
    F.max_pool2d: _max_pool_function,
    F.avg_pool2d: _avg_pool_function,
    F.adaptive_avg_pool2d: _adaptive_pool,
    F.adaptive_max_pool2d: _adaptive_pool,
    F.pad: _pad,
    F.pixel_unshuffle: _pixel_unshuffle,
    F.pixel_shuffle: _pixel_shuffle,
    F.interpolate: _interpolate,
    operator.getitem: _getitem,
    torch.cat: _concatenate,
    torch.flatten: _reshaped,
    F.linear: _whole_input,
    F.layer_norm: _whole_input,
    F.softmax: _whole_input,
    **{f: _elementwise for f in _ELEMENTWISE_FUNCTIONS},
}

# tensor method name -> rule (call_method nodes)
METHOD_RULES: dict[str, Callable[[_Call], Any]] = {
    **{name: _elementwise for name in ("add", "add_", "mul", "mul_", "sub", "sub_", "div", "div_", "relu", "relu_",
                                       "sigmoid", "tanh", "contiguous", "clone", "to", "float", "double", "half",
                                       "type_as", "detach")},
    **{name: _reshaped for name in ("flatten", "view", "reshape", "mean", "sum", "amax", "max", "softmax")},
}


def _rule_for(node: fx.Node, module: nn.Module | None):
    if node.op == "call_module":
        return next((MODULE_RULES[t] for t in type(module).__mro__ if t in MODULE_RULES), None)
    if node.op == "call_function":
        return FUNCTION_RULES.get(node.target)
    if node.op == "call_method":
        return METHOD_RULES.get(node.target)
    return None


def _holds_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value)


def _spatial(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() == 4


def _describe(node: fx.Node, module: nn.Module | None) -> str:
    if node.op == "call_module":
        return f"layer {node.target} ({type(module).__name__})"
    name = getattr(node.target, "__name__", str(node.target))
    return f"{'method' if node.op == 'call_method' else 'function'} {name} (graph node {node.name})"


class _FieldPropagator(fx.Interpreter):
    """Runs the traced graph on meta tensors and records each value's field."""

    def __init__(self, graph_module: fx.GraphModule, model_name: str):
        super().__init__(graph_module)
        self.fields: dict[fx.Node, Any] = {}
        self.model_name = model_name

    def run_node(self, node: fx.Node):
        output = super().run_node(node)
        if node.op == "placeholder":
            self.fields[node] = INPUT_FIELD if not self.fields else None
            return output
        if node.op == "output":
            self.fields[node] = _union([self.fields.get(a) for a in node.all_input_nodes])
            return output
        inputs = [self.fields.get(a) for a in _argument_nodes(node)]
        if not _holds_tensor(output) or all(f is None for f in inputs):
            self.fields[node] = None  # a shape, a constant, a parameter: does not depend on the input
            return output
        module = self.module.get_submodule(node.target) if node.op == "call_module" else None
        rule = _rule_for(node, module)
        if rule is None:
            if any(f is WHOLE_INPUT for f in inputs) or not _spatial(output):
                rule = _reshaped
            else:
                raise UserError(f"{self.model_name}: no receptive-field rule for {_describe(node, module)}, which "
                                f"keeps the spatial layout; add one to xaicnn.models.receptive_field's registry.")
        args, kwargs = self.fetch_args_kwargs_from_env(node)
        result = rule(_Call(node, module, args, kwargs, [f for f in inputs if f is not None], output))
        # fields are kept on 4-D (N, C, H, W) values only: anything else has lost track of positions
        self.fields[node] = WHOLE_INPUT if isinstance(output, torch.Tensor) and not _spatial(output) else result
        return output


def _argument_nodes(node: fx.Node) -> list[fx.Node]:
    """The node's inputs in argument order (positional, then keyword), nested lists flattened."""
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(n) or n)
    return found


def _module_outputs(graph: fx.Graph) -> dict[str, fx.Node]:
    """Module path -> the node its first call returns: the last node inside the module's scope that a node
    outside it (or the graph's output) uses. Modules inside a module fx keeps whole (nn.MultiheadAttention's
    out_proj) are not listed here; they take their caller's field."""
    nodes = list(graph.nodes)
    position = {n: i for i, n in enumerate(nodes)}
    scope = {n: dict(n.meta.get("nn_module_stack", {})) for n in nodes}  # call key -> (module path, type)
    outputs: dict[str, fx.Node] = {}
    for n in nodes:
        for user in n.users:
            for key, (path, _) in scope[n].items():
                if key in scope[user] or "@" in key:  # still inside, or a second call of the module
                    continue
                if path not in outputs or position[n] > position[outputs[path]]:
                    outputs[path] = n
    out = next(n for n in nodes if n.op == "output")
    outputs[""] = out
    return outputs


def _row(name: str, module: nn.Module, f) -> LayerField:
    if f is None or f is WHOLE_INPUT:
        return LayerField(name, type(module).__name__, None, None, None)
    return LayerField(name, type(module).__name__, [_number(v) for v in f.size], [_number(v) for v in f.jump],
                      [_number(v) for v in f.start])


@torch.no_grad()
def receptive_fields(model: nn.Module, input_size: tuple[int, int, int]) -> ReceptiveFields:
    """Theoretical receptive field of every module's output for one image of ``input_size`` (C, H, W).

    ``layers`` follows the forward order (a module called twice is reported at its first call, as
    :func:`~xaicnn.models.complexity.complexity` reports its shape); ``net`` is the last layer whose output is
    still spatial - the whole net's field before global pooling or flattening. Nothing is allocated: the
    graph runs on the meta device. Raises :class:`~xaicnn.errors.UserError` for a model ``torch.fx`` cannot
    trace or an op without a rule.
    """
    name = type(model).__name__
    try:
        graph_module = fx.GraphModule(model, fx.Tracer().trace(model), name)
    except Exception as err:  # fx raises TraceError, TypeError, RuntimeError... on data-dependent control flow
        raise UserError(f"{name} cannot be traced by torch.fx ({type(err).__name__}: {str(err).splitlines()[0][:120]}), "
                        f"so its receptive fields cannot be derived; write its forward without data-dependent "
                        f"Python control flow.") from None
    tensors = {k: torch.empty_like(v, device="meta")
               for k, v in itertools.chain(graph_module.named_parameters(), graph_module.named_buffers())}
    propagator = _FieldPropagator(graph_module, name)
    dtype = next((t.dtype for t in tensors.values() if t.is_floating_point()), torch.float32)  # a .double() model
    was_training = model.training
    graph_module.eval()
    try:
        torch.func.functional_call(_Interpreted(graph_module, propagator), {f"graph.{k}": v for k, v in tensors.items()},
                                   (torch.zeros((1, *input_size), device="meta", dtype=dtype),))
    finally:
        model.train(was_training)

    fields, nodes = propagator.fields, list(graph_module.graph.nodes)
    position = {n: i for i, n in enumerate(nodes)}
    outputs = _module_outputs(graph_module.graph)
    modules = dict(model.named_modules())
    placed: dict[str, int] = {}  # module path -> graph position of its output
    rows: dict[str, LayerField] = {}
    for path, node in outputs.items():
        if path in modules:
            rows[path] = _row(path, modules[path], fields.get(node))
            placed[path] = position[node]
    for path, module in modules.items():  # inside modules fx kept whole: the caller's field
        if path not in rows:
            owner = max((p for p in rows if p and path.startswith(p + ".")), key=len, default=None)
            if owner is not None:
                rows[path] = _row(path, module, fields.get(outputs[owner]))
                placed[path] = placed[owner]
    depth = lambda p: p.count(".") + 1 if p else 0  # noqa: E731
    # forward-hook order: by output, and an inner module before the module that returns its output
    layers = [rows[p] for p in sorted(rows, key=lambda p: (placed[p], -depth(p)))]
    spatial = [row for row in layers if row.spatial]
    return ReceptiveFields(list(input_size), layers, spatial[-1] if spatial else None)


class _Interpreted(nn.Module):
    """Runs the propagator as a module's forward, so ``functional_call`` can lend the graph meta weights."""

    def __init__(self, graph_module: fx.GraphModule, propagator: _FieldPropagator):
        super().__init__()
        self.graph = graph_module
        self._propagator = propagator

    def forward(self, x):
        return self._propagator.run(x)
