"""The embedded "glyphs" dataset: 52 classes of font-rendered characters, rendered on the fly.

Every image is one character (digits, capitals and 16 lowercase letters that do not look like
their capitals) drawn with Pillow from a font file that matplotlib ships, so the data set is the
same on every machine and needs no download. Each image gets a random font of its split, size,
position, rotation, shear and stroke weight; validation uses *held-out fonts*, so the validation
accuracy measures how well a model generalises to typefaces it has never seen.

Rendering is deterministic: image ``i`` of class ``c`` depends only on ``(seed, split, c, i,
size, system_fonts)``, never on the number of worker processes or on ``per_class`` (a smaller
``per_class`` gives a prefix of each class of a larger one). Nothing is cached on disk here; the
caller caches the arrays.

This module imports numpy only; Pillow and fontTools (a matplotlib dependency) are imported
lazily, and torch never.
"""
from __future__ import annotations

import math
import os
import re
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

import numpy as np

__all__ = ["GLYPH_CLASSES", "IMAGE_SIZE", "font_split", "describe_split", "render_glyphs"]

# Digits, capitals, then the lowercase letters whose shape differs from their capital
# (c k l o p s v w x z are left out: they look like their capitals, or l like I).
GLYPH_CLASSES: tuple[str, ...] = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" "abdefghijmnqrtuy")
IMAGE_SIZE = 100

SPLITS = ("train", "val")
VAL_FRACTION = 0.3  # of each style group, rounded half up (a group of one stays in train)
SYSTEM_FONT_DIR = Path("/usr/share/fonts")

# Random distortions (sizes are fractions of the image side, angles in degrees).
HEIGHT_RANGE = (0.45, 0.80)  # ink height of the (unrotated) glyph
ROTATION_DEG = 12.0  # uniform in +-ROTATION_DEG
SHEAR = 0.25  # horizontal shear factor, uniform in +-SHEAR
STROKE_RANGE = (-0.4, 1.6)  # stroke change per side, in pixels at 100 px (scaled with size)
MARGIN = 0.02  # ink never comes closer than this (at least 2 px) to the border

_RENDER_PX = 160  # font size of the per-process glyph cache (always downscaled afterwards)
_BLOCK = 100  # images per (class, block) task; one random stream per block
_N_PARAMS = 8  # uniforms drawn per image, fixed so each image's draws do not depend on count

# Fonts that only hold symbols, fallback boxes or a handful of display glyphs.
_EXCLUDE = re.compile(
    r"cmex|cmsy|stixsiz|stixnonuni|lastresort|display|math|symbol|emoji|dingbat|wingding"
    r"|icon|awesome|braille|ornament|music",
    re.IGNORECASE,
)
_FONT_SUFFIXES = (".ttf", ".otf")


# --------------------------------------------------------------------------------------------
# font discovery and the train/val split
# --------------------------------------------------------------------------------------------
def _mpl_font_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.origin:  # pragma: no cover - matplotlib is a hard dependency
        raise RuntimeError("the glyphs dataset needs matplotlib's bundled fonts")
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


def _candidate_files(system_fonts: bool) -> list[Path]:
    """Font files in a fixed order, first matplotlib's, then (optionally) the system's; a stem
    seen before is skipped (the system's DejaVuSans.ttf is matplotlib's DejaVuSans.ttf)."""
    files = sorted(p for p in _mpl_font_dir().iterdir() if p.suffix.lower() in _FONT_SUFFIXES)
    if system_fonts and SYSTEM_FONT_DIR.is_dir():
        found = [p for p in SYSTEM_FONT_DIR.rglob("*")
                 if p.suffix.lower() in _FONT_SUFFIXES and p.is_file()]
        files += sorted(found, key=lambda p: (p.stem, str(p)))
    out, seen = [], set()
    for p in files:
        if p.stem in seen or _EXCLUDE.search(p.stem):
            continue
        seen.add(p.stem)
        out.append(p)
    return out


