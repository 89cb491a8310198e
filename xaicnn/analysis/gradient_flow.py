"""Gradient flow of a trained run as a [layers x epochs] matrix, per parameter tensor or per stage.

The trainer's :class:`~xaicnn.training.GradientFlowRecorder` stores, for every parameter tensor, the
per-epoch mean of the gradient's L2 norm, mean |g| and max |g|. This module turns that record into a
:class:`GradientFlow`: rows are layers in network order (by default only the weight tensors of conv and
linear layers, which is what the depth studies plot: biases and batch-norm scales have their own scale
and would crowd the picture), columns are epochs. ``by_stage()`` averages rows per top-level module
(ResNet's ``conv1``, ``layer1``..``layer4``, ``fc``; VGG's ``features``, ``classifier``).

Vanishing gradients in deep plain nets (Glorot & Bengio 2010; He et al. 2016, "Deep Residual Learning
for Image Recognition") show up as rows several orders of magnitude below the largest:
``vanishing_layers`` lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError

STATS = ("norm", "mean_abs", "max_abs")  # the recorder's statistics, see xaicnn.training.gradient_flow
STAT_LABELS = {"norm": "gradient L2 norm", "mean_abs": "mean |gradient|", "max_abs": "max |gradient|"}


@dataclass
class GradientFlow:
    """One run's gradient statistic ``stat``: ``matrix`` float64 [len(layers), len(epochs)].

    ``layers`` are parameter names (``level="parameter"``) or stage names (``level="stage"``) in network
    order; ``epochs`` are 1-based epoch numbers.
    """

    name: str
    arch: str
    stat: str
    layers: list[str]
    epochs: list[int]
    matrix: np.ndarray = field(repr=False)
    level: str = "parameter"

    @property
    def label(self) -> str:
        """Axis label for the statistic, e.g. 'gradient L2 norm'."""
        return STAT_LABELS.get(self.stat, self.stat)

    def row(self, layer: str) -> np.ndarray:
        """The statistic of ``layer`` over the epochs, [E]."""
        return self.matrix[self.layers.index(layer)]

    def epoch_index(self, epoch: int) -> int:
        """Column of 1-based ``epoch``; :class:`UserError` if the run did not record it."""
        if epoch not in self.epochs:
            raise UserError(f"Epoch {epoch} is outside {self.name}'s recorded epochs "
                            f"{self.epochs[0]}-{self.epochs[-1]}; pick epochs in that range.")
        return self.epochs.index(epoch)

    def at(self, epoch: int) -> np.ndarray:
        """The statistic of every layer at ``epoch``, [L]."""
        return self.matrix[:, self.epoch_index(epoch)]

    def key_layers(self) -> list[str]:
        """The first, a middle and the last layer (fewer when there are fewer than three)."""
        picks = sorted({0, (len(self.layers) - 1) // 2, len(self.layers) - 1})
        return [self.layers[i] for i in picks]

    def by_stage(self) -> "GradientFlow":
        """Rows averaged per stage (top-level module: the name's first dotted component), [S, E].

        The mean is over this flow's rows, so by default over the stage's weight tensors.
        """
        if self.level == "stage":
            return self
        stages = list(dict.fromkeys(stage_of(n) for n in self.layers))  # first-appearance = network order
        index = np.array([stages.index(stage_of(n)) for n in self.layers])
        matrix = np.stack([self.matrix[index == s].mean(axis=0) for s in range(len(stages))])
        return GradientFlow(self.name, self.arch, self.stat, stages, list(self.epochs), matrix, level="stage")

    def to_dict(self) -> dict:
        return {"name": self.name, "arch": self.arch, "stat": self.stat, "level": self.level,
                "layers": list(self.layers), "epochs": list(self.epochs), "matrix": self.matrix.tolist()}


def stage_of(param_name: str) -> str:
    """'layer3.1.conv2.weight' -> 'layer3'; a top-level parameter ('cls_token') is its own stage."""
    return param_name.split(".", 1)[0]


def is_layer_weight(name: str, ndim: int) -> bool:
    """A conv/linear weight: the parameter is called ``weight`` (or ``*_weight``, as attention's
    ``in_proj_weight``) and has at least 2 dims (batch/layer-norm scales are 1-D)."""
    leaf = name.rsplit(".", 1)[-1]
    return (leaf == "weight" or leaf.endswith("_weight")) and ndim >= 2


def from_record(record: dict, stat: str = "norm", *, ndims: dict[str, int] | None = None, weights_only: bool = True,
                name: str = "", arch: str = "", epochs: list[int] | None = None) -> GradientFlow:
    """:class:`GradientFlow` of a recorder dict ``{param: {"norm": [E], "mean_abs": [E], "max_abs": [E]}}``
    (network order). ``weights_only`` keeps the parameters that :func:`is_layer_weight` accepts, which
    needs ``ndims`` (param name -> number of dims)."""
    if stat not in STATS:
        raise UserError(f"Unknown gradient statistic {stat!r}; choose one of {', '.join(STATS)}.")
    if not record:
        raise UserError(f"{name or 'The run'} has no gradient flow recorded (it was trained with --no-grad-flow); "
                        f"train it again without that flag.")
    names = list(record)
    if weights_only:
        if ndims is None:
            raise ValueError("weights_only needs the parameters' ndims")
        names = [n for n in names if is_layer_weight(n, ndims.get(n, 0))]
        if not names:
            raise UserError(f"{name or 'The run'} has no conv or linear weight tensors; pass --all-params to show "
                            f"every parameter.")
    matrix = np.array([record[n][stat] for n in names], dtype=np.float64)
    n_epochs = matrix.shape[1]
    if n_epochs == 0:
        raise UserError(f"{name or 'The run'} has no finished epoch yet; train or resume it first.")
    if epochs is None or len(epochs) != n_epochs:
        epochs = list(range(1, n_epochs + 1))
    return GradientFlow(name, arch, stat, names, [int(e) for e in epochs], matrix)


def gradient_flow(run_or_runs, stat: str = "norm", *, weights_only: bool = True):
    """The :class:`GradientFlow` of a :class:`~xaicnn.training.Run` (a list of them for a list of runs).

    ``stat``: ``norm`` (L2 norm of the gradient), ``mean_abs`` or ``max_abs``, each the mean over an
    epoch's steps. ``weights_only=False`` keeps every trainable parameter (biases, norm scales).
    """
    if isinstance(run_or_runs, (list, tuple)):
        return [gradient_flow(r, stat, weights_only=weights_only) for r in run_or_runs]
    run = run_or_runs
    ndims = {n: p.ndim for n, p in run.model.named_parameters()}
    epochs = [h.get("epoch") for h in run.history]
    return from_record(run.gradient_flow, stat, ndims=ndims, weights_only=weights_only, name=run.name, arch=run.arch,
                       epochs=epochs if None not in epochs else None)


def vanishing_layers(flow: GradientFlow, ratio: float = 1e-3, epoch: int | None = None) -> list[str]:
    """Layers whose statistic at ``epoch`` (default: the last) is below ``ratio`` x the largest layer's."""
    values = flow.at(epoch if epoch is not None else flow.epochs[-1])
    threshold = ratio * values.max()
    return [layer for layer, v in zip(flow.layers, values) if v < threshold]


def format_flow(flow: GradientFlow, ratio: float = 1e-3) -> str:
    """Terminal summary: the first, middle and last layer at the first and last epoch, and vanishing layers."""
    first, last = flow.epochs[0], flow.epochs[-1]
    lines = [f"{flow.name} ({flow.arch}): {flow.label}, {len(flow.layers)} {flow.level} rows, epochs {first}-{last}"]
    width = max(len(n) for n in flow.key_layers())
    for layer in flow.key_layers():
        v = flow.row(layer)
        lines.append(f"  {layer:<{width}}  epoch {first}: {v[0]:.3e}   epoch {last}: {v[-1]:.3e}")
    weak = vanishing_layers(flow, ratio)
    lines.append(f"  under {ratio:g} x the largest at epoch {last}: " + (", ".join(weak) if weak else "none"))
    return "\n".join(lines)
