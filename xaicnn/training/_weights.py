"""Do a checkpoint's weights fit the architecture its metadata names? Answered without loading them.

:func:`check_weights` builds the model on PyTorch's meta device (shapes only: nothing is allocated; 5-200 ms,
once per architecture and options) and compares parameter and buffer names and shapes with the file's: what
``load_state_dict(strict=True)`` would refuse. The app's run scan calls it on every file, so a bad file is
listed as broken instead of failing later on a page; ``load_checkpoint`` can call it before loading.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import UserError

SHOWN_NAMES = 3  # missing or unexpected weight names quoted in the sentence before "and N more"


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if len(shape) else "a scalar"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def _mismatch(file_state: dict, model_shapes: dict) -> str:
    """What differs between the file's weights and the model's, in a few words ("" when they fit)."""
    missing = [k for k in model_shapes if k not in file_state]
    if missing:
        return f"{_names(missing)} {'is' if len(missing) == 1 else 'are'} missing from the file"
    unexpected = [k for k in file_state if k not in model_shapes]
    if unexpected:
        return f"the file has {_names(unexpected)}, which the model lacks"
    for name, expected in model_shapes.items():
        got = file_state[name]
        if not isinstance(got, torch.Tensor):
            return f"{name} is a {type(got).__name__} in the file, not a tensor"
        if tuple(got.shape) != expected:
            return f"{name} is {_shape(got.shape)} in the file, {_shape(expected)} in the model"
    return ""


_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {}  # build fields (as JSON) -> the model's shapes
MAX_SHAPES = 64  # architectures x options remembered; the runs of a folder mostly share a few


def build_model(meta: dict) -> torch.nn.Module:
    """The (untrained) model a checkpoint's ``meta`` describes: ``xaicnn.models.create`` with its architecture,
    channels, classes, image size and options. Defined here, not in ``checkpoint``, so that ``checkpoint`` can
    import this module (``load_checkpoint`` checks the weights with :func:`check_weights`) without a cycle."""
    from .. import models

    return models.create(meta["arch"], in_channels=meta["in_channels"], num_classes=meta["num_classes"],
                         image_size=tuple(meta["image_size"]), **meta.get("model_options", {}))


def _model_shapes(build_fields: dict) -> dict[str, tuple[int, ...]]:
    """{parameter or buffer name: shape} of the model ``build_model(build_fields)`` makes, remembered by
    value: building one, even on the meta device, costs 5-200 ms, and a study folder holds dozens of runs of a
    few architectures."""
    key = json.dumps(build_fields, sort_keys=True, default=repr)
    if key not in _SHAPES:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            shapes = {name: tuple(t.shape) for name, t in build_model(build_fields).state_dict().items()}
        if len(_SHAPES) >= MAX_SHAPES:
            _SHAPES.clear()
        _SHAPES[key] = shapes
    return _SHAPES[key]


def check_weights(meta, model_state, path: str | Path) -> None:
    """Raise :class:`UserError` (one sentence naming ``path``) unless ``model_state`` (the checkpoint's
    ``"model"`` entry) fits the architecture ``meta`` describes: ``meta["arch"]`` is a registered architecture
    name, the model builds from ``meta`` (channels, classes, image size, options), and the file holds exactly
    the model's parameters and buffers, each with the model's shape."""
    from .. import models

    if not isinstance(meta, dict) or "arch" not in meta:
        raise UserError(f"{path} has no architecture in its metadata; it was not written by this xaicnn.")
    arch = meta["arch"]
    if not isinstance(arch, str):
        raise UserError(f"{path} names its architecture {arch!r}, which is not a name; it was not written by this "
                        f"xaicnn.")
    if arch not in models.MODELS:
        raise UserError(f"{path} was trained with an architecture this xaicnn does not have ({arch!r}); upgrade "
                        f"xaicnn, or see 'xaicnn archs' for the ones it has.")
    try:  # the fields build_model reads, and nothing else, so runs of one architecture share the cache entry
        fields = {k: meta[k] for k in ("arch", "in_channels", "num_classes", "image_size")}
        expected = _model_shapes({**fields, "model_options": meta.get("model_options", {})})
    except UserError as err:  # e.g. an image size the architecture can't take
        raise UserError(f"{path}'s architecture {arch} can't be built from its metadata ({str(err).rstrip('.')}); "
                        f"it was not written by this xaicnn.") from None
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:  # a field missing or odd
        raise UserError(f"{path} is missing part of its metadata ({type(err).__name__}: {err}); it was not "
                        f"written by this xaicnn.") from None
    if not isinstance(model_state, dict):
        raise UserError(f"{path} holds no weights; it was not written by 'xaicnn train'.")
    mismatch = _mismatch(model_state, expected)
    if mismatch:
        raise UserError(f"{path}'s weights don't fit its architecture {arch} ({mismatch}); retrain the run, or "
                        f"check that the file was not edited.")
