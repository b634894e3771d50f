"""Image headers: the size and depth of an image, read before decoding it."""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: size in pixels, channels and bytes per sample."""

    width: int
    height: int
    channels: int
    sample_bytes: int
    format: str
    mode: str = ""  # Pillow's mode, where Pillow read the header ("F": floating point)

    @property
    def decoded_bytes(self):
        """Bytes of the image decoded at its full depth (the decoder's largest buffer)."""
        return self.width * self.height * self.channels * self.sample_bytes


_PIL_CHANNELS = {
    "1": (1, 1),
    "L": (1, 1),
    "P": (1, 1),
    "I;16": (1, 2),
    "I;16B": (1, 2),
    "I;16L": (1, 2),
    "I;16N": (1, 2),
    "I": (1, 4),
    "F": (1, 4),
    "LA": (2, 1),
    "RGB": (3, 1),
    "RGBA": (4, 1),
    "CMYK": (4, 1),
    "RGBX": (4, 1),
    "YCbCr": (3, 1),
    "LAB": (3, 1),
    "HSV": (3, 1),
}


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def _png_header(head):
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or len(head) < 26:
        return None
    width, height = struct.unpack(">II", head[16:24])
    depth, color = head[24], head[25]
    return ImageHeader(width, height, _PNG_CHANNELS.get(color, 4), 2 if depth == 16 else 1, "PNG")


def _bmp_header(head):
    if head[:2] != b"BM" or len(head) < 30:
        return None
    width, height = struct.unpack("<ii", head[18:26])
    bits = struct.unpack("<H", head[28:30])[0]
    return ImageHeader(abs(width), abs(height), max(1, bits // 8), 1, "BMP")


def read_image_header(path):
    """The size of an image from its header, reading only its first bytes.

    PNG and BMP headers are read directly, other formats with Pillow.
    Returns ``None`` when the format is not known (OpenCV may still read it).
    """
    with open(path, "rb") as f:
        head = f.read(32)
    header = _png_header(head) or _bmp_header(head)
    if header is not None:
        return header

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own (bomb, corrupt EXIF): we decide
            with Image.open(path) as image:
                width, height, mode, fmt = image.width, image.height, image.mode, image.format
    except Image.DecompressionBombError as exc:
        # Pillow refuses above ~179 Mpixel without saying the sides: its message has the count
        counts = [int(n) for n in re.findall(r"\d+", str(exc))]
        side = int((counts[0] if counts else 2**31) ** 0.5) + 1
        return ImageHeader(side, side, 4, 2, "unknown")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    channels, sample_bytes = _PIL_CHANNELS.get(mode, (4, 2))
    return ImageHeader(int(width), int(height), channels, sample_bytes, str(fmt), str(mode))
