"""Representation similarity: linear CKA between every pair of layers of two models (or of one with itself).

Linear centred kernel alignment (Kornblith, Norouzi, Lee & Hinton, "Similarity of Neural Network
Representations Revisited", ICML 2019) compares two layers through the Gram matrices of their outputs on
the same n images, K = X Xᵀ and L = Y Yᵀ (X [n, p], Y [n, q]: one flattened activation per image, as
Kornblith et al. flatten conv maps)::

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

It is invariant to orthogonal transforms and isotropic scaling of either side, not to other linear maps.

- :func:`linear_cka` is the full-batch reference (n x n Grams in memory): the biased HSIC of Kornblith et
  al. by default, the unbiased one with ``unbiased=True``.
- :class:`MinibatchCKA` accumulates over minibatches as Nguyen, Raghu & Kornblith do ("Do Wide and Deep
  Networks Learn the Same Things?", ICLR 2021): per minibatch, the unbiased HSIC_1 of Song et al. (JMLR
  2012) of every pair of layers, averaged over minibatches, then the ratio above. Memory is a few
  batch x batch Grams per layer whatever the number of images; the unbiased estimator is what makes the
  average over small minibatches converge to the full-data value (the biased one would carry a
  1/batch-size bias into every term).
- :func:`layer_similarity` runs two checkpoints (or one) over the same validation images, one forward
  pass per model per minibatch with hooks turning each selected layer's output into its Gram at once.

Which layers: a kind from :data:`LAYER_KINDS` (``blocks``, ``convs``), chosen by tracing one forward pass,
so the rule follows the modules the model really runs (see :func:`select_layers`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from .._hooks import first_tensor
from .._io import json_number
from .._registry import Registry
from ..errors import UserError

DEFAULT_IMAGES = 512  # validation images; Nguyen et al. report stable CKA from a few thousand, 512 is quick
# images per minibatch: one forward pass and one set of [b, b] Grams. A Gram costs b x features per image, so
# smaller batches are cheaper (bench/cka_throughput.py: +13-20% CPU over the forward passes at 128, +21-33% at
# 256), and the averaged unbiased estimate loses only a second-order variance term (O(1/(n b)) next to O(1/n)).
DEFAULT_BATCH_SIZE = 128
MIN_BATCH = 4  # the unbiased HSIC_1 divides by n - 3
ESTIMATOR = "minibatch unbiased HSIC (Nguyen et al. 2021)"


# --- the estimators ----------------------------------------------------------------------------------------

def gram(features: torch.Tensor) -> torch.Tensor:
    """Linear-kernel Gram matrix float64 [n, n] of ``features`` [n, ...] (flattened per row).

    HSIC (biased and unbiased) does not change when a constant is added to every row, so the Gram may be of
    raw or centred features. Float64 features are centred (the exact reference). Float32 activations are
    multiplied raw - centring would copy every activation, which cost as much as the product itself in
    bench/cka_throughput.py - unless the centred part of the Gram is under 1% of it (a large common offset):
    then the estimator would subtract nearly equal float32 entries, so the features are centred first.
    """
    f = features.detach().flatten(1)
    if f.dtype == torch.float64:
        f = f - f.mean(0, keepdim=True)
        return f @ f.T
    f = f.float()
    k = (f @ f.T).double()
    if k.trace() - k.sum() / len(k) < 1e-2 * k.trace():  # trace(HKH) = tr K - 1ᵀK1/n: the variation around the mean
        f = f - f.mean(0, keepdim=True)
        k = (f @ f.T).double()
    return k


def unbiased_hsic(grams: torch.Tensor) -> torch.Tensor:
    """Unbiased HSIC_1 (Song et al. 2012, eq. 5) of every pair of the stacked Grams [m, n, n] -> [m, m].

    With K~ = K with its diagonal set to 0 and 1 the vector of ones::

        HSIC_1(K, L) = [tr(K~ L~) + 1ᵀK~1 1ᵀL~1 / ((n-1)(n-2)) - 2/(n-2) 1ᵀK~L~1] / (n(n-3))

    All pairs at once: tr(K~_i L~_j) is one einsum over the stack, the other two terms outer products of
    the Grams' total and row sums. Needs n >= 4.
    """
    m, n, _ = grams.shape
    g = grams.to(torch.float64).clone()
    g.diagonal(dim1=1, dim2=2).zero_()
    traces = torch.einsum("iab,jab->ij", g, g)  # tr(K~_i L~_j) = sum of the elementwise product (symmetric Grams)
    totals = g.sum((1, 2))
    rows = g.sum(2)
    hsic = (traces + torch.outer(totals, totals) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (rows @ rows.T)) / (n * (n - 3))
    return (hsic + hsic.T) / 2  # exactly symmetric, whatever the summation order did


def _cka_from_hsic(hsic: torch.Tensor) -> torch.Tensor:
    """CKA [m, m] from an HSIC matrix [m, m]; NaN where a layer has no variance (a dead layer)."""
    own = hsic.diagonal()
    scale = torch.where(own > 0, own.clamp_min(0).sqrt(), torch.full_like(own, float("nan")))
    return hsic / torch.outer(scale, scale)


def linear_cka(x, y, *, unbiased: bool = False) -> float:
    """Full-batch linear CKA of features ``x`` [n, p] and ``y`` [n, q] (same n images; extra dims flattened).

    ``unbiased=False``: Kornblith et al. 2019, ``<HKH, HLH>_F / (||HKH||_F ||HLH||_F)``. ``unbiased=True``:
    the same ratio of unbiased HSIC_1 estimates - the value :class:`MinibatchCKA` converges to (it is that
    estimator with one minibatch of all n images). Both keep [n, n] Grams in memory; float64 throughout.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if len(x) != len(y):
        raise UserError(f"CKA compares features of the same images; got {len(x)} and {len(y)} rows.")
    grams = torch.stack([gram(x.to(torch.float64)), gram(y.to(torch.float64))])
    if unbiased:
        if len(x) < MIN_BATCH:
            raise UserError(f"The unbiased HSIC estimator needs at least {MIN_BATCH} images; got {len(x)}.")
        return float(_cka_from_hsic(unbiased_hsic(grams))[0, 1])
    k, l = grams  # already centred (HKH = K for centred features)
    return float((k * l).sum() / (k.norm() * l.norm()))


