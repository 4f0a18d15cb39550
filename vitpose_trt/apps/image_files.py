"""Reading one image file, and saying precisely why one cannot be read.

`image_from_file` tells apart what a user can fix: not a regular file (a folder or a pipe named like an
image, a dangling link), no permission, an empty file, a JPEG or PNG cut short (found from the file's
structure before decoding: older OpenCV builds decode a cut JPEG with a grey bottom and only a warning,
and libpng prints its own message), and data OpenCV cannot decode. Each raises `UnreadableImage`, an
`InputError` whose `reason` is the text after the path; OpenCV's own log lines are kept quiet meanwhile.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import InputError

_JPEG_START = b"\xff\xd8"
_JPEG_START_OF_SCAN = b"\xff\xda"
_JPEG_END = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The IEND chunk's type and CRC (the same in every PNG): the last chunk of a complete file.
_PNG_END = b"IEND\xaeB`\x82"
#: OpenCV's log level is global: decodes take turns while it is lowered.
_LOG_LOCK = threading.Lock()


class UnreadableImage(InputError):
    """An image file that cannot be read or decoded; `path` and `reason` (e.g. "empty file (0 bytes)")."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def _file_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise UnreadableImage(path, "a folder, not an image file")
    if not path.is_file():
        raise UnreadableImage(path, "not a regular file" if path.exists() else "no such file (or a dangling link)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImage(path, f"cannot read it ({exc.strerror or exc})") from None
    if not data:
        raise UnreadableImage(path, "empty file (0 bytes)")
    return data


def _truncation(data: bytes) -> str | None:
    """Why JPEG or PNG `data` is incomplete, or None (complete, or another format).

    JPEG: markers cannot occur inside entropy-coded data (0xFF is stuffed) and a thumbnail's end marker
    lies before the main image's scans, so a complete file has an end-of-image marker after its last
    start-of-scan. PNG: a complete file holds the IEND chunk.
    """
    if data.startswith(_JPEG_START) and data.rfind(_JPEG_END) < data.rfind(_JPEG_START_OF_SCAN):
        return "truncated JPEG (no end-of-image marker after the image data)"
    if data.startswith(_PNG_SIGNATURE) and _PNG_END not in data:
        return "truncated PNG (no IEND chunk)"
    return None


def _decoded(data: bytes):
    cv2 = import_optional("cv2", "image input")
    logging = cv2.utils.logging
    with _LOG_LOCK:  # the caller reports a failure in one line: no OpenCV log lines about it as well
        level = logging.getLogLevel()
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
        try:
            return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        finally:
            logging.setLogLevel(level)


def image_from_file(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR pixels of the image file at `path`; `UnreadableImage` saying why when it can't be."""
    path = Path(path)
    data = _file_bytes(path)
    truncation = _truncation(data)
    if truncation is not None:
        raise UnreadableImage(path, truncation)
    image = _decoded(data)
    if image is None:
        raise UnreadableImage(path, "not a readable image (not an image, or a damaged one)")
    return image