@lru_cache(maxsize=None)
def _cmap(path: str) -> frozenset:
    """Code points the font maps to a real glyph (empty if fontTools cannot read it)."""
    try:
        from fontTools.ttLib import TTFont

        with TTFont(path, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
        return frozenset(cp for cp, name in cmap.items() if name != ".notdef")
    except Exception:
        return frozenset()


def _is_text_font(path: str) -> bool:
    """Maps (almost) all classes and draws distinct, non-empty shapes for a few probe letters."""
    cmap = _cmap(path)
    covered = sum(ord(ch) in cmap for ch in GLYPH_CLASSES)
    if covered < 0.9 * len(GLYPH_CLASSES):
        return False
    shapes = []
    for ch in "ABOgR":
        glyph = _glyph(path, ch)
        if glyph is None:
            return False
        shapes.append((glyph.size, glyph.tobytes()))
    return len(set(shapes)) == len(shapes)


@lru_cache(maxsize=None)
def _usable_fonts(system_fonts: bool) -> tuple[str, ...]:
    return tuple(str(p) for p in _candidate_files(system_fonts) if _is_text_font(str(p)))


def _style(stem: str) -> tuple[str, bool, bool]:
    """(category, bold, italic) guessed from a font file's stem."""
    s = stem.lower()
    if "mono" in s or s.startswith("cmtt") or any(k in s for k in ("courier", "typewriter", "code")):
        category = "mono"
    elif "sans" in s or s.startswith("cmss"):
        category = "sans"
    else:
        category = "serif"
    bold = bool("bol" in s or "heavy" in s or "black" in s or re.match(r"cmbx?\d", s))
    italic = bool(re.search(r"ita|obl", s) or re.match(r"cm(ti|mi|sl|ssi|bxti)", s))
    return category, bold, italic


def _style_name(stem: str) -> str:
    category, bold, italic = _style(stem)
    face = "bold italic" if bold and italic else "bold" if bold else "italic" if italic else "regular"
    return f"{category} {face}"


def _split_paths(system_fonts: bool) -> dict[str, list[str]]:
    """The split rule: fonts are grouped by style (sans/serif/mono x regular/bold/italic/bold
    italic); inside a group they are ordered by CRC-32 of the file stem, and the first
    round-half-up(30% of the group) go to validation. Paths in each split are sorted by stem."""
    groups: dict[tuple, list[str]] = {}
    for path in _usable_fonts(system_fonts):
        groups.setdefault(_style(Path(path).stem), []).append(path)
    split: dict[str, list[str]] = {"train": [], "val": []}
    for members in groups.values():
        members = sorted(members, key=lambda p: (zlib.crc32(Path(p).stem.encode()), Path(p).stem))
        n_val = int(math.floor(VAL_FRACTION * len(members) + 0.5))
        split["val"] += members[:n_val]
        split["train"] += members[n_val:]
    return {k: sorted(v, key=lambda p: Path(p).stem) for k, v in split.items()}


def font_split(system_fonts: bool = False) -> dict[str, list[str]]:
    """``{'train': [font file stems], 'val': [font file stems]}`` - the fonts each split renders
    with. Validation fonts are never used for training. Deterministic (sorted), independent of
    the seed."""
    return {k: [Path(p).stem for p in v] for k, v in _split_paths(system_fonts).items()}


def describe_split(system_fonts: bool = False) -> str:
    """A few human-readable lines: which fonts are train and which val, and the distortions."""
    split = font_split(system_fonts)
    n_train, n_val = len(split["train"]), len(split["val"])
    source = "matplotlib's bundled fonts" + (" + TTF/OTF fonts under /usr/share/fonts" if system_fonts else "")
    lines = [
        f"glyphs: {len(GLYPH_CLASSES)} classes ({''.join(GLYPH_CLASSES)}), "
        f"grayscale {IMAGE_SIZE}x{IMAGE_SIZE}, bright glyph on black, rendered from {source}.",
        f"train fonts ({n_train}): " + ", ".join(f"{s} [{_style_name(s)}]" for s in split["train"]),
        f"val fonts ({n_val}, held out, never trained on): "
        + ", ".join(f"{s} [{_style_name(s)}]" for s in split["val"]),
        "split rule: fonts grouped by style (sans/serif/mono x regular/bold/italic/bold italic); "
        f"~{VAL_FRACTION:.0%} of each group (by CRC-32 of the file name) is held out for val.",
        f"each image: one character in a random font of its split (fonts lacking the character, "
        f"or with old-style digits, are skipped for it); ink height {HEIGHT_RANGE[0]:.0%}-"
        f"{HEIGHT_RANGE[1]:.0%} of the image (less for wide glyphs), rotation +-{ROTATION_DEG:g} deg, "
        f"shear +-{SHEAR:g}, stroke {STROKE_RANGE[0]:+g}..{STROKE_RANGE[1]:+g} px per side "
        f"(at {IMAGE_SIZE} px), random position with the glyph fully inside the frame; anti-aliased.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# per-process caches: fonts and ink-cropped glyph bitmaps
# --------------------------------------------------------------------------------------------
_FONT_CACHE: dict = {}
_GLYPH_CACHE: dict = {}
_CANDIDATE_CACHE: dict = {}


def _font(path: str):
    font = _FONT_CACHE.get(path)
    if font is None:
        from PIL import ImageFont

        font = _FONT_CACHE[path] = ImageFont.truetype(path, _RENDER_PX)
    return font


def _draw(path: str, ch: str):
    """The character at _RENDER_PX, white on black, cropped to its ink; None if no ink."""
    from PIL import Image, ImageDraw

    font = _font(path)
    left, top, right, bottom = font.getbbox(ch)
    pad = _RENDER_PX // 4
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), ch, font=font, fill=255)
    box = canvas.getbbox()
    return canvas.crop(box) if box else None


