"""Do a checkpoint's weights fit the architecture its metadata names? Answered without loading them.

:func:`check_weights` builds the model on PyTorch's meta device (shapes only: nothing is allocated, so even
VGG-50 takes milliseconds) and compares parameter and buffer names and shapes with the file's, exactly what
``load_state_dict(strict=True)`` would refuse. The app's run scan calls it on every file, so a bad file is
listed as broken instead of failing later on a page; ``load_checkpoint`` can call it before loading.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError

SHOWN_NAMES = 3  # missing or unexpected weight names quoted in the sentence before "and N more"


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if len(shape) else "a scalar"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def _mismatch(file_state: dict, model_state: dict) -> str:
    """What differs between the file's weights and the model's, in a few words ("" when they fit)."""
    missing = [k for k in model_state if k not in file_state]
    if missing:
        return f"{_names(missing)} {'is' if len(missing) == 1 else 'are'} missing from the file"
    unexpected = [k for k in file_state if k not in model_state]
    if unexpected:
        return f"the file has {_names(unexpected)}, which the model lacks"
    for name, expected in model_state.items():
        got = file_state[name]
        if not isinstance(got, torch.Tensor):
            return f"{name} is a {type(got).__name__} in the file, not a tensor"
        if got.shape != expected.shape:
            return f"{name} is {_shape(got.shape)} in the file, {_shape(expected.shape)} in the model"
    return ""


def check_weights(meta, model_state, path: str | Path) -> None:
    """Raise :class:`UserError` (one sentence naming ``path``) unless ``model_state`` (the checkpoint's
    ``"model"`` entry) fits the architecture ``meta`` describes: ``meta["arch"]`` is a registered architecture
    name, the model builds from ``meta`` (channels, classes, image size, options), and the file holds exactly
    the model's parameters and buffers, each with the model's shape."""
    from .. import models
    from .checkpoint import build_model

    if not isinstance(meta, dict) or "arch" not in meta:
        raise UserError(f"{path} has no architecture in its metadata; it was not written by this xaicnn.")
    arch = meta["arch"]
    if not isinstance(arch, str):
        raise UserError(f"{path} names its architecture {arch!r}, which is not a name; it was not written by this "
                        f"xaicnn.")
    if arch not in models.MODELS:
        raise UserError(f"{path} was trained with an architecture this xaicnn does not have ({arch!r}); upgrade "
                        f"xaicnn, or see 'xaicnn archs' for the ones it has.")
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            expected = build_model(meta).state_dict()
    except UserError as err:  # e.g. an image size the architecture can't take
        raise UserError(f"{path}'s architecture {arch} can't be built from its metadata ({str(err).rstrip('.')}); "
                        f"it was not written by this xaicnn.") from None
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:  # a field missing or of the wrong kind
        raise UserError(f"{path} is missing part of its metadata ({type(err).__name__}: {err}); it was not "
                        f"written by this xaicnn.") from None
    if not isinstance(model_state, dict):
        raise UserError(f"{path} holds no weights; it was not written by 'xaicnn train'.")
    mismatch = _mismatch(model_state, expected)
    if mismatch:
        raise UserError(f"{path}'s weights don't fit its architecture {arch} ({mismatch}); retrain the run, or "
                        f"check that the file was not edited.")
