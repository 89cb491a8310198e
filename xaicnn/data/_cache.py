"""Where generated and decoded datasets are cached, and how they are written (atomically)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """``$XAICNN_CACHE``, else ``~/.cache/xaicnn``."""
    return Path(os.environ.get("XAICNN_CACHE") or Path.home() / ".cache" / "xaicnn")


def default_data_dir() -> Path:
    """Where torchvision datasets are looked for when no ``--data-dir`` is given."""
    return cache_dir()


def cache_key(**fields) -> str:
    """Short stable hash of the fields that determine a cached array set."""
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Cache ``arrays`` at ``path``; a cache that can't be written (read-only home, full disk) is skipped:
    the data is in memory already, and the next run regenerates it."""
    from .._io import atomic_write
    from ..errors import UserError

    try:
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except UserError:
        pass


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved at ``path``, or None if absent or unreadable (it is then regenerated)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None
