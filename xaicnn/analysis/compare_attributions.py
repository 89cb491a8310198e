"""Attribution maps of several runs on the same images, with faithfulness scores (used by the CLI and the app).

``compare_attributions(runs, method="ig", n=8)`` picks images (dataset images from the first run's
validation split, or image files converted per run), attributes each run's target class, scores every
map with deletion/insertion AUCs (Petsiuk et al. 2018) against a random pixel order, and returns an
:class:`AttributionComparison` that serialises to JSON (``to_json``) and saves the figure, the arrays
and the JSON (``save``). With two or more runs the JSON also holds how much their maps agree
(:mod:`xaicnn.analysis.agreement`).
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import UserError
from .agreement import DEFAULT_TOP_K, Agreement, attribution_agreement, check_top_k
from .attribution import METHODS, attribute
from .faithfulness import Faithfulness, deletion_insertion

SELECTIONS = ("first", "random", "misclassified")
FAITHFULNESS_STEPS = 32  # points on each deletion/insertion curve


@dataclass
class RunAttributions:
    """One run's results on the comparison's images (tensors [N] unless noted)."""

    name: str
    run: object = field(repr=False)  # xaicnn.training.Run
    inputs: torch.Tensor = field(repr=False)  # uint8 [N, C, H, W] as this run sees them (files are converted per run)
    maps: torch.Tensor = field(repr=False)  # float [N, H, W]
    targets: torch.Tensor = field(repr=False)  # attributed classes
    predictions: torch.Tensor = field(repr=False)
    probabilities: torch.Tensor = field(repr=False)  # softmax probability of the prediction
    delta: torch.Tensor | None = field(repr=False)  # IG's completeness error; None for other methods
    faithfulness: Faithfulness = field(repr=False)

    @property
    def classes(self) -> list[str]:
        return self.run.classes

    def image_record(self, i: int) -> dict:
        f = self.faithfulness
        return {"target": int(self.targets[i]), "prediction": int(self.predictions[i]),
                "probability": _num(self.probabilities[i]), "delta": None if self.delta is None else _num(self.delta[i]),
                "deletion_auc": _num(f.deletion_auc[i]), "insertion_auc": _num(f.insertion_auc[i]),
                "deletion_auc_random": _num(f.deletion_auc_random[i]), "insertion_auc_random": _num(f.insertion_auc_random[i])}


@dataclass
class AttributionComparison:
    """``inputs`` uint8 [N, C, H, W] as shown (the first run's view), ``labels`` int64 [N] or None for
    files, ``index`` the validation index of each image (or the file path), ``runs`` one entry per run,
    ``top_k`` the pixel fraction of the agreement's top-k IoU."""

    method: str
    signed: bool
    inputs: torch.Tensor
    labels: torch.Tensor | None
    index: list
    runs: list[RunAttributions]
    options: dict = field(default_factory=dict)
    top_k: float = DEFAULT_TOP_K

    def to_json(self) -> dict:
        """``method``, ``images`` (per image and run), and with two or more runs ``agreement``
        (:meth:`Agreement.to_json <xaicnn.analysis.agreement.Agreement.to_json>`); one run has no such key."""
        doc = {"method": self.method, "images": [
            {"index": self.index[i], "label": None if self.labels is None else int(self.labels[i]),
             "runs": {r.name: r.image_record(i) for r in self.runs}} for i in range(len(self.index))]}
        agreement = self.agreement()
        if agreement is not None:
            doc["agreement"] = agreement.to_json()
        return doc

    def agreement(self, top_k: float | None = None) -> Agreement | None:
        """Pairwise agreement of the runs' maps (:func:`~xaicnn.analysis.agreement.attribution_agreement`,
        top-k fraction ``top_k`` or this comparison's), with each run's accuracy on these images (None for
        image files, which have no labels) and mean deletion AUC; None with a single run."""
        if len(self.runs) < 2:
            return None
        agreement = attribution_agreement([r.maps for r in self.runs], [r.name for r in self.runs],
                                          top_k=self.top_k if top_k is None else top_k)
        agreement.accuracy_on_images = [None if self.labels is None else
                                        float((r.predictions == self.labels).double().mean()) for r in self.runs]
        agreement.deletion_auc = [_num(r.faithfulness.deletion_auc.mean()) for r in self.runs]
        return agreement

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``attributions.png``, ``attributions.npz`` (``inputs`` [N,C,H,W], ``targets`` [runs, N], one
        [N, H, W] map array per run named by run name) and ``attributions.json``; returns the paths."""
        from .._io import atomic_write, write_json
        from ..plots import plot_attribution_grid, save_figure

        out = Path(out_dir)
        arrays = {"inputs": self.inputs.numpy(), "targets": torch.stack([r.targets for r in self.runs]).numpy()}
        arrays.update({r.name: r.maps.numpy() for r in self.runs})
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        paths = {"png": out / "attributions.png", "npz": out / "attributions.npz", "json": out / "attributions.json"}
        atomic_write(paths["npz"], lambda f: f.write(buffer.getbuffer()))
        write_json(paths["json"], self.to_json(), indent=2)
        save_figure(plot_attribution_grid(self)[0], paths["png"])
        return paths

    def sanity_check(self, run: int = 0, **kwargs):
        """The model-randomisation check (:func:`xaicnn.analysis.sanity.sanity_check`) of this comparison's
        method for one run on the same images and targets."""
        from .sanity import sanity_check

        r = self.runs[run]
        return sanity_check(r.run.model, r.run.normalize(r.inputs), r.targets, self.method,
                            **{**self.options, **_stats(r.run)}, **kwargs)


def _num(value) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def _stats(run) -> dict:
    return {"mean": list(run.meta["mean"]), "std": list(run.meta["std"])}


def _load_runs(runs) -> list:
    from ..training import Run, load_checkpoint

    runs = [runs] if isinstance(runs, (str, Path, Run)) else list(runs)
    if not runs:
        raise UserError("Pass at least one checkpoint to compare.")
    return [r if isinstance(r, Run) else load_checkpoint(r) for r in runs]


def _unique_names(runs) -> list[str]:
    names: list[str] = []
    for r in runs:
        name, k = r.name, 2
        while name in names or name in ("inputs", "targets"):  # npz keys must not collide
            name, k = f"{r.name}_{k}", k + 1
        names.append(name)
    return names


def image_to_tensor(image, channels: int, size: Sequence[int]) -> torch.Tensor:
    """A file path, PIL image or uint8 array ([H, W] or [H, W, C]) -> uint8 [channels, H, W] at ``size``
    (grey or RGB as the checkpoint expects, bilinear resize)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, Path)):
        path = Path(image).expanduser()
        if not path.is_file():
            raise UserError(f"No image file at {image}; pass the path of a PNG or JPEG file.")
        try:
            with Image.open(path) as im:
                im.load()
                pil = im.copy()
        except (UnidentifiedImageError, OSError):
            raise UserError(f"{image} is not an image file; pass a PNG or JPEG file.") from None
    elif isinstance(image, Image.Image):
        pil = image
    else:
        array = np.asarray(image.numpy() if isinstance(image, torch.Tensor) else image)
        if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise UserError(f"An image array must be uint8 [H, W] or [H, W, C] with 1, 3 or 4 channels; got "
                            f"{array.dtype} {array.shape}.")
        pil = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array)
    pil = pil.convert("L" if channels == 1 else "RGB")
    if pil.size != (size[1], size[0]):
        pil = pil.resize((size[1], size[0]), Image.BILINEAR)
    array = np.asarray(pil, dtype=np.uint8).reshape(size[0], size[1], -1)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def _check_same_data(runs, names) -> None:
    first = runs[0].meta
    for r, name in zip(runs[1:], names[1:]):
        m = r.meta
        what = ("dataset", m["dataset"], first["dataset"]) if m["dataset"] != first["dataset"] else \
            ("classes", len(m["classes"]), len(first["classes"])) if list(m["classes"]) != list(first["classes"]) else \
            ("input size", r.input_size, runs[0].input_size) if r.input_size != runs[0].input_size else None
        if what:
            raise UserError(f"{name} and {names[0]} were trained on different data ({what[0]} {what[1]} vs {what[2]}), "
                            f"so they cannot be compared on dataset images; pass the same image files to both instead.")


