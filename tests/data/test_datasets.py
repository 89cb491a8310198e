import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from xaicnn import data
from xaicnn.data._registry import balanced_subset
from xaicnn.errors import UserError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_registry_lists_embedded_and_real_sets():
    names = data.available()
    assert {"glyphs", "digits", "mnist", "cifar10", "imagefolder:PATH"} <= set(names)


@pytest.mark.parametrize("name,shape,k", [("cifar10", (3, 32, 32), 10), ("mnist", (1, 28, 28), 10),
                                          ("digits", (1, 32, 32), 10), ("glyphs", (1, 100, 100), 52)])
def test_info_without_loading(name, shape, k):
    meta = data.info(name)
    assert (meta.in_channels, *meta.image_size) == shape and meta.num_classes == k


def test_digits_fixed_split_and_stats():
    train, val = data.load("digits", "train"), data.load("digits", "val")
    assert (len(train), len(val)) == (1347, 450)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 32, 32)
    assert torch.bincount(val.labels).min() >= 43  # stratified: 25% of each class
    x = train.normalize(train.images)
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1) < 1e-2
    again = data.load("digits", "val")
    assert torch.equal(val.images, again.images)


def test_glyph_subsets_are_prefixes_and_balanced():
    small = data.load("glyphs", "val", size=52, progress=False)
    larger = data.load("glyphs", "val", size=104, progress=False)
    assert small.images.shape == (52, 1, 100, 100)
    assert torch.equal(torch.bincount(larger.labels), torch.full((52,), 2))
    first = larger.subset(balanced_subset(larger.labels, 52, 52))
    assert torch.equal(first.images, small.images)


def test_balanced_subset_redistributes_short_classes():
    labels = torch.tensor([0] * 10 + [1] * 2 + [2] * 10)
    ix = balanced_subset(labels, 12, 3)
    assert torch.bincount(labels[ix], minlength=3).tolist() == [5, 2, 5]


def test_resize_to_arch_size():
    d = data.load("digits", "val", size=20, image_size=40)
    assert d.images.shape == (20, 1, 40, 40) and d.images.dtype == torch.uint8


def _write_idx(path: Path, array: np.ndarray, magic: int):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_reads_the_real_idx_format(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30) % 10
    for prefix in ("train", "t10k"):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", imgs, 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 2049)
    d = data.load("mnist", "train", data_dir=tmp_path)
    assert torch.equal(d.images[:, 0], torch.from_numpy(imgs)) and d.labels.tolist() == labels.tolist()
    assert data.load("mnist", "val", data_dir=tmp_path, image_size=32).images.shape == (30, 1, 32, 32)


def test_missing_real_dataset_says_where_and_what(tmp_path):
    for name in ("mnist", "cifar10"):
        with pytest.raises(UserError, match=f"under {tmp_path}.*--data-dir.*--download"):
            data.load(name, "train", data_dir=tmp_path)


def _write_images(folder: Path, classes, per_class, size=(8, 8), mode="RGB", ext=".png"):
    from PIL import Image

    rng = np.random.default_rng(1)
    for c in classes:
        (folder / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (*size, 3) if mode == "RGB" else size
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / c / f"{i:04d}{ext}")


def test_cifar10_image_folder_copy_is_decoded_once_and_cached(tmp_path, monkeypatch):
    from xaicnn.data import imagefolder, torchvision_sets

    classes = torchvision_sets.CIFAR10_CLASSES
    _write_images(tmp_path / "cifar10" / "train", classes, 3, size=(32, 32))
    _write_images(tmp_path / "cifar10" / "val", classes, 2, size=(32, 32), ext=".jpg")
    train = data.load("cifar10", "train", data_dir=tmp_path)
    assert len(data.load("cifar10", "val", data_dir=tmp_path)) == 20
    assert train.images.shape == (30, 3, 32, 32) and train.labels.tolist() == [c for c in range(10) for _ in range(3)]
    from PIL import Image

    first = np.asarray(Image.open(tmp_path / "cifar10" / "train" / "airplane" / "0000.png"))
    assert np.array_equal(train.images[0].permute(1, 2, 0).numpy(), first)
    monkeypatch.setattr(imagefolder, "_decode", lambda *a: (_ for _ in ()).throw(AssertionError("decoded again")))
    assert torch.equal(data.load("cifar10", "train", data_dir=tmp_path).images, train.images)


def test_imagefolder_without_split_is_split_per_class(tmp_path):
    _write_images(tmp_path, ["cat", "dog"], 10, size=(12, 12), mode="L")
    name = f"imagefolder:{tmp_path}"
    meta = data.info(name)
    assert meta.classes == ("cat", "dog") and meta.in_channels == 1 and meta.image_size == (12, 12)
    train, val = data.load(name, "train"), data.load(name, "val")
    assert (len(train), len(val)) == (16, 4) and torch.bincount(val.labels).tolist() == [2, 2]


def test_imagefolder_rejects_non_images(tmp_path):
    _write_images(tmp_path, ["a", "b"], 2)
    (tmp_path / "a" / "broken.png").write_text("not an image")
    with pytest.raises(UserError, match="broken.png is not a readable image"):
        data.load(f"imagefolder:{tmp_path}", "train")


@pytest.mark.skipif(not (SHARED / "MNIST" / "raw").is_dir(), reason="no ../shared/data on this machine")
def test_shared_mnist_slice():
    d = data.load("mnist", "val", data_dir=SHARED, size=100)
    assert len(d) == 100 and torch.bincount(d.labels).tolist() == [10] * 10
