"""Tests for the embedded glyphs dataset (xaicnn.data.glyphs); small renders, a few seconds."""
from __future__ import annotations

import string

import numpy as np
import pytest

from xaicnn.data import glyphs
from xaicnn.data.glyphs import GLYPH_CLASSES, IMAGE_SIZE, describe_split, font_split, render_glyphs

PER_CLASS = 3


@pytest.fixture(scope="module")
def train_small():
    return render_glyphs("train", PER_CLASS, seed=0, workers=1)


def test_classes_are_the_52_in_order():
    lowercase = tuple("abdefghijmnqrtuy")
    assert GLYPH_CLASSES == tuple(string.digits) + tuple(string.ascii_uppercase) + lowercase
    assert len(GLYPH_CLASSES) == 52 == len(set(GLYPH_CLASSES))
    assert not set("ckloopsvwxz") & set(GLYPH_CLASSES)
    assert IMAGE_SIZE == 100


def test_shapes_dtypes_and_labels(train_small):
    images, labels = train_small
    n = 52 * PER_CLASS
    assert images.shape == (n, IMAGE_SIZE, IMAGE_SIZE) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels.min() == 0 and labels.max() == 51
    assert np.bincount(labels, minlength=52).tolist() == [PER_CLASS] * 52


def test_every_glyph_has_ink_and_stays_inside_the_frame(train_small):
    images, _ = train_small
    val, _ = render_glyphs("val", 2, seed=1, workers=1)
    for batch in (images, val):
        assert (batch.reshape(len(batch), -1).max(axis=1) >= 200).all(), "a glyph without bright ink"
        border = np.concatenate([batch[:, 0], batch[:, -1], batch[:, :, 0], batch[:, :, -1]], axis=1)
        assert not border.any(), "ink touches the border"
        # bright glyph on a dark background: most pixels are background
        assert (batch == 0).mean() > 0.5


def test_deterministic_and_independent_of_workers(train_small):
    images, labels = train_small
    again, labels2 = render_glyphs("train", PER_CLASS, seed=0, workers=1)
    pooled, labels3 = render_glyphs("train", PER_CLASS, seed=0, workers=2)
    assert np.array_equal(images, again) and np.array_equal(labels, labels2)
    assert np.array_equal(images, pooled) and np.array_equal(labels, labels3)


def test_smaller_per_class_is_a_prefix_of_each_class(train_small):
    images, _ = train_small
    small, _ = render_glyphs("train", 2, seed=0, workers=1)
    assert np.array_equal(small.reshape(52, 2, IMAGE_SIZE, IMAGE_SIZE),
                          images.reshape(52, PER_CLASS, IMAGE_SIZE, IMAGE_SIZE)[:, :2])


def test_seeds_and_splits_differ(train_small):
    images, _ = train_small
    other, _ = render_glyphs("train", PER_CLASS, seed=1, workers=1)
    val, _ = render_glyphs("val", PER_CLASS, seed=0, workers=1)
    assert not np.array_equal(images, other)
    assert not np.array_equal(images, val)
    # per image, not just somewhere: almost every image changes with the seed
    assert (images != other).reshape(len(images), -1).any(axis=1).mean() > 0.9


def test_font_split_is_disjoint_sorted_and_covers_styles():
    split = font_split()
    assert set(split) == {"train", "val"}
    train, val = split["train"], split["val"]
    assert train and val and not set(train) & set(val)
    assert train == sorted(train) and val == sorted(val)
    assert font_split() == split  # deterministic
    assert 0.2 <= len(val) / (len(train) + len(val)) <= 0.4
    for stem in train + val:  # symbol-only fonts and fallback boxes are dropped
        assert not any(k in stem.lower() for k in ("cmex", "cmsy", "stixsiz", "stixnonuni", "lastresort"))
    assert {"DejaVuSans", "cmr10"} & set(train + val)
    for fonts in (train, val):
        styles = [glyphs._style(s) for s in fonts]
        assert {c for c, _, _ in styles} == {"sans", "serif", "mono"}
        assert any(b for _, b, _ in styles) and any(i for _, _, i in styles)


def test_describe_split_names_every_font():
    text = describe_split()
    split = font_split()
    assert len(text.splitlines()) >= 3
    for stem in split["train"] + split["val"]:
        assert stem in text
    assert "val" in text and "rotation" in text


def test_progress_size_and_bad_arguments():
    calls = []
    images, labels = render_glyphs("val", 1, seed=3, size=32, workers=1,
                                   progress=lambda done, total: calls.append((done, total)))
    assert images.shape == (52, 32, 32) and labels.tolist() == list(range(52))
    assert calls and calls[-1] == (52, 52)
    assert all(a <= b for (a, _), (b, _) in zip(calls, calls[1:]))
    assert not np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], 1).any()
    empty, empty_labels = render_glyphs("train", 0)
    assert empty.shape == (0, IMAGE_SIZE, IMAGE_SIZE) and empty_labels.shape == (0,)
    with pytest.raises(ValueError):
        render_glyphs("test", 1)