def _notdef(path: str):
    key = (path, None)
    if key not in _GLYPH_CACHE:
        cmap = _cmap(path)
        cp = next((c for c in (0x10FFFD, 0xFFFF, 0xE0FF, 0xF8FE) if c not in cmap), None)
        _GLYPH_CACHE[key] = _draw(path, chr(cp)) if cp is not None else None
    return _GLYPH_CACHE[key]


def _same(a, b) -> bool:
    return a is not None and b is not None and a.size == b.size and a.tobytes() == b.tobytes()


def _glyph(path: str, ch: str):
    """Ink-cropped bitmap of ``ch`` in the font, or None when the font lacks the character
    (not in its cmap, no ink, the .notdef box, or an old-style digit)."""
    key = (path, ch)
    if key in _GLYPH_CACHE:
        return _GLYPH_CACHE[key]
    glyph = None
    if ord(ch) in _cmap(path):
        glyph = _draw(path, ch)
        if _same(glyph, _notdef(path)):
            glyph = None
        elif glyph is not None and ch.isdigit() and _oldstyle_digits(path):
            glyph = None
    _GLYPH_CACHE[key] = glyph
    return glyph


def _oldstyle_digits(path: str) -> bool:
    """Old-style figures (0, 1, 2 at x-height, as in cmmi10) turn into o/I/z once scaled to the
    image, so such fonts give no digits."""
    key = (path, "oldstyle")
    if key not in _GLYPH_CACHE:
        zero, cap = (_draw(path, c) if ord(c) in _cmap(path) else None for c in "0O")
        _GLYPH_CACHE[key] = bool(zero is not None and cap is not None
                                 and zero.size[1] < 0.85 * cap.size[1])
    return _GLYPH_CACHE[key]


def _candidates(fonts: tuple[str, ...], ch: str) -> list[str]:
    key = (fonts, ch)
    if key not in _CANDIDATE_CACHE:
        _CANDIDATE_CACHE[key] = [p for p in fonts if _glyph(p, ch) is not None]
    return _CANDIDATE_CACHE[key]


# --------------------------------------------------------------------------------------------
# rendering one image
# --------------------------------------------------------------------------------------------
def _restroke(img, d: float):
    """Thicken (d > 0) or thin (d < 0) the strokes by about |d| pixels per side: blend towards a
    3x3 (then 5x5) max filter, or a little towards a 3x3 min filter."""
    from PIL import Image, ImageFilter

    if d >= 0.05:
        grown = img.filter(ImageFilter.MaxFilter(3))
        if d <= 1.0:
            return Image.blend(img, grown, d)
        return Image.blend(grown, img.filter(ImageFilter.MaxFilter(5)), min(d - 1.0, 1.0))
    if d <= -0.05:
        return Image.blend(img, img.filter(ImageFilter.MinFilter(3)), min(-d, 1.0))
    return img


def _render_one(glyph, u: np.ndarray, size: int) -> tuple[np.ndarray, int, int]:
    """Scale, restroke, rotate and shear ``glyph``; returns its ink crop as uint8 and the
    (x, y) offset at which to paste it. ``u`` are this image's uniforms (u[0] chose the font)."""
    from PIL import Image

    margin = max(2, int(round(MARGIN * size)))
    room = size - 2 * margin
    gw, gh = glyph.size
    height = (HEIGHT_RANGE[0] + (HEIGHT_RANGE[1] - HEIGHT_RANGE[0]) * u[1]) * size
    angle = math.radians(ROTATION_DEG * (2 * u[2] - 1))
    shear = SHEAR * (2 * u[3] - 1)
    stroke = (STROKE_RANGE[0] + (STROKE_RANGE[1] - STROKE_RANGE[0]) * u[4]) * size / IMAGE_SIZE

    # Forward map (about the centre): rotate . shear, applied to the scaled glyph.
    cos, sin = math.cos(angle), math.sin(angle)
    m00, m01, m10, m11 = cos, cos * shear - sin, sin, sin * shear + cos
    # Extent of the transformed unit box per unit of scale; shrink wide glyphs to fit the room.
    ext_w = abs(m00) * gw + abs(m01) * gh
    ext_h = abs(m10) * gw + abs(m11) * gh
    grow = 2 * max(stroke, 0.0) + 2  # restroke and resampling blur
    scale = max(height - grow, 0.5 * height) / gh  # so the final ink is about `height` tall
    scale = min(scale, (room - grow) / ext_w, (room - grow) / ext_h)

    sw, sh = max(1, int(round(gw * scale))), max(1, int(round(gh * scale)))
    small = glyph.resize((sw, sh), Image.Resampling.BILINEAR, reducing_gap=None)
    if stroke != 0:
        pad = int(math.ceil(abs(stroke))) + 1
        padded = Image.new("L", (sw + 2 * pad, sh + 2 * pad), 0)
        padded.paste(small, (pad, pad))
        small = _restroke(padded, stroke)
    iw, ih = small.size
    ow = int(math.ceil(abs(m00) * iw + abs(m01) * ih)) + 4
    oh = int(math.ceil(abs(m10) * iw + abs(m11) * ih)) + 4
    # Inverse map for Image.transform: input = M^-1 (out - c_out) + c_in.
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    cxo, cyo, cxi, cyi = ow / 2, oh / 2, iw / 2, ih / 2
    data = (i00, i01, cxi - i00 * cxo - i01 * cyo, i10, i11, cyi - i10 * cxo - i11 * cyo)
    out = small.transform((ow, oh), Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)

    box = out.getbbox()
    if box is None:  # cannot happen for a real glyph; keep a valid (blank) image anyway
        return np.zeros((0, 0), np.uint8), margin, margin
    ink = out.crop(box)
    if ink.size[0] > room or ink.size[1] > room:  # safety net, the scale above should prevent it
        f = room / max(ink.size)
        ink = ink.resize((max(1, int(ink.size[0] * f)), max(1, int(ink.size[1] * f))),
                         Image.Resampling.BILINEAR)
        box2 = ink.getbbox()
        ink = ink.crop(box2) if box2 else ink
    w, h = ink.size
    x = margin + min(int(u[5] * (room - w + 1)), room - w)
    y = margin + min(int(u[6] * (room - h + 1)), room - h)
    return np.asarray(ink, dtype=np.uint8), x, y


