"""Cameras and network streams as frame sources, beside `media.MediaSource`'s files and folders.

`frame_source(spec)` picks one: an int or a string of digits is a camera index; a string with "://" is a
stream URL (rtsp://, http://, udp://, file://...); anything else is a path (`MediaSource`). Cameras and
streams are read with OpenCV; a URL OpenCV cannot open is tried with PyAV when it is installed. They have
no length (`len()` is 0: unknown) and end when a read fails (a camera unplugged, a stream broken): the
frames so far stand, and `on_unreadable` is told at which frame it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Container, Iterator
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import InputError
from .media import FALLBACK_FPS, Frame, MediaSource, OnUnreadable

#: Marks a stream URL, as opposed to a file path.
URL_MARK = "://"


def frame_source(spec: str | int | Path):
    """The frame source `spec` names: `CaptureSource` for a camera index or stream URL, else `MediaSource`."""
    if isinstance(spec, bool):
        raise InputError(f"not a frame source: {spec!r}")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not Path(spec).exists()):
        return CaptureSource(int(spec))
    if isinstance(spec, str) and URL_MARK in spec:
        return CaptureSource(spec)
    return MediaSource(spec)


def _stream_name(spec: int | str) -> str:
    """"camera0" for camera 0; the URL's last path part without suffix ("cam1" of rtsp://host/cam1.sdp)."""
    if isinstance(spec, int):
        return f"camera{spec}"
    tail = spec.split(URL_MARK, 1)[1].split("?", 1)[0].rstrip("/")
    stem = Path(tail.rsplit("/", 1)[-1]).stem
    return stem or "stream"


class CaptureSource:
    """Frames of a camera (`spec` an int index) or a stream URL, read as they come.

    `fps`: what the device or stream reports (FALLBACK_FPS when it reports nothing); `name` names the
    frames ("<name>/<index>"); `Frame.time`: the stream's time stamps when it has them, else seconds since
    the first frame. `is_video` and `is_live` are true; `len()` is 0 (unknown length).
    """

    is_video = True
    is_live = True

    def __init__(self, spec: int | str):
        self.spec, self.name = spec, _stream_name(spec)
        self.path = Path(self.name)  # what rendered outputs are named after
        self._reader = _opened(spec)
        self.fps = self._reader.fps or FALLBACK_FPS

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def describe(self) -> str:
        return f"camera {self.spec}" if isinstance(self.spec, int) else self.spec

    def frames(self, done: Container[str] = (), on_unreadable: OnUnreadable | None = None) -> Iterator[Frame]:
        """The frames until the source ends or breaks (then `on_unreadable(name, reason)` is told, when given).
        `done` is accepted for the common signature; a live source has no frames done before."""
        index, start = 0, None
        try:
            while True:
                image, stamp = self._reader.read()
                if image is None:
                    break
                now = time.monotonic()
                start = now if start is None else start
                yield Frame(image, index, f"{self.name}/{index}", index, stamp if stamp is not None else now - start)
                index += 1
        finally:
            self._reader.close()
        if on_unreadable is not None and self._reader.broken:
            on_unreadable(self.describe(), f"no frame could be read from frame {index} on (the stream ended or "
                          "broke); the run ends there")


def _opened(spec: int | str):
    """A reader of `spec`: OpenCV's, or PyAV's for a URL OpenCV cannot open (when PyAV is installed)."""
    reader = _OpenCvReader(spec)
    if reader.opened:
        return reader
    if isinstance(spec, str):
        try:
            return _PyAvReader(spec)
        except ImportError:
            pass
    what = f"camera {spec}" if isinstance(spec, int) else spec
    raise InputError(f"{what}: OpenCV cannot open it" + ("" if isinstance(spec, int) else
                     " (nor PyAV, or PyAV is not installed: pip install av)"))


class _OpenCvReader:
    def __init__(self, spec: int | str):
        self._cv2 = import_optional("cv2", "camera and stream input")
        self._capture = self._cv2.VideoCapture(spec)
        self.opened = self._capture.isOpened()
        self.fps = float(self._capture.get(self._cv2.CAP_PROP_FPS) or 0.0) if self.opened else 0.0
        self.broken = False
        self._is_camera = isinstance(spec, int)
        # A stream of a whole file (http://.../clip.mp4) reports its length; live ones report none (0 or less).
        self._reported = int(self._capture.get(self._cv2.CAP_PROP_FRAME_COUNT) or 0) if self.opened else 0
        self._read = 0

    def read(self) -> tuple[np.ndarray | None, float | None]:
        ok, image = self._capture.read()
        if not ok:
            # A camera or live stream never ends by itself; a file's stream may, at its reported length.
            self.broken = self._is_camera or self._reported <= 0 or self._read < self._reported
            return None, None
        self._read += 1
        stamp = None if self._is_camera else self._capture.get(self._cv2.CAP_PROP_POS_MSEC) / 1000.0
        return image, stamp

    def close(self) -> None:
        self._capture.release()


class _PyAvReader:
    """PyAV (FFmpeg) decoding of a stream URL; raises ImportError when PyAV is not installed, InputError when
    FFmpeg cannot open the URL either."""

    def __init__(self, url: str):
        import av

        try:
            self._container = av.open(url)
        except av.FFmpegError as exc:
            raise InputError(f"{url}: neither OpenCV nor PyAV can open it ({exc})") from None
        stream = self._container.streams.video[0]
        self.fps = float(stream.average_rate or 0.0)
        self._frames = self._container.decode(stream)
        self._error = av.FFmpegError
        self.broken = False

    def read(self) -> tuple[np.ndarray | None, float | None]:
        try:
            frame = next(self._frames)
        except StopIteration:
            return None, None
        except self._error:
            self.broken = True
            return None, None
        return frame.to_ndarray(format="bgr24"), frame.time

    def close(self) -> None:
        self._container.close()
