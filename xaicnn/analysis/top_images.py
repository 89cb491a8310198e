"""Top images per channel: the validation images that excite each channel of a layer most (Zeiler & Fergus's
"dataset examples"), and for spatial layers the receptive-field window where the channel peaks.

Zeiler & Fergus ("Visualizing and Understanding Convolutional Networks", ECCV 2014, fig. 2) show, for a unit,
the nine images that excite it most next to the image patches its receptive field covers at its strongest
position. Here, in one streaming pass over the images:

- an image's *value* for a channel is the channel's activation, or for a spatial output [C, H, W] the
  channel's maximum over positions, whose position (row, col) is kept (the first in row-major order on ties);
  for a token output [L, D] (a transformer block, batch first) the channels are the D features and the value is
  the maximum over the L tokens;
- a running top-k per channel [C, k] is merged with each batch's values [C, b] by one stable descending sort
  of their concatenation (:class:`RunningTopK`), so memory is C x (k + batch) numbers whatever the number of
  images - no activation is stored;
- ties go to the lower image index, so the streaming pass gives exactly the full-batch top-k (sort all N
  values per channel by value descending, then index ascending) for every batch size;
- the peak maps to the input window of the layer's theoretical receptive field
  (:func:`~xaicnn.models.receptive_field.receptive_fields`): centre = start + position x jump, side = size,
  clipped to the image.

:func:`top_images` runs a checkpoint's model over its validation split; :func:`model_top_images` takes any
model, a normaliser and images.
"""
from __future__ import annotations

import difflib
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn

from .._hooks import first_tensor
from ..errors import UserError

DEFAULT_K = 9  # images per channel: Zeiler & Fergus show nine
DEFAULT_CHANNELS = 8  # channels reported when none are named: the most active ones, a figure's worth of rows
DEFAULT_BATCH_SIZE = 128  # images per forward pass


class RunningTopK:
    """The ``k`` highest values per channel among the images seen so far, with each one's image index and peak.

    Each channel's entries are kept ordered by value descending, then image index ascending. :meth:`update`
    takes the images in order, so every new index is above every kept one: a *stable* descending sort of
    [kept, batch] keeps that order, and a tie goes to the lower image index - as in the full-batch top-k.
    """

    def __init__(self, channels: int, k: int):
        self.k = k
        self.values = torch.empty(channels, 0)
        self.indices = torch.empty(channels, 0, dtype=torch.long)
        self.peaks = torch.empty(channels, 0, dtype=torch.long)  # flat position of the maximum (row * W + col)
        self.sums = torch.zeros(channels, dtype=torch.float64)  # for each channel's mean value
        self.seen = 0

    def update(self, values: torch.Tensor, peaks: torch.Tensor | None = None) -> None:
        """Add the next ``b`` images: ``values`` [b, C]; ``peaks`` [b, C] flat peak positions (None: not spatial)."""
        values = values.detach().float().cpu().T
        peaks = torch.zeros_like(values, dtype=torch.long) if peaks is None else peaks.detach().cpu().T
        indices = torch.arange(self.seen, self.seen + values.shape[1]).expand_as(values)
        merged = torch.cat([self.values, values], 1)
        order = torch.sort(merged, dim=1, descending=True, stable=True).indices[:, :self.k]
        self.values = merged.gather(1, order)
        self.indices = torch.cat([self.indices, indices], 1).gather(1, order)
        self.peaks = torch.cat([self.peaks, peaks], 1).gather(1, order)
        self.sums += values.sum(1, dtype=torch.float64)
        self.seen += values.shape[1]

    def means(self) -> torch.Tensor:
        """Each channel's mean value over the images seen, float64 [C]."""
        return self.sums / max(self.seen, 1)