def _render_block(task: tuple) -> tuple[int, np.ndarray]:
    """Render ``count`` images of one class; task = (slot, fonts, class_index, block, count,
    seed, split_index, size). Image k of block b always uses row k of that block's draws."""
    slot, fonts, cls, block, count, seed, split_index, size = task
    ch = GLYPH_CLASSES[cls]
    candidates = _candidates(fonts, ch)
    if not candidates:
        raise RuntimeError(f"no font of the split can draw {ch!r}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        entropy=int(seed), spawn_key=(zlib.crc32(b"xaicnn.glyphs"), split_index, cls, block))))
    draws = rng.random((_BLOCK, _N_PARAMS))
    images = np.zeros((count, size, size), dtype=np.uint8)
    for k in range(count):
        u = draws[k]
        font = candidates[min(int(u[0] * len(candidates)), len(candidates) - 1)]
        ink, x, y = _render_one(_glyph(font, ch), u, size)
        images[k, y:y + ink.shape[0], x:x + ink.shape[1]] = ink
    return slot, images


def render_glyphs(split: str, per_class: int, *, seed: int = 0, size: int = IMAGE_SIZE,
                  system_fonts: bool = False, workers: Optional[int] = None,
                  progress: Optional[Callable[[int, int], object]] = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Render ``per_class`` images of each of the 52 classes for split ``'train'`` or ``'val'``.

    Returns ``(images, labels)``: uint8 ``[N, size, size]`` (bright glyph on a dark background)
    and int64 ``[N]`` with ``N = 52 * per_class``, ordered class-major (all of class 0, then
    class 1, ...). The same ``(split, per_class, seed, size, system_fonts)`` gives byte-identical
    output on any run and for any number of ``workers`` (default ``os.cpu_count()``).
    ``progress(done, total)`` is called after each finished block of images if given.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    per_class, size = int(per_class), int(size)
    if per_class < 0:
        raise ValueError(f"per_class must be >= 0, got {per_class}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    n_classes = len(GLYPH_CLASSES)
    total = n_classes * per_class
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), per_class)
    images = np.zeros((total, size, size), dtype=np.uint8)
    if total == 0:
        return images, labels

    fonts = tuple(_split_paths(system_fonts)[split])
    if not fonts:
        raise RuntimeError(f"no usable fonts for the {split!r} split")
    split_index = SPLITS.index(split)
    tasks, starts = [], []
    for cls in range(n_classes):
        for block in range(math.ceil(per_class / _BLOCK)):
            count = min(_BLOCK, per_class - block * _BLOCK)
            starts.append(cls * per_class + block * _BLOCK)
            tasks.append((len(tasks), fonts, cls, block, count, int(seed), split_index, size))

    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    workers = max(1, min(workers, len(tasks)))
    done = 0

    def collect(slot: int, block_images: np.ndarray) -> None:
        nonlocal done
        images[starts[slot]:starts[slot] + len(block_images)] = block_images
        done += len(block_images)
        if progress is not None:
            progress(done, total)

    if workers == 1:
        for task in tasks:
            collect(*_render_block(task))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(_render_block, t) for t in tasks]):
                collect(*future.result())
    return images, labels