class MinibatchCKA:
    """Linear CKA of ``num_layers`` layers, pairwise, accumulated over minibatches of the same images.

    Call :meth:`update` once per minibatch with every layer's Gram of it (or :meth:`update_features`), then
    :meth:`cka`. Each minibatch's unbiased HSIC matrix is added to a float64 running sum; the minibatches
    count equally (Nguyen et al. 2021), so split the images into batches of (nearly) equal size.
    """

    def __init__(self, num_layers: int):
        self.num_layers = num_layers
        self.hsic_sum = torch.zeros(num_layers, num_layers, dtype=torch.float64)
        self.batches = 0
        self.images = 0

    def update(self, grams: torch.Tensor | Sequence[torch.Tensor]) -> None:
        """Add one minibatch: ``grams`` [num_layers, b, b] (or a list of [b, b]), b >= 4."""
        grams = torch.stack(list(grams)) if not isinstance(grams, torch.Tensor) else grams
        if grams.shape[0] != self.num_layers or grams.shape[1] < MIN_BATCH:
            raise ValueError(f"expected {self.num_layers} Grams of at least {MIN_BATCH} images; got {tuple(grams.shape)}")
        self.hsic_sum += unbiased_hsic(grams).cpu()
        self.batches += 1
        self.images += grams.shape[1]

    def update_features(self, features: Sequence[torch.Tensor]) -> None:
        """Add one minibatch given each layer's features [b, ...] instead of its Gram."""
        self.update([gram(f) for f in features])

    def cka(self) -> torch.Tensor:
        """CKA [num_layers, num_layers], float64, symmetric (NaN for a layer without variance)."""
        if not self.batches:
            raise ValueError("no minibatch added yet")
        return _cka_from_hsic(self.hsic_sum / self.batches)