@dataclass
class TopImages:
    """The images (indices into the image set, e.g. the validation split) that excite each reported channel most.

    Rows follow ``channels``; columns are best first (ties: lower image index first).
    """

    layer: str
    channels: list[int]  # the reported channels, one row each
    indices: torch.Tensor  # int64 [rows, k]: the images' positions in the image set
    values: torch.Tensor  # float32 [rows, k]: the channel's activation (spatial: its maximum over positions)
    labels: torch.Tensor  # int64 [rows, k]: the images' labels
    mean_values: torch.Tensor  # float64 [rows]: the channel's mean value over every image seen
    images: int  # images seen (the streaming pass's length)
    num_channels: int  # channels the layer has
    output_shape: tuple[int, ...]  # one image's output of the layer: (C,), (C, H, W) or tokens (L, C)
    value: str = "activation"  # what a value is: the activation, or its maximum over positions or tokens
    classes: list[str] = field(default_factory=list)
    selection: str = ""  # how the channels were chosen, in words
    peaks: torch.Tensor | None = None  # int64 [rows, k, 2]: (row, col) of the maximum in the layer's output
    boxes: torch.Tensor | None = None  # int64 [rows, k, 4]: (top, left, bottom, right) in input pixels, bottom and
    #   right exclusive (image[:, top:bottom, left:right] is the crop); None where the layer has no spatial field
    receptive_field: dict | None = None  # the layer's theoretical field: size, jump, start per axis (h, w)
    name: str = ""  # the run's name

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    @property
    def spatial(self) -> bool:
        return self.boxes is not None

    def class_names(self) -> list[list[str]]:
        """The top images' class names [rows][k] (their label numbers where no class names are known)."""
        return [[self.classes[i] if i < len(self.classes) else str(i) for i in row] for row in self.labels.tolist()]

    def to_json(self) -> dict:
        """Indices, values, labels and boxes; no pixels (the indices point into the image set)."""
        names = self.class_names()
        units = []
        for row, channel in enumerate(self.channels):
            top = []
            for j in range(self.k):
                entry = {"index": int(self.indices[row, j]), "value": round(float(self.values[row, j]), 6),
                         "label": int(self.labels[row, j]), "class": names[row][j]}
                if self.spatial:
                    entry["peak"] = self.peaks[row, j].tolist()
                    entry["box"] = self.boxes[row, j].tolist()
                top.append(entry)
            units.append({"channel": channel, "mean_value": round(float(self.mean_values[row]), 6), "top": top})
        return {"run": self.name, "layer": self.layer, "output_shape": list(self.output_shape),
                "num_channels": self.num_channels, "images": self.images, "k": self.k, "selection": self.selection,
                "value": self.value,
                "box_format": "top, left, bottom, right in input pixels; bottom and right exclusive" if self.spatial
                else None, "receptive_field": self.receptive_field, "channels": units}

    def describe(self) -> str:
        """A heading, then per channel its mean value and the classes of its top images."""
        lines = [f"top {self.k} of {self.images} images per channel, layer {self.layer} {tuple(self.output_shape)}, "
                 f"{self.selection}"]
        for row, (channel, names) in enumerate(zip(self.channels, self.class_names())):
            lines.append(f"  channel {channel:>4}  mean {float(self.mean_values[row]):9.3g}  top "
                         f"{float(self.values[row, 0]):9.3g}  classes: {', '.join(names)}")
        return "\n".join(lines)


class _LayerReached(Exception):
    """Raised by the hook once the layer's output is read: the rest of the forward pass is not needed."""


def layer_that_runs_once(model: nn.Module, example: torch.Tensor, layer: str) -> nn.Module:
    """The module called ``layer`` that runs once in ``model(example)``; an unknown name, one that does not run
    or one that runs several times (its output would not be one per image) is one sentence."""
    from .similarity import select_layers, trace_modules

    traced = {t.name: t for t in trace_modules(model, example)}
    if layer not in traced:
        model_name = type(model).__name__
        if layer in dict(model.named_modules()):
            raise UserError(f"Layer {layer!r} of {model_name} does not run in its forward pass; pick one that does.")
        close = difflib.get_close_matches(layer, list(traced), n=4, cutoff=0.5)
        hint = (f"did you mean {', '.join(close)}?" if close else
                f"its blocks are {', '.join(select_layers(model, example, 'blocks'))}.")
        raise UserError(f"No layer {layer!r} in {model_name}; {hint}")
    if traced[layer].calls > 1:
        raise UserError(f"Layer {layer!r} runs {traced[layer].calls} times per forward pass (a shared module), so it "
                        f"has no single output per image; pick a layer that runs once.")
    return traced[layer].module


