"""Video encoders behind `media.VideoOutput`: H.264 through PyAV (FFmpeg's libx264) when PyAV is installed,
else MPEG-4 Part 2 (`mp4v`) through OpenCV, which every OpenCV build can write (pip's OpenCV has no H.264
encoder). Frames are (H, W, 3) uint8 BGR; both write an .mp4 that plays once `close()` has run.
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError

OPENCV_FOURCC = "mp4v"
H264_CODEC = "libx264"
#: libx264's 4:2:0 pixel format needs even sides; odd-sized videos are written with OpenCV.
H264_PIXEL_FORMAT = "yuv420p"
#: Constant rate factor of the H.264 encoder: visually lossless for rendered overlays, small files.
H264_CRF = "20"
#: Frame-rate precision of the H.264 stream's time base (frames/s as a fraction with this denominator).
RATE_DENOMINATOR = 1000


def h264_available(size: tuple[int, int]) -> bool:
    """Whether H.264 can be written for frames of `size` (width, height): PyAV is installed and both are even."""
    return importlib.util.find_spec("av") is not None and size[0] % 2 == 0 and size[1] % 2 == 0


def video_writer(path: Path, fps: float, size: tuple[int, int], codec: str = "auto"):
    """An open writer of `path`: codec "h264" (PyAV), "mp4v" (OpenCV) or "auto" (H.264 when `h264_available`).
    Raises `ConfigError` when the encoder cannot open the file."""
    if codec not in ("auto", "h264", "mp4v"):
        raise ConfigError(f"unknown video codec {codec!r}; valid: auto, h264, mp4v")
    if codec == "h264" or (codec == "auto" and h264_available(size)):
        return PyAvWriter(path, fps, size)
    return OpenCvWriter(path, fps, size)


class OpenCvWriter:
    codec = "mp4v"

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        cv2 = import_optional("cv2", "writing videos")
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*OPENCV_FOURCC), fps, size)
        if not self._writer.isOpened():
            raise ConfigError(f"{path}: OpenCV cannot write {OPENCV_FOURCC} video here")

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)

    def close(self) -> None:
        self._writer.release()  # writes the container's index: the file plays from here on


class PyAvWriter:
    codec = "h264"

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        av = import_optional("av", "H.264 video output")
        width, height = size
        if width % 2 or height % 2:
            raise ConfigError(f"H.264 ({H264_PIXEL_FORMAT}) needs even frame sides, got {width}x{height}")
        try:
            self._container = av.open(str(path), mode="w", format="mp4")
        except av.FFmpegError as exc:
            raise ConfigError(f"{path}: PyAV cannot write here ({exc})") from None
        self._stream = self._container.add_stream(H264_CODEC, rate=Fraction(round(fps * RATE_DENOMINATOR),
                                                                            RATE_DENOMINATOR))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = H264_PIXEL_FORMAT
        self._stream.options = {"crf": H264_CRF}
        self._frame_type = av.VideoFrame

    def write(self, frame: np.ndarray) -> None:
        picture = self._frame_type.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        for packet in self._stream.encode(picture):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():  # flush the frames the encoder still holds
            self._container.mux(packet)
        self._container.close()
