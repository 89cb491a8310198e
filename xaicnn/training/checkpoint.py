"""Checkpoints: one self-describing file per run, written atomically, loaded without unpickling code.

The file is a ``torch.save`` dict of tensors and plain Python values only, so ``torch.load(...,
weights_only=True)`` reads it and refuses anything else (a pickle that would run code is rejected, not
run). Layout::

    {"format": "xaicnn.checkpoint", "format_version": 1,
     "model": state_dict, "optimizer": ..., "scheduler": ..., "rng": {...},   # what --resume needs
     "meta": {arch, model_options, in_channels, num_classes, image_size, dataset, classes, mean, std,
              config, seed, params, flops, macs, status, status_detail, epochs_done, wall_time, versions, ...},
     "history": [{epoch, train_loss, train_acc, val_loss, val_acc, precision, recall, f1, seconds,
                  images_per_s, lr}, ...],
     "gradient_flow": {names, epochs: [epoch][stat][param], every, snapshots, ...}}
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .._io import atomic_write
from ._weights import build_model, check_weights
from ..errors import UserError
from .gradient_flow import STATS
from .run_summary import whole_split

FORMAT = "xaicnn.checkpoint"
FORMAT_VERSION = 1

STATUS_RUNNING = "running"  # unfinished: --resume continues it
STATUS_COMPLETE = "complete"
STATUS_BUDGET = "stopped_at_budget"
STATUS_DIVERGED = "diverged"


def checkpoint_dir() -> Path:
    """``$XAICNN_CHECKPOINT_DIR``, else ``checkpoints/`` in the current folder."""
    return Path(os.environ.get("XAICNN_CHECKPOINT_DIR") or "checkpoints")


def resolve_checkpoint(path: str | Path) -> Path:
    """A path as given if it exists; otherwise a name or relative path (``vgg_block.pt``, ``demo/vgg_block``)
    is looked up in the checkpoint folder and its sub-folders (``make demo`` writes ``checkpoints/demo/``):
    one match is used, several are listed in one sentence so the user can pick."""
    import glob

    p = Path(path).expanduser()
    if p.is_file():
        return p
    root = checkpoint_dir()
    if p.is_absolute():
        raise UserError(f"No checkpoint at {path}; train one with 'xaicnn train' or pass the file's path.")
    wanted = [p] if p.suffix == ".pt" else [p, p.with_name(p.name + ".pt")]
    for rel in wanted:
        if (root / rel).is_file():
            return root / rel
    tails = [rel.as_posix() for rel in wanted]
    matches = sorted({m for rel in wanted for m in root.rglob(glob.escape(rel.name))
                      if m.is_file() and any(m.as_posix().endswith("/" + t) for t in tails)})
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(m.as_posix() for m in matches[:6]) + (", ..." if len(matches) > 6 else "")
        raise UserError(f"{path} matches {len(matches)} checkpoints under {root}/ ({shown}); pass one of these paths.")
    raise UserError(f"No checkpoint at {path} (also looked in {root}/ and its sub-folders); train one with "
                    f"'xaicnn train' or pass the file's path.")


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` (see module doc) to ``path`` atomically: temp file in the same folder, then rename."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, buffer)
    atomic_write(Path(path), lambda f: f.write(buffer.getbuffer()))


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict, or :class:`UserError` for a missing, truncated, foreign or unsafe file."""
    p = resolve_checkpoint(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" in str(err).lower():  # a reference to a callable: loading would run code
            raise UserError(f"{p} holds Python objects that would run code when loaded; refused "
                            f"(xaicnn checkpoints contain only tensors and plain values).") from None
        raise UserError(f"{p} is not a readable checkpoint (it may be truncated or corrupt).") from None
    except IsADirectoryError:
        raise UserError(f"{p} is a folder, not a checkpoint file.") from None
    except Exception:  # torch.load raises many types on garbage (KeyError, RuntimeError, EOFError, ...)
        raise UserError(f"{p} is not a readable checkpoint (it may be truncated or corrupt).") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{p} is not an xaicnn checkpoint (no '{FORMAT}' header); pass a file written by 'xaicnn train'.")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise UserError(f"{p} was written by a newer xaicnn (format {state['format_version']}); upgrade xaicnn to read it.")
    return state


@dataclass
class Run:
    """A trained run, rebuilt from its checkpoint alone."""

    path: Path
    meta: dict
    history: list[dict]
    model: torch.nn.Module  # eval mode, weights loaded, on the CPU
    raw_gradient_flow: dict = field(default_factory=dict, repr=False)

    @property
    def arch(self) -> str:
        return self.meta["arch"]

    def summary(self):
        """The run's facts (:class:`xaicnn.training.run_summary.RunSummary`), as every view shows them."""
        from .run_summary import summarize_run

        return summarize_run({"meta": self.meta, "history": self.history, "gradient_flow": self.raw_gradient_flow})

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def input_size(self) -> tuple[int, int, int]:
        return (self.meta["in_channels"], *self.meta["image_size"])

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def gradient_flow(self) -> dict:
        """``{param name: {"norm": [per epoch], "mean_abs": [...], "max_abs": [...]}}`` in network order."""
        gf = self.raw_gradient_flow
        if not gf or not gf.get("epochs"):
            return {}
        return {name: {stat: [epoch[k][i] for epoch in gf["epochs"]] for k, stat in enumerate(STATS)}
                for i, name in enumerate(gf["names"])}

    def best(self, key: str = "val_acc") -> float | None:
        values = [h[key] for h in whole_split(self.history, self.meta) if h.get(key) is not None]
        return max(values) if values else None

    def last(self, key: str = "val_acc") -> float | None:
        return self.history[-1].get(key) if self.history else None

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or 0..1 images [N, C, H, W] -> the float inputs this model was trained on."""
        from ..data import normalize

        return normalize(images, self.meta["mean"], self.meta["std"])

    def val_data(self, size: int | None = None, data_dir: str | None = None):
        """The run's validation split (same subset and image size as in training) as :class:`ImageData`."""
        from .. import data

        config = self.meta["config"]
        return data.load(self.dataset, "val", data_dir=data_dir or config.get("data_dir"),
                         size=size if size is not None else config.get("val_size"),
                         image_size=tuple(self.meta["image_size"]), progress=False)


def load_checkpoint(path: str | Path) -> Run:
    """Load a checkpoint written by ``xaicnn train`` into a :class:`Run` (model in eval mode, on the CPU)."""
    state = read_checkpoint(path)
    p = resolve_checkpoint(path)
    check_weights(state.get("meta"), state.get("model"), p)  # a misfit is one sentence, before anything is built
    meta = state["meta"]
    model = build_model(meta)
    model.load_state_dict(state["model"])
    model.eval()
    return Run(p, meta, list(state.get("history", [])), model, state.get("gradient_flow") or {})