def _predict(run, images: torch.Tensor) -> torch.Tensor:
    from ..training.evaluation import predict

    return predict(run.model, images, run.normalize)


def _select(runs, val, n, indices, select, seed) -> torch.Tensor:
    size = len(val)
    if indices is not None:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        bad = [int(i) for i in index if not 0 <= i < size]
        if bad or len(index) == 0:
            raise UserError(f"Image indices must be between 0 and {size - 1} (the validation set has {size} images); "
                            f"got {bad or 'none'}.")
        return index
    if not isinstance(n, int) or n < 1:
        raise UserError(f"The number of images must be at least 1; got {n!r}.")
    if select not in SELECTIONS:
        raise UserError(f"Unknown image selection {select!r}; use one of {', '.join(SELECTIONS)}.")
    if select == "random":
        return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n].sort().values
    if select == "misclassified":
        wrong = torch.zeros(size, dtype=torch.bool)
        for r in runs:
            wrong |= _predict(r, val.images).argmax(1) != val.labels
        if not wrong.any():
            raise UserError(f"No run misclassifies any of the {size} validation images; select first or random images instead.")
        return torch.nonzero(wrong).flatten()[:n]
    return torch.arange(min(n, size))


def _targets(target, labels, predictions, num_classes) -> torch.Tensor:
    if target == "pred":
        return predictions
    if target == "label":
        if labels is None:
            raise UserError("Image files have no label to attribute; use target pred or a class number instead.")
        return labels.clone()
    try:
        k = int(target)
    except (TypeError, ValueError):
        raise UserError(f"The target must be pred, label or a class number; got {target!r}.") from None
    if not 0 <= k < num_classes:
        raise UserError(f"Target class {k} does not exist; the model has classes 0 to {num_classes - 1}.")
    return torch.full_like(predictions, k)