def minibatches(n: int, batch_size: int) -> list[range]:
    """Split ``range(n)`` into nearly equal consecutive batches of at most ``batch_size`` and at least
    :data:`MIN_BATCH` images (equal sizes, because :class:`MinibatchCKA` weighs every batch the same)."""
    count = max(1, min(math.ceil(n / batch_size), n // MIN_BATCH))
    edges = [round(i * n / count) for i in range(count + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:])]


# --- which layers ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TracedModule:
    """One module of a traced forward pass, in the order it first ran."""

    name: str
    module: nn.Module
    calls: int


def trace_modules(model: nn.Module, example: torch.Tensor) -> list[TracedModule]:
    """Every module that runs in ``model(example)``, in the order it is first called (parents before their
    children), with its number of calls; the model itself is left out."""
    from .._hooks import forward_hooks

    names = {m: n for n, m in model.named_modules() if n}
    order: dict[nn.Module, int] = {}

    def count(module, inputs):
        order[module] = order.get(module, 0) + 1

    with forward_hooks(list(names), count, pre=True), torch.no_grad():
        model(example)
    return [TracedModule(names[m], m, calls) for m, calls in order.items()]


_PLAIN_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)  # exact types: subclasses are blocks
_WEIGHT_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)
# shape-preserving layers that finish a weight layer's unit (what Kornblith et al. read a conv layer after)
_FOLLOWERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm,
              nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
              nn.Tanh, nn.Sigmoid, nn.Softplus)


@dataclass(frozen=True)
class LayerKind:
    """A rule picking layers from a traced forward pass: ``select(traced) -> module names`` in forward order."""

    name: str
    select: Callable[[list[TracedModule]], list[str]]
    description: str


LAYER_KINDS: Registry[LayerKind] = Registry("layer kind")


def _layer_kind(name: str, description: str):
    def wrap(select):
        LAYER_KINDS.add(name, LayerKind(name, select, description))
        return select

    return wrap


@_layer_kind("blocks", "the output of every block (a composite module such as a residual block or Inception module) "
                       "and, in plain stacks, of every conv/linear layer after its norm and activation")
def _block_outputs(traced: list[TracedModule]) -> list[str]:
    """Blocks, found by what a module is rather than by a table per family:

    - a *block* is a module with children whose class is not a plain container (exact ``nn.Sequential``,
      ``ModuleList``, ``ModuleDict``): ResNet's BasicBlock/Bottleneck, Inception, VGGBlock, C3, SPPF,
      torchvision's Conv2dNormActivation (a Sequential subclass), a transformer encoder block. Its output
      is read and its inside is not searched.
    - in plain containers (VGG's ``features``, the classifier heads, a stem written as loose layers), each
      conv or linear layer starts a *unit* that runs through the norms and activations right after it; the
      unit is read at its last module, so ``conv -> ReLU`` is read after the ReLU. Pooling, dropout,
      flatten and anything else end a unit and are not read.
    - a module called more than once per forward pass (a shared ReLU) cannot end a unit: its hook would
      fire once per use.
    """
    selected, unit, inside = [], None, None
    for t in traced:
        if inside and t.name.startswith(inside):
            continue
        has_children = next(t.module.children(), None) is not None
        if has_children and type(t.module) in _PLAIN_CONTAINERS:
            continue
        if unit:
            if not has_children and isinstance(t.module, _FOLLOWERS) and t.calls == 1:
                unit = t.name
                continue
            selected.append(unit)
            unit = None
        if has_children:
            selected.append(t.name)
            inside = t.name + "."
        elif isinstance(t.module, _WEIGHT_LAYERS) and t.calls == 1:
            unit = t.name
    return selected + ([unit] if unit else [])


@_layer_kind("convs", "every convolution's own output (before its norm and activation)")
def _conv_outputs(traced: list[TracedModule]) -> list[str]:
    return [t.name for t in traced if isinstance(t.module, nn.modules.conv._ConvNd) and t.calls == 1]


def select_layers(model: nn.Module, example: torch.Tensor, kind: str = "blocks") -> list[str]:
    """Names of ``model``'s layers of ``kind`` (a :data:`LAYER_KINDS` name), in forward order, found by
    running ``example`` (one normalised input [1, C, H, W] is enough) through the model in eval mode."""
    rule = LAYER_KINDS.get(kind)
    was_training = model.training
    model.eval()
    try:
        names = rule.select(trace_modules(model, example))
    finally:
        model.train(was_training)
    if not names:
        raise UserError(f"{type(model).__name__} has no layers of kind {kind!r}; try one of {', '.join(LAYER_KINDS)}.")
    return names


# --- the result ------------------------------------------------------------------------------------------

