import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from xaicnn.data.augment import BatchAugment, shift
from xaicnn.errors import UserError


def batch(n=16, c=3, size=32):
    return torch.randint(0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_shift_equals_torchvision_crop_of_padded_image():
    images = batch().float() / 255
    offsets = torch.randint(-4, 5, (16, 2), generator=torch.Generator().manual_seed(1))
    out = shift(images, offsets)
    for img, (dx, dy), got in zip(images, offsets.tolist(), out):
        ref = TF.crop(TF.pad(img, [4]), 4 - dy, 4 - dx, 32, 32)
        assert torch.equal(got, ref)


def test_basic_preset_draws_per_image_and_flips_like_torchvision():
    aug = BatchAugment("basic", flips=True, image_size=(32, 32))
    images = batch()
    g = torch.Generator().manual_seed(3)
    params = aug.draw(len(images), g)
    out = aug.apply(images, params)
    assert 0 < params["flip"].sum() < len(images)  # not all-or-nothing like one v2 call on a batch
    for img, p_shift, p_flip, got in zip(images.float() / 255, params["shift"], params["flip"], out):
        ref = shift(img[None], p_shift[None])[0]
        ref = TF.horizontal_flip(ref) if p_flip else ref
        assert torch.equal(got, ref)


def test_no_flips_when_they_change_the_class():
    aug = BatchAugment("strong", flips=False, image_size=(32, 32))
    assert not aug.draw(64, torch.Generator().manual_seed(0))["flip"].any()
    assert "no horizontal flip" in aug.describe()


def test_strong_preset_is_deterministic_bounded_and_identity_at_zero():
    aug = BatchAugment("strong", flips=True, image_size=(32, 32))
    images = batch()
    a = aug(images, torch.Generator().manual_seed(5))
    b = aug(images, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == images.shape and a.min() >= 0 and a.max() <= 1
    # with every random parameter at its neutral value the warp and jitter change nothing
    n = len(images)
    neutral = {"shift": torch.zeros(n, 2, dtype=torch.long), "flip": torch.zeros(n, dtype=torch.bool),
               "angle": torch.zeros(n), "translate": torch.zeros(n, 2), "scale": torch.ones(n), "shear": torch.zeros(n),
               "jitter": torch.ones(n, 3)}
    assert torch.allclose(aug.apply(images, neutral), images.float() / 255, atol=1e-5)


def test_strong_rotation_matches_torchvision_rotate():
    aug = BatchAugment("strong", flips=False, image_size=(32, 32))
    img = torch.zeros(1, 1, 32, 32)
    img[0, 0, 8:24, 14:18] = 1.0  # a vertical bar
    n = 1
    params = {"shift": torch.zeros(n, 2, dtype=torch.long), "flip": torch.zeros(n, dtype=torch.bool),
              "angle": torch.tensor([90.0]), "translate": torch.zeros(n, 2), "scale": torch.ones(n),
              "shear": torch.zeros(n), "jitter": torch.ones(n, 3)}
    ours = aug.apply(img, params)[0, 0]
    ref = TF.rotate(img[0], 90.0, interpolation=TF.InterpolationMode.BILINEAR)[0]
    assert (ours - ref).abs().max() < 0.05  # the bar becomes horizontal in both


def test_unknown_preset():
    with pytest.raises(UserError, match="none, basic, strong"):
        BatchAugment("heavy")
