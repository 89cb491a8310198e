"""Matplotlib figures, one function per figure kind; each returns ``(fig, axes)``.

The CLI saves them with :func:`save_figure`; the app shows them with ``st.pyplot``. The headless Agg
backend is selected before pyplot is imported, so figures work without a display.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 120  # PNG resolution: readable on screen and in the docs


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (atomically, parent folders created) and close it; returns the path."""
    from .data._cache import atomic_write

    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight"))
    plt.close(fig)
    return path


# --- training figures: curves, gradient flow, confusion (analysis of runs) ---


# --- attribution figures ---
