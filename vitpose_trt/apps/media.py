"""Images, folders of images and video files as frame sources, and the rendered outputs written from them.

OpenCV does the decoding and encoding; it is imported only when a source or sink is opened. Frames are
(H, W, 3) uint8 BGR numpy arrays (OpenCV's order, which is what `PoseEstimator(color="bgr")` expects).
Outputs are written under a temporary name beside the target and moved into place when complete
(`atomic_files.staged_path`), so a crashed run never leaves a half-written file under the real name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_files import staged_path
from ..dependencies import import_optional
from ..errors import InputError
from .image_files import UnreadableImage, image_from_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
#: Rendered videos are .mp4: H.264 when PyAV is installed, else MPEG-4 Part 2 (`video_writers`).
VIDEO_OUTPUT_SUFFIX = ".mp4"
#: Frame rate written when a video file does not report one.
FALLBACK_FPS = 30.0
#: COCO file names: an optional "COCO_val2014_"-style prefix, then the image id in digits.
_COCO_FILE_NAME = re.compile(r"^(?:[A-Za-z0-9]+_[A-Za-z0-9]+_)?(\d+)$")
#: on_unreadable(name, reason): told about an input that cannot be read, which is then left out.
OnUnreadable = Callable[[str, str], None]


@dataclass(frozen=True)
class Frame:
    """One image to run: `image` (H, W, 3) uint8 BGR; `image_id` its COCO id (see `MediaSource`);
    `name` its file name (images) or "<video stem>/<frame index>" (video frames); `index` its place in
    its source (0-based frame index, or place in the sorted folder / annotation file); `time` seconds
    from the start of a video (None for images)."""

    image: np.ndarray
    image_id: int
    name: str
    index: int | None = None
    time: float | None = None

    def image_in(self, color: str):
        """`image` in the channel order a model takes: as it is for "bgr", a channel-reversed view (no copy) for
        "rgb"."""
        return self.image[:, :, ::-1] if color == "rgb" else self.image


def _cv2(feature: str = "image and video input"):
    return import_optional("cv2", feature)


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR pixels of the image file at `path`; raise `InputError` (an `UnreadableImage`
    saying why) when it cannot be read."""
    return image_from_file(path)


def image_frames(entries: list[tuple[Path, int, str]], done: Container[str] = (),
                 on_unreadable: OnUnreadable | None = None) -> Iterator[Frame]:
    """Frames of image files: `entries` are (path, image id, name); `Frame.index` is the place in `entries`.

    Names in `done` are passed over without reading. A file that cannot be read raises `UnreadableImage`,
    or, given `on_unreadable`, is reported to it as (name, reason) and left out.
    """
    for index, (path, image_id, name) in enumerate(entries):
        if name in done:
            continue
        try:
            image = read_image(path)
        except UnreadableImage as exc:
            if on_unreadable is None:
                raise
            on_unreadable(name, exc.reason)
            continue
        yield Frame(image, image_id, name, index)


def image_id_from_file_name(name: str) -> int | None:
    """The COCO image id in a COCO-style file name ("000000397133.jpg", "COCO_val2014_000000397133.jpg"), or None."""
    match = _COCO_FILE_NAME.match(Path(name).stem)
    return int(match.group(1)) if match else None


def image_ids_for(names: list[str]) -> list[int]:
    """Image ids for files, all different: the COCO id of each COCO-style name (the first file with it), and
    for the other files the numbers after the largest of those, in the given order (0, 1, ... when no name
    is COCO-style). One stray file in a COCO folder so leaves every other file its id, which --detections
    and annotation files match by."""
    from_names = [image_id_from_file_name(n) for n in names]
    ids, taken = [], set()
    next_id = max((i + 1 for i in from_names if i is not None), default=0)
    for image_id in from_names:
        if image_id is None or image_id in taken:
            image_id, next_id = next_id, next_id + 1
        taken.add(image_id)
        ids.append(image_id)
    return ids


class MediaSource:
    """Frames of an image file, a folder of images (sorted by name, not recursive) or a video file.

    Image ids: COCO ids from COCO-style file names, the other files numbered after them (`image_ids_for`);
    a video's frames get their 0-based frame index. `fps` is the video's frame rate (None for images);
    `len()` is the frame count (as the container reports it for videos).
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
            # Everything named like an image, files or not: a folder or pipe called x.jpg is reported, not hidden.
            self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
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
        return self.frames()

    def frames(self, done: Container[str] = (), on_unreadable: OnUnreadable | None = None) -> Iterator[Frame]:
        """The frames in order, leaving out those whose `Frame.name` is in `done` (a resumed run).

        An unreadable image raises `InputError`, or is reported to `on_unreadable(name, reason)` and left
        out. A video that stops decoding before the frame count its container reports (truncated, damaged)
        ends there; `on_unreadable` is told (file name, from which frame on) when given.
        """
        if self.is_video:
            return _video_frames(self.path, self._count, done, on_unreadable)
        return image_frames([(p, i, p.name) for p, i in zip(self.files, self._ids)], done, on_unreadable)


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


def _video_frames(path: Path, reported: int, done: Container[str] = (),
                  on_unreadable: OnUnreadable | None = None) -> Iterator[Frame]:
    """Decoded frames, `time` from the container's time stamps; frames named in `done` are grabbed, not
    decoded into arrays. Stopping short of `reported` frames is told to `on_unreadable` when given."""
    cv2 = _cv2()
    capture = cv2.VideoCapture(str(path))
    try:
        index = 0
        while True:
            name = f"{path.stem}/{index}"
            ok, image = (capture.grab(), None) if name in done else capture.read()
            if not ok:
                break
            if image is not None:
                yield Frame(image, index, name, index, capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            index += 1
    finally:
        capture.release()
    if index < reported and on_unreadable is not None:
        on_unreadable(path.name, f"no frame decodes from frame {index} on (the file reports {reported} frames): "
                      "truncated or damaged; the run ends there")


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

    Frames are (height, width, 3) uint8 BGR at `fps`. codec: "auto" (H.264 through PyAV when it is installed
    and the sides are even, else mp4v through OpenCV), "h264" or "mp4v" (`video_writers`). The file appears
    at `path` when the block ends without an exception or by `KeyboardInterrupt` (a stopped run: the frames
    written so far, finalised so the file plays); any other exception leaves nothing. `frames_written`
    counts the frames; `codec` is the one used, once open.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str = "auto"):
        self.path, self.fps, self.size, self.codec = path, fps, size, codec
        self.frames_written = 0
        self._stage = staged_path(path)

    def __enter__(self) -> VideoOutput:
        from .video_writers import video_writer

        temp = self._stage.__enter__()
        try:
            self._writer = video_writer(temp, self.fps, self.size, self.codec)
        except BaseException as error:
            self._stage.__exit__(type(error), error, None)
            raise
        self.codec = self._writer.codec
        return self

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1::-1] != self.size:
            raise InputError(f"video frames must all be {self.size[0]}x{self.size[1]}, "
                             f"got {frame.shape[1]}x{frame.shape[0]}")
        self._writer.write(frame)
        self.frames_written += 1

    def __exit__(self, kind, error, trace) -> None:
        try:
            self._writer.close()  # finalises the container: the file plays from here on
        finally:
            if kind is not None and issubclass(kind, KeyboardInterrupt):
                kind = error = trace = None
            self._stage.__exit__(kind, error, trace)
