"""Uploaded files -> decoded images. Anything that is not a small, decodable image is refused with one
sentence (a ``UserError``), never a traceback; nothing uploaded is written to disk.

The conversion to each run's input format (grey or RGB, its size, its normalisation) is the library's
(``xaicnn.analysis.compare_attributions.image_to_tensor``, the same as ``xaicnn attribute --image``).
"""
from __future__ import annotations

import io
from pathlib import PurePath

from xaicnn.errors import UserError

MAX_UPLOAD_MB = 5  # st.file_uploader's limit; `make demo` also passes --server.maxUploadSize 5
IMAGE_TYPES = ("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff")
MAX_PIXELS = 40_000_000  # a decoded image larger than this is a decompression bomb, not a photo


def read_upload(name: str, data: bytes, *, invert: bool = False):
    """Decode upload ``name`` (its bytes ``data``) to a uint8 RGB array [H, W, 3].

    ``invert`` flips dark and light (255 - x): the embedded datasets are drawn light on dark, a photo of a
    digit on paper is dark on light. Raises ``UserError`` for a non-image name, a file over
    ``MAX_UPLOAD_MB`` or bytes that do not decode.
    """
    import numpy as np
    from PIL import Image

    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix not in IMAGE_TYPES:
        raise UserError(f"{name} is not an image file; upload one of {', '.join(IMAGE_TYPES)}.")
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise UserError(f"{name} is {len(data) / 2**20:.1f} MB, over the {MAX_UPLOAD_MB} MB upload limit; "
                        f"upload a smaller image.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UserError(f"{name} is {image.width}x{image.height} pixels, too large to decode; "
                                f"upload a smaller image.")
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except UserError:
        raise
    except Image.DecompressionBombError:  # PIL refuses to open images far over its own pixel limit
        raise UserError(f"{name} is far over {MAX_PIXELS:,} pixels, too large to decode; upload a smaller "
                        f"image.") from None
    except Exception:  # PIL raises many types on garbage (UnidentifiedImageError, OSError, SyntaxError, ...)
        raise UserError(f"{name} could not be read as an image; upload a PNG or JPEG file.") from None
    return 255 - array if invert else array
