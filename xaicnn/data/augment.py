"""Batched augmentation: every image of a batch gets its own random draw, in one pass over the batch.

``torchvision.transforms.v2`` applied to a batched tensor draws *one* set of random parameters for the
whole batch (every image flipped, or none); per-image draws through it mean a Python loop over images.
So the random parameters are drawn per image here, as tensors, and applied at once: flips by indexing,
crops/rotations/affine maps as a single ``affine_grid``/``grid_sample`` warp, colour jitter by
broadcasting. The result equals torchvision's functional ops applied image by image with the same
parameters (tests check crop and flip against ``transforms.v2.functional`` exactly).

Presets (``--augment``):
- ``none``
- ``basic``: random crop with zero padding (1/8 of the image side, 4 px on 32x32) + horizontal flip
- ``strong``: basic + ColorJitter(0.2, 0.2, 0.2) + RandomRotation(15 deg) + RandomAffine(translate 0.1,
  scale 0.9-1.1, shear 10 deg)

Horizontal flips are never applied to datasets whose classes they change (characters, digits).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import UserError

PRESETS = ("none", "basic", "strong")


class BatchAugment:
    """``augment(images_uint8 [B, C, H, W], generator) -> float [B, C, H, W] in 0..1``."""

    def __init__(self, preset: str = "none", *, flips: bool = True, image_size: tuple[int, int] = (32, 32)):
        if preset not in PRESETS:
            raise UserError(f"--augment must be one of {', '.join(PRESETS)}; got {preset!r}.")
        self.preset = preset
        self.flips = flips and preset != "none"
        self.pad = max(1, round(min(image_size) / 8)) if preset != "none" else 0
        self.strong = preset == "strong"
        self.rotation = 15.0  # degrees
        self.translate = 0.1  # fraction of the side
        self.scale = (0.9, 1.1)
        self.shear = 10.0  # degrees
        self.jitter = 0.2  # brightness, contrast and saturation factors in [0.8, 1.2]

    def describe(self) -> str:
        if self.preset == "none":
            return "no augmentation"
        parts = [f"random crop with {self.pad}px zero padding"]
        parts.append("horizontal flip" if self.flips else "no horizontal flip (it would change the class)")
        if self.strong:
            parts.append(f"colour jitter {self.jitter}, rotation +-{self.rotation:g} deg, affine (translate "
                         f"{self.translate}, scale {self.scale[0]}-{self.scale[1]}, shear {self.shear:g} deg)")
        return ", ".join(parts)

    def draw(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The per-image random parameters of one batch (CPU tensors, from ``generator`` only)."""
        u = lambda *shape: torch.rand(shape, generator=generator)  # noqa: E731
        params = {
            "shift": torch.randint(-self.pad, self.pad + 1, (n, 2), generator=generator),  # (dx, dy) pixels
            "flip": (u(n) < 0.5) if self.flips else torch.zeros(n, dtype=torch.bool),
        }
        if self.strong:
            params["angle"] = (u(n) * 2 - 1) * self.rotation  # degrees
            params["translate"] = (u(n, 2) * 2 - 1) * self.translate  # fraction of the side
            params["scale"] = self.scale[0] + u(n) * (self.scale[1] - self.scale[0])
            params["shear"] = (u(n) * 2 - 1) * self.shear
            params["jitter"] = 1 + (u(n, 3) * 2 - 1) * self.jitter  # brightness, contrast, saturation
        return params

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(images, self.draw(len(images), generator) if self.preset != "none" else None)

    def apply(self, images: torch.Tensor, params: dict[str, torch.Tensor] | None) -> torch.Tensor:
        """Augment ``images`` with parameters from :meth:`draw` (None for the ``none`` preset)."""
        x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
        if self.preset == "none" or params is None:
            return x
        p = {k: v.to(x.device) for k, v in params.items()}
        if self.strong:
            x = self._warp(x, p)
        else:
            x = shift(x, p["shift"])
        x = torch.where(p["flip"].view(-1, 1, 1, 1), x.flip(-1), x)
        if self.strong:
            x = color_jitter(x, p["jitter"])
        return x

    def _warp(self, x: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """Crop shift + rotation + affine as one inverse map per image, bilinear, zero fill."""
        n, _, h, w = x.shape
        a = torch.deg2rad(p["angle"])
        sh = torch.deg2rad(p["shear"])
        s = p["scale"]
        # forward map M = R(a) * Shear_x(sh) * S(s) in pixel units (square pixels), centre as origin
        m00, m01 = torch.cos(a) * s, (torch.cos(a) * torch.tan(sh) - torch.sin(a)) * s
        m10, m11 = torch.sin(a) * s, (torch.sin(a) * torch.tan(sh) + torch.cos(a)) * s
        det = m00 * m11 - m01 * m10
        inv = torch.stack([torch.stack([m11, -m01], -1), torch.stack([-m10, m00], -1)], -2) / det.view(-1, 1, 1)
        t = p["translate"] * torch.tensor([w, h], device=x.device) + p["shift"].to(x.dtype)  # pixels
        # affine_grid works in normalised coordinates: scale x and y by the side lengths
        norm = torch.tensor([2.0 / w, 2.0 / h], device=x.device)
        theta = torch.empty(n, 2, 3, device=x.device)
        theta[:, :, :2] = inv * norm.view(1, 2, 1) / norm.view(1, 1, 2)
        theta[:, :, 2] = -(theta[:, :, :2] @ (t * norm).unsqueeze(-1)).squeeze(-1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def shift(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Translate each image by its integer (dx, dy), zero fill: a random crop of a zero-padded image.

    Exactly ``v2.functional.crop(v2.functional.pad(img, pad), pad - dy, pad - dx, H, W)`` per image."""
    n, c, h, w = x.shape
    pad = int(offsets.abs().max()) if offsets.numel() else 0
    if pad == 0:
        return x
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (torch.arange(h, device=x.device).view(1, h) + pad - offsets[:, 1].view(n, 1))  # [n, h]
    cols = (torch.arange(w, device=x.device).view(1, w) + pad - offsets[:, 0].view(n, 1))  # [n, w]
    flat = rows.view(n, h, 1) * (w + 2 * pad) + cols.view(n, 1, w)  # [n, h, w] indices into the padded image
    return padded.flatten(2).gather(2, flat.view(n, 1, h * w).expand(n, c, h * w)).view(n, c, h, w)


def color_jitter(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Per-image brightness, contrast and saturation factors [n, 3] (torchvision's definitions, in that order)."""
    b, c, s = (factors[:, i].view(-1, 1, 1, 1) for i in range(3))
    x = (x * b).clamp_(0, 1)
    gray = _grayscale(x)
    x = ((x - gray.mean(dim=(1, 2, 3), keepdim=True)) * c + gray.mean(dim=(1, 2, 3), keepdim=True)).clamp_(0, 1)
    if x.shape[1] == 3:
        gray = _grayscale(x)
        x = ((x - gray) * s + gray).clamp_(0, 1)
    return x


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
