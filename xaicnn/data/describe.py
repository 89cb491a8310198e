"""Human-readable description of a dataset (``xaicnn data NAME --info``)."""
from __future__ import annotations

from . import info
from .augment import BatchAugment


def describe_dataset(name: str, data_dir: str | None = None) -> str:
    meta = info(name, data_dir)
    lines = [
        f"{meta.name}: {meta.description}",
        f"  input {meta.in_channels}x{meta.image_size[0]}x{meta.image_size[1]}, {meta.num_classes} classes: "
        + " ".join(meta.classes),
        f"  {'embedded: no files or network needed' if meta.embedded else 'read from --data-dir (or downloaded with --download)'}",
    ]
    for preset in ("basic", "strong"):
        lines.append(f"  --augment {preset}: " + BatchAugment(preset, flips=not meta.flips_change_class,
                                                                 image_size=meta.image_size).describe())
    if meta.flips_change_class:
        lines.append("  horizontal flips are never applied: a mirrored character or digit is another class (b/d, 2/S)")
    if name == "glyphs":
        from .glyphs import describe_split

        lines += ["", *("  " + line for line in describe_split().splitlines())]
        lines.append("  generated once per seed and cached under $XAICNN_CACHE (default ~/.cache/xaicnn)")
    return "\n".join(lines)