def compare_attributions(runs, *, method: str = "ig", n: int = 8, indices: Sequence[int] | str | None = None,
                         images: Sequence | None = None, select: str = "first", target: str | int = "pred",
                         seed: int = 0, faithfulness_steps: int = FAITHFULNESS_STEPS, progress: bool = False,
                         top_k: float = DEFAULT_TOP_K, **options) -> AttributionComparison:
    """Attribute the same images with every run in ``runs`` (Run objects or checkpoint paths).

    Images: ``images`` (file paths, PIL images or uint8 arrays, converted to each run's channels, size and
    normalisation), else ``indices`` into the first run's validation data, else ``n`` images chosen by
    ``select``: ``first`` (the first n), ``random`` (n at random, ``seed``) or ``misclassified`` (up to n
    misclassified by any run; ``indices="random"``/``"misclassified"`` is the same). Several runs must share
    dataset, classes and input size for dataset images (:class:`UserError` otherwise).
    ``target``: ``pred`` (each run's prediction), ``label`` or a class number. ``top_k``: the pixel fraction
    of the agreement's top-k IoU (several runs). ``options``: the method's (``steps``, ``baseline``, ...; see
    :func:`~xaicnn.analysis.attribution.attribute`).
    """
    top_k = check_top_k(top_k)  # fails before any work, like bad method options
    runs = _load_runs(runs)
    names = _unique_names(runs)
    cls = METHODS.get(method)
    cls(runs[0].model).resolve_options(options)  # bad options fail before any work
    if isinstance(indices, str):
        indices, select = None, indices
    if images is not None:
        if indices is not None:
            raise UserError("Pass either image files or dataset indices, not both.")
        if len(images) == 0:
            raise UserError("The list of image files is empty; pass at least one.")
        per_run = [torch.stack([image_to_tensor(im, r.input_size[0], r.input_size[1:]) for im in images]) for r in runs]
        labels, index = None, [str(im) if isinstance(im, (str, Path)) else i for i, im in enumerate(images)]
    else:
        _check_same_data(runs, names)
        val = runs[0].val_data()
        chosen = _select(runs, val, n, indices, select, seed)
        per_run = [val.images[chosen]] * len(runs)
        labels, index = val.labels[chosen], chosen.tolist()

    curve_evals = 4 * (faithfulness_steps + 1)  # forward passes per image for the four curves
    bar = None
    if progress:
        from tqdm.auto import tqdm

        # one unit = one forward pass of the faithfulness curves; attributing an image counts as many
        bar = tqdm(total=2 * len(runs) * len(index) * curve_evals, desc=f"{method} x {len(runs)} run(s)", delay=2,
                   leave=False, dynamic_ncols=True, bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
    results = []
    try:
        for run, name, u8 in zip(runs, names, per_run):
            x = run.normalize(u8)
            probs = _predict(run, u8).softmax(1)
            prob, pred = probs.max(1)
            t = _targets(target, labels, pred, len(run.classes))
            attr = attribute(run.model, x, t, method, callback=(lambda k: bar.update(k * curve_evals)) if bar else None,
                             **{**options, **_stats(run)})
            faith = deletion_insertion(run.model, x, t, attr.maps, steps=faithfulness_steps, seed=seed, **_stats(run),
                                       callback=bar.update if bar else None)
            results.append(RunAttributions(name, run, u8, attr.maps, t, pred, prob, attr.extras.get("delta"), faith))
    finally:
        if bar is not None:
            bar.close()
    return AttributionComparison(method, cls.signed, per_run[0], labels, index, results, dict(options), top_k)