@dataclass
class Similarity:
    """Linear CKA between every layer of ``names[0]`` (rows) and every layer of ``names[1]`` (columns).

    ``cka`` float64 [len(layers_a), len(layers_b)] in 0..1 (NaN for a layer without variance), measured on
    ``images`` validation images in ``batches`` minibatches of at most ``batch_size``. For a run compared with
    itself (``self_similarity``) the matrix is symmetric with ones on the diagonal.
    """

    names: tuple[str, str]
    layers_a: list[str]
    layers_b: list[str]
    cka: np.ndarray = field(repr=False)
    layer_kind: str
    images: int
    batch_size: int
    batches: int
    estimator: str = ESTIMATOR
    self_similarity: bool = False

    def best_match(self) -> list[tuple[str, str, float]]:
        """For each layer of a: (layer, the most similar layer of b, its CKA) - where a's representation
        reappears in b (for a self-similarity, the nearest *other* layer, so plateaus of alike layers show)."""
        cka = np.where(np.isnan(self.cka), -np.inf, self.cka)
        if self.self_similarity:
            np.fill_diagonal(cka, -np.inf)
        out = []
        for i, layer in enumerate(self.layers_a):
            j = int(np.argmax(cka[i]))
            found = np.isfinite(cka[i, j])  # a one-layer self-similarity has no other layer
            out.append((layer, self.layers_b[j] if found else None, float(self.cka[i, j]) if found else float("nan")))
        return out

    def neighbour_similarity(self) -> np.ndarray:
        """Self-similarity only: CKA of each layer with the next one [len(layers_a) - 1] - near 1 all along a
        stretch means those layers compute nearly the same representation (the deep-plain-stack question)."""
        if not self.self_similarity:
            raise ValueError("neighbour similarity reads a run compared with itself")
        return np.diagonal(self.cka, offset=1).copy()

    def to_json(self) -> dict:
        return {"runs": list(self.names), "layer_kind": self.layer_kind, "layers_a": list(self.layers_a),
                "layers_b": list(self.layers_b), "cka": _rows(self.cka), "images": self.images,
                "batch_size": self.batch_size, "batches": self.batches, "estimator": self.estimator,
                "self_similarity": self.self_similarity,
                "best_match": [{"layer": a, "match": b, "cka": json_number(v)} for a, b, v in self.best_match()]}

    def describe(self) -> str:
        """A heading, then each layer of a with its best match in b."""
        a, b = self.names
        what = f"{a} with itself" if self.self_similarity else f"{a} (rows) vs {b} (columns)"
        lines = [f"linear CKA, {what}: {len(self.layers_a)} x {len(self.layers_b)} {self.layer_kind} layers, "
                 f"{self.images} images, {self.estimator}", "most similar layer:"]
        width = max(len(x) for x in self.layers_a)
        lines += [f"  {layer:<{width}}  {match or '-':<{width}}  {v:.3f}" for layer, match, v in self.best_match()]
        return "\n".join(lines)


def _rows(matrix: np.ndarray) -> list[list[float | None]]:
    return [[json_number(v) for v in row] for row in matrix]


# --- running models --------------------------------------------------------------------------------------

