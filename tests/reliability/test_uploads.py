"""Uploads to the app's Attributions page (issue 12, item 11): anything but a small image is refused with
its own sentence - by name, by bytes, by declared pixels, by content - before anything is decoded."""
import struct
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "apps"))  # _uploads, the module the page calls on every uploaded file
sys.path.insert(0, str(ROOT / "tests" / "app"))
from test_app import _png  # noqa: E402  (one small-PNG maker for the upload tests)


def _declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header declares ``width`` x ``height`` pixels (the IHDR rewritten, CRC fixed):
    a few bytes that would decode to gigabytes."""
    png = bytearray(_png((1, 1), "L"))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    png[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    png[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(png[ihdr - 4:ihdr + 13])))
    return bytes(png)


@pytest.mark.parametrize("name, data, message", [
    ("notes.txt", b"hello", "notes.txt is not an image file; upload one of png"),
    ("fake.png", b"this is not a png", "fake.png could not be read as an image; upload a PNG or JPEG file."),
    ("huge.png", b"\0" * (5 * 2**20 + 1), "huge.png is 5.0 MB, over the 5 MB upload limit; upload a smaller image."),
    ("wide.png", (7_000, 7_000), "wide.png is 7000x7000 pixels, too large to decode; upload a smaller image."),
    ("bomb.png", (20_000, 20_000), "bomb.png is far over 40,000,000 pixels, too large to decode; upload a smaller image."),
])
def test_anything_but_a_small_image_is_refused_with_one_sentence(name, data, message):
    from _uploads import read_upload
    from xaicnn.errors import UserError

    data = _declaring(*data) if isinstance(data, tuple) else data
    with pytest.raises(UserError) as err:
        read_upload(name, data)
    assert str(err.value) == message or (str(err.value).startswith(message) and str(err.value).count(". ") == 0)


def test_an_image_at_the_pixel_limit_is_not_refused_for_its_size():
    from _uploads import MAX_PIXELS, read_upload

    side = int(MAX_PIXELS ** 0.5)
    header = _declaring(side, side)  # declared only: decoding fails on the missing pixel data, not on the size
    from xaicnn.errors import UserError

    with pytest.raises(UserError, match="could not be read as an image"):
        read_upload("big.png", header)