def _output_shape(model: nn.Module, module: nn.Module, example: torch.Tensor, layer: str) -> tuple[int, ...]:
    """One image's output shape at ``layer``, read before the pass so a wrong layer or channel fails at once."""
    shape: list[tuple[int, ...]] = []

    def read(module, inputs, output):
        shape.append(tuple(first_tensor(output).shape[1:]))
        raise _LayerReached

    from .._hooks import forward_hooks

    with forward_hooks([module], read), suppress(_LayerReached):
        model(example)
    if len(shape[0]) not in (1, 2, 3):
        raise UserError(f"Layer {layer!r} outputs {list(shape[0])} per image; top images read channels of "
                        f"[C], [C, H, W] or token [L, C] outputs, so pick a convolution, block or linear layer.")
    return shape[0]


_VALUE = {1: "activation", 2: "maximum over tokens", 3: "maximum over positions"}  # by dims per image


def _channel_values(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One batch's values [b, C] and, for spatial outputs, the flat position of each maximum [b, C]."""
    if output.dim() == 4:
        return output.flatten(2).max(2)  # the first maximum in row-major order
    if output.dim() == 3:
        return output.amax(1), None  # tokens [b, L, C]: where a token sits in the image is the model's own affair
    return output, None


def _chosen_channels(channels, means: torch.Tensor) -> tuple[list[int], str]:
    """The rows to report: the given channels, or the ``channels`` (default 8) with the highest mean value."""
    if channels is None or isinstance(channels, int):
        count = DEFAULT_CHANNELS if channels is None else channels
        order = torch.sort(means, descending=True, stable=True).indices[:count]  # ties: the lower channel first
        return order.tolist(), f"the {min(count, len(means))} of {len(means)} channels with the highest mean value"
    return [int(c) for c in channels], "channels as given"  # plain ints: numpy's would not go into JSON


def _check_channels(channels, num_channels: int, layer: str) -> None:
    if channels is None:
        return
    if isinstance(channels, int):
        if channels < 1:
            raise UserError(f"The number of channels to report must be at least 1; got {channels}.")
        return
    wrong = [c for c in channels if not 0 <= int(c) < num_channels]
    if wrong or not len(channels):
        raise UserError(f"Layer {layer!r} has channels 0 to {num_channels - 1}; got {list(channels) or 'none'}.")


def receptive_boxes(peaks: torch.Tensor, size, jump, start, height: int, width: int) -> torch.Tensor:
    """Input windows (top, left, bottom, right; bottom and right exclusive) of output units at ``peaks`` [..., 2]
    (row, col), for a field of side ``size``, effective stride ``jump`` and first centre ``start`` per axis (h, w),
    clipped to a ``height`` x ``width`` image. int64 [..., 4]."""
    sides = []
    for axis, limit in ((0, height), (1, width)):
        centre = start[axis] + peaks[..., axis].double() * jump[axis]
        half = (size[axis] - 1) / 2
        low = torch.floor(centre - half + 0.5).long().clamp(0, limit)  # nearest pixel to the window's first centre
        high = (torch.floor(centre + half + 0.5).long() + 1).clamp(0, limit)
        sides.append((low, high))
    (top, bottom), (left, right) = sides
    return torch.stack([top, left, bottom, right], -1)


@torch.no_grad()
def model_top_images(model: nn.Module, normalize: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                     labels: torch.Tensor, layer: str, *, k: int = DEFAULT_K, channels: Sequence[int] | int | None = None,
                     classes: Sequence[str] = (), batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False,
                     name: str = "") -> TopImages:
    """The ``k`` images of ``images`` [N, C, H, W] (labels [N]) that excite each channel of ``layer`` most.

    ``normalize`` turns a batch of ``images`` into the model's input (a run's ``normalize``). The model runs in
    eval mode on its parameters' device, one batch at a time, and stops at ``layer`` (a hook reads its output
    and ends the pass). ``channels``: the channels to report, in that order; an int m: the m with the highest
    mean value; None: the 8 with the highest mean value (the running top-k covers every channel, so the choice
    is made after the pass).
    """
    from .._hooks import forward_hooks
    from ..models.receptive_field import receptive_fields

    n = len(images)
    if n == 0:
        raise UserError("There are no images to rank; pass at least one.")
    if k < 1 or batch_size < 1:
        raise UserError(f"k and the batch size must be at least 1; got k={k}, batch size {batch_size}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        example = normalize(images[:1]).to(device)
        module = layer_that_runs_once(model, example, layer)
        shape = _output_shape(model, module, example, layer)
        num_channels = shape[-1] if len(shape) == 2 else shape[0]
        _check_channels(channels, num_channels, layer)
        field_row = receptive_fields(model, tuple(images.shape[1:]))[layer] if len(shape) == 3 else None
        running = RunningTopK(num_channels, min(k, n))

        def record(module, inputs, output):
            running.update(*_channel_values(first_tensor(output)))
            raise _LayerReached

        bar = _progress_bar(n, f"top images {name or type(model).__name__} {layer}", progress)
        try:
            with forward_hooks([module], record):
                for first in range(0, n, batch_size):
                    with suppress(_LayerReached):
                        model(normalize(images[first:first + batch_size]).to(device, non_blocking=True))
                    if bar is not None:
                        bar.update(min(batch_size, n - first))
        finally:
            if bar is not None:
                bar.close()
    finally:
        model.train(was_training)

    means = running.means()
    chosen, selection = _chosen_channels(channels, means)
    rows = torch.tensor(chosen, dtype=torch.long)
    indices = running.indices[rows]
    result = TopImages(layer, chosen, indices, running.values[rows], torch.as_tensor(labels)[indices].long(),
                       means[rows], n, num_channels, shape, _VALUE[len(shape)], list(classes), selection, name=name)
    if field_row is not None:
        width = shape[2]
        flat = running.peaks[rows]
        result.peaks = torch.stack([flat // width, flat % width], -1)
        if field_row.spatial:
            result.receptive_field = {"size": field_row.receptive_field, "jump": field_row.jump,
                                      "start": field_row.start}
            result.boxes = receptive_boxes(result.peaks, field_row.receptive_field, field_row.jump, field_row.start,
                                           *images.shape[2:])
    return result


def _progress_bar(total: int, what: str, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="img", delay=2, leave=False, dynamic_ncols=True)


def top_images(run, layer: str, *, k: int = DEFAULT_K, channels: Sequence[int] | int | None = None,
               n: int | None = None, data=None, batch_size: int = DEFAULT_BATCH_SIZE, data_dir: str | None = None,
               progress: bool = False) -> TopImages:
    """The ``k`` validation images of ``run`` (:class:`~xaicnn.training.Run`) that excite each channel of
    ``layer`` (a module name) most, in one streaming pass; see :func:`model_top_images` for ``channels``.

    Images: ``n`` of the run's validation split (default the whole split, as in training; ``data_dir``: where
    it lies), or ``data`` (an :class:`~xaicnn.data.ImageData` already loaded, e.g. ``run.val_data()``; its first
    ``n`` if given). The result's indices point into those images, so draw them from the same ``data``.
    """
    if n is not None and n < 1:
        raise UserError(f"Top images need at least one image; got n={n}.")
    if data is None:
        data = run.val_data(size=n, data_dir=data_dir)
    images, labels = (data.images[:n], data.labels[:n]) if n else (data.images, data.labels)
    if tuple(images.shape[1:]) != tuple(run.input_size):
        raise UserError(f"The images are {'x'.join(map(str, images.shape[1:]))} but {run.name} takes "
                        f"{'x'.join(map(str, run.input_size))}; use the run's own validation data.")
    return model_top_images(run.model, run.normalize, images, labels, layer, k=k, channels=channels,
                            classes=run.classes, batch_size=batch_size, progress=progress, name=run.name)