@torch.no_grad()
def model_similarity(models: Sequence[nn.Module], normalizers: Sequence[Callable], images: torch.Tensor, *,
                     names: Sequence[str], layers: str = "blocks", batch_size: int = DEFAULT_BATCH_SIZE,
                     progress: bool = True) -> Similarity:
    """Linear CKA between the layers of ``models`` (one or two) on the same ``images`` [N, C, H, W].

    ``normalizers[i]`` turns a minibatch of ``images`` into model i's input (a run's ``normalize``). Each
    model runs once per minibatch, in eval mode, on the device its parameters are on; forward hooks turn
    every selected layer's output into its centred Gram as it is produced, so memory holds one minibatch's
    activations and [layers, b, b] Grams. :func:`layer_similarity` is the entry point for checkpoints.
    """
    from .._hooks import forward_hooks

    n = len(images)
    if n < MIN_BATCH or batch_size < MIN_BATCH:
        raise UserError(f"CKA's unbiased estimator needs at least {MIN_BATCH} images and a batch size of at least "
                        f"{MIN_BATCH}; got {n} image(s) and batch size {batch_size}.")
    devices = [next(m.parameters()).device for m in models]
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        chosen = [select_layers(m, norm(images[:1]).to(d), layers) for m, norm, d in zip(models, normalizers, devices)]
        offsets = np.cumsum([0] + [len(c) for c in chosen]).tolist()
        accumulator = MinibatchCKA(offsets[-1])
        batches = minibatches(n, batch_size)
        grams: list[torch.Tensor | None] = [None] * offsets[-1]
        slot: dict[nn.Module, int] = {}
        for model, names_, start in zip(models, chosen, offsets):
            modules = dict(model.named_modules())
            slot.update({modules[name]: start + i for i, name in enumerate(names_)})

        def record(module, inputs, output):
            grams[slot[module]] = gram(first_tensor(output)).cpu()

        bar = _progress_bar(n, names, progress)
        try:
            with forward_hooks(list(slot), record):
                for batch in batches:
                    chunk = images[batch.start:batch.stop]
                    for model, norm, device in zip(models, normalizers, devices):
                        model(norm(chunk.to(device, non_blocking=True)))
                    accumulator.update(torch.stack(grams))
                    grams[:] = [None] * len(grams)
                    if bar is not None:
                        bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)
    cka = accumulator.cka()
    rows = slice(0, offsets[1])
    cols = slice(offsets[1], offsets[2]) if len(models) == 2 else rows
    return Similarity((names[0], names[-1]), chosen[0], chosen[-1], cka[rows, cols].numpy(), layers, n,
                      max(len(b) for b in batches), len(batches), self_similarity=len(models) == 1)


def _progress_bar(total: int, names: Sequence[str], progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    what = names[0] if len(names) == 1 else " vs ".join(names)
    return tqdm(total=total, desc=f"CKA {what}", unit="img", delay=2, leave=False, dynamic_ncols=True)


def layer_similarity(run_a, run_b=None, *, images: torch.Tensor | None = None, n: int | None = None,
                     layers: str = "blocks", batch_size: int = DEFAULT_BATCH_SIZE, data_dir: str | None = None,
                     progress: bool = True) -> Similarity:
    """Linear CKA between every pair of layers of two runs (:class:`~xaicnn.training.Run`), or of ``run_a``
    with itself, on the same images, each fed as its model was trained (``run.normalize``).

    ``images``: uint8 [N, C, H, W] to use (the first ``n`` if ``n`` is given); by default ``n`` (512)
    class-balanced validation images of ``run_a``'s dataset (``data_dir``: where it lies, default the run's).
    Two runs trained on different datasets are refused unless ``images`` are given; runs with different
    input sizes always are (one image cannot feed both). ``layers``: a :data:`LAYER_KINDS` name.
    """
    runs = [run_a] if run_b is None or run_b.model is run_a.model else [run_a, run_b]  # one model: hooks once
    names = [r.name for r in runs]
    if len(runs) == 2 and names[0] == names[1]:
        names = [f"{names[0]}-1", f"{names[1]}-2"]
    if n is not None and n < MIN_BATCH:
        raise UserError(f"CKA needs at least {MIN_BATCH} images (the unbiased HSIC divides by n - 3); got {n}.")
    LAYER_KINDS.get(layers)  # an unknown kind is one sentence before any data is loaded
    if len(runs) == 2:
        a, b = runs
        if a.input_size != b.input_size:
            raise UserError(f"{names[0]} takes {_size(a.input_size)} images and {names[1]} {_size(b.input_size)}, so "
                            f"no image feeds both; compare runs trained at the same input size.")
        if images is None and a.dataset != b.dataset:
            raise UserError(f"{names[0]} was trained on {a.dataset} and {names[1]} on {b.dataset}, so they have no "
                            f"validation images in common; compare runs of one dataset or pass the images to use.")
    if images is None:
        images = run_a.val_data(size=n or DEFAULT_IMAGES, data_dir=data_dir).images
    else:
        images = torch.as_tensor(images)[:n] if n else torch.as_tensor(images)
        if tuple(images.shape[1:]) != tuple(run_a.input_size):
            raise UserError(f"The images are {_size(tuple(images.shape[1:]))} but {names[0]} takes "
                            f"{_size(run_a.input_size)}; resize them first.")
    return model_similarity([r.model for r in runs], [r.normalize for r in runs], images, names=names,
                            layers=layers, batch_size=batch_size, progress=progress)


def _size(shape) -> str:
    c, h, w = shape
    return f"{c}x{h}x{w}"
