"""Images, folders of images and video files as frame sources, and the rendered outputs written from them.

OpenCV does the decoding and encoding; it is imported only when a source or sink is opened. Frames are
(H, W, 3) uint8 BGR numpy arrays (OpenCV's order, which is what `PoseEstimator(color="bgr")` expects).
Outputs are written under a temporary name beside the target and moved into place when complete
(`atomic_files.staged_path`), so a crashed run never leaves a half-written file under the real name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_files import staged_path
from ..dependencies import import_optional
from ..errors import ConfigError, InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
#: Rendered videos are written as MPEG-4 Part 2 in an .mp4 container (encodable by every OpenCV build).
VIDEO_FOURCC = "mp4v"
VIDEO_OUTPUT_SUFFIX = ".mp4"
#: Frame rate written when a video file does not report one.
FALLBACK_FPS = 30.0
#: COCO file names: an optional "COCO_val2014_"-style prefix, then the image id in digits.
_COCO_FILE_NAME = re.compile(r"^(?:[A-Za-z0-9]+_[A-Za-z0-9]+_)?(\d+)$")


@dataclass(frozen=True)
class Frame:
    """One image to run: `image` (H, W, 3) uint8 BGR; `image_id` its COCO id (see `MediaSource`);
    `name` its file name (images) or "<video stem>/<frame index>" (video frames)."""

    image: np.ndarray
    image_id: int
    name: str


def _cv2(feature: str = "image and video input"):
    return import_optional("cv2", feature)


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR pixels of the image file at `path`; raise `InputError` when unreadable."""
    cv2 = _cv2()
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return image


def image_id_from_file_name(name: str) -> int | None:
    """The COCO image id in a COCO-style file name ("000000397133.jpg", "COCO_val2014_000000397133.jpg"), or None."""
    match = _COCO_FILE_NAME.match(Path(name).stem)
    return int(match.group(1)) if match else None


def image_ids_for(names: list[str]) -> list[int]:
    """Image ids for files: their COCO ids when every name is COCO-style and the ids are unique, else 0..n-1
    in the given order (mixing the two schemes could give two files one id)."""
    ids = [image_id_from_file_name(n) for n in names]
    if None not in ids and len(set(ids)) == len(ids):
        return ids
    return list(range(len(names)))


class MediaSource:
    """Frames of an image file, a folder of images (sorted by name, not recursive) or a video file.

    Image ids: COCO ids from COCO-style file names (see `image_ids_for`), else the position in the
    sorted folder; a video's frames get their 0-based frame index. `fps` is the video's frame rate
    (None for images); `len()` is the frame count (as the container reports it for videos).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file or folder")
        self.fps: float | None = None
        self.is_video = self.path.is_file() and self.path.suffix.lower() in VIDEO_SUFFIXES
        if self.is_video:
            self._count, self.fps = _video_properties(self.path)
            return
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise InputError(f"{self.path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        elif self.path.suffix.lower() in IMAGE_SUFFIXES:
            self.files = [self.path]
        else:
            raise InputError(f"{self.path}: not an image ({', '.join(IMAGE_SUFFIXES)}), a video "
                             f"({', '.join(VIDEO_SUFFIXES)}) or a folder")
        self._ids = image_ids_for([p.name for p in self.files])
        self._count = len(self.files)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Frame]:
        if self.is_video:
            yield from _video_frames(self.path)
            return
        for path, image_id in zip(self.files, self._ids):
            yield Frame(read_image(path), image_id, path.name)


def _video_properties(path: Path) -> tuple[int, float]:
    """(frame count, frames/s) as the container reports them; raise `InputError` when OpenCV can't open it."""
    cv2 = _cv2()
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path}: OpenCV cannot open this video")
        count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or FALLBACK_FPS
    finally:
        capture.release()
    return count, fps


def _video_frames(path: Path) -> Iterator[Frame]:
    cv2 = _cv2()
    capture = cv2.VideoCapture(str(path))
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield Frame(image, index, f"{path.stem}/{index}")
            index += 1
    finally:
        capture.release()


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode (H, W, 3) uint8 BGR `image` by `path`'s suffix and write it atomically."""
    cv2 = _cv2("writing images")
    try:
        ok, encoded = cv2.imencode(path.suffix, image)
    except cv2.error:  # OpenCV raises for suffixes it has no encoder for, returns False for other failures
        ok = False
    if not ok:
        raise InputError(f"{path}: OpenCV cannot encode an image with suffix {path.suffix!r}")
    with staged_path(path) as temp:
        temp.write_bytes(encoded.tobytes())


class VideoOutput:
    """A video file being written frame by frame; use as a context manager.

    Frames are (height, width, 3) uint8 BGR at `fps`; the file appears at `path` only when the block
    ends without an exception.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        self.path, self.fps, self.size = path, fps, size
        self._stage = staged_path(path)

    def __enter__(self) -> VideoOutput:
        cv2 = _cv2("writing videos")
        temp = self._stage.__enter__()
        width, height = self.size
        self._writer = cv2.VideoWriter(str(temp), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), self.fps, (width, height))
        if not self._writer.isOpened():
            error = ConfigError(f"{self.path}: OpenCV cannot write {VIDEO_FOURCC} video here")
            self._stage.__exit__(type(error), error, None)
            raise error
        return self

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1::-1] != self.size:
            raise InputError(f"video frames must all be {self.size[0]}x{self.size[1]}, "
                             f"got {frame.shape[1]}x{frame.shape[0]}")
        self._writer.write(frame)

    def __exit__(self, *exc_info) -> None:
        self._writer.release()
        self._stage.__exit__(*exc_info)
