"""Encoded JPEG / PNG bytes -> (H, W, 3) uint8 pixels, with the image size read from the header first.

A request's bytes are untrusted: the header says how large the image is before anything is decoded, so
an image over the pixel limit (a few KB of PNG can claim gigapixels) is refused without allocating it.
OpenCV decodes (imported when the first image arrives).
"""

from __future__ import annotations

import struct

import numpy as np

from ..dependencies import import_optional
from ..errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG: signature, IHDR length and type, then width and height (big-endian uint32).
_PNG_SIZE_OFFSET = len(PNG_SIGNATURE) + 8
JPEG_START = b"\xff\xd8"
#: JPEG start-of-frame markers (they carry the size): C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers without a length field: TEM, RST0-7, SOI, EOI.
_JPEG_BARE_MARKERS = frozenset({0x01, *range(0xD0, 0xDA)})
_MARKER_PREFIX = 0xFF
#: The longest side OpenCV's decoders take: libpng's default user limit, and libjpeg's JPEG_MAX_DIMENSION.
DECODER_SIDE_LIMITS = {"png": 1_000_000, "jpeg": 65_500}


def encoded_image_size(data: bytes) -> tuple[str, int, int]:
    """("png" | "jpeg", width, height) from the header of encoded image bytes; `InputError` when the bytes
    are not a PNG or JPEG or their header is cut short."""
    if data.startswith(PNG_SIGNATURE):
        if len(data) < _PNG_SIZE_OFFSET + 8:
            raise InputError(f"image bytes are a truncated PNG ({len(data)} bytes)")
        width, height = struct.unpack_from(">II", data, _PNG_SIZE_OFFSET)
        return "png", width, height
    if data.startswith(JPEG_START):
        width, height = _jpeg_size(data)
        return "jpeg", width, height
    start = data[:8].hex(" ") if data else "nothing"
    raise InputError(f"image bytes are neither JPEG nor PNG (they start with {start})")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first start-of-frame segment of a JPEG."""
    offset = len(JPEG_START)
    while offset + 4 <= len(data):
        if data[offset] != _MARKER_PREFIX:
            raise InputError(f"image bytes are a corrupt JPEG (no marker at byte {offset})")
        marker = data[offset + 1]
        if marker == _MARKER_PREFIX:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_BARE_MARKERS:
            offset += 2
            continue
        if marker in _JPEG_FRAME_MARKERS:
            if offset + 9 > len(data):
                break
            height, width = struct.unpack_from(">HH", data, offset + 5)
            return width, height
        (length,) = struct.unpack_from(">H", data, offset + 2)
        offset += 2 + length
    raise InputError(f"image bytes are a truncated JPEG ({len(data)} bytes, no frame header)")


def decoded_image(data: bytes, max_pixels: int, color: str = "bgr") -> np.ndarray:
    """(H, W, 3) uint8 pixels in `color` order ("bgr" or "rgb") of JPEG or PNG `data`.

    Raises `InputError` for bytes that are not a JPEG/PNG, an image over `max_pixels` (by its header,
    before decoding), or bytes OpenCV cannot decode.
    """
    kind, width, height = encoded_image_size(data)
    if width * height > max_pixels:
        raise InputError(f"image is {width}x{height} = {width * height} pixels, over this server's limit of "
                         f"{max_pixels}")
    if width == 0 or height == 0:
        raise InputError(f"image header says {width}x{height}: an empty image")
    if max(width, height) > DECODER_SIDE_LIMITS[kind]:
        raise InputError(f"{kind} image of {width}x{height}: a side over the {DECODER_SIDE_LIMITS[kind]} px the "
                         "decoder takes; send raw pixels or a smaller image")
    cv2 = import_optional("cv2", "decoding JPEG/PNG requests")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"image bytes could not be decoded ({kind} header {width}x{height}, {len(data)} bytes): "
                         "the file is corrupt or truncated")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if color == "rgb" else image
