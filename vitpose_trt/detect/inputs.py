"""Detector inputs from images: each image fitted into the input (`fitting.Fit`) and scaled, on the CPU or GPU.

CPU: the exporter's own resize (`fitting.fitted_pixels`), RGB, x / divisor in float32, so detections equal
the exporting tool's on the same ONNX. GPU: one warp of the whole frame by the crop kernel (`CudaCrops`)
through `Fit.warp`, straight into the detector's input buffer (fp32 or fp16), padding grey outside the image;
it differs from the CPU resize by resampling only.
"""

from __future__ import annotations

import numpy as np

from ..artifacts.detector_settings import DetectorSettings
from ..preprocess import checked_color
from .fitting import Fit, fitted_pixels

_CHANNELS = 3
#: Channel order that turns an image of each color order into RGB.
_TO_RGB = {"bgr": [2, 1, 0], "rgb": [0, 1, 2]}


class CpuDetectorInputs:
    """`stage.write(image, fit, batch, row)` fills batch[row] (3, H, W) float32 from a numpy image."""

    def __init__(self, color: str, settings: DetectorSettings):
        self.color = checked_color(color)
        self.settings = settings
        self._batch = np.empty((0, _CHANNELS, *settings.input_size), np.float32)

    def batch(self, rows: int, out=None) -> np.ndarray:
        """`rows` rows to write into: `out`'s when given (a backend's buffer), else the stage's reused one."""
        if out is not None:
            return out[:rows]
        if len(self._batch) < rows:
            self._batch = np.empty((rows, _CHANNELS, *self.settings.input_size), np.float32)
        return self._batch[:rows]

    def write(self, image: np.ndarray, fit: Fit, batch: np.ndarray, row: int) -> None:
        s = self.settings
        pixels = fitted_pixels(image, fit, s.input_size, s.resize, s.pad_value)
        planes = pixels.transpose(2, 0, 1)[_TO_RGB[self.color]]
        np.divide(planes, np.float32(s.divisor), out=batch[row], dtype=np.float32)


class CudaDetectorInputs:
    """The GPU twin of `CpuDetectorInputs`: images as numpy (uploaded once) or GPU arrays."""

    def __init__(self, color: str, settings: DetectorSettings):
        from ..runtime.cuda_crops import CudaCrops

        divisor = (settings.divisor,) * _CHANNELS
        self._warp = CudaCrops(color, mean=(0.0,) * _CHANNELS, std=divisor, size=settings.input_size,
                               border=settings.pad_value)

    def batch(self, rows: int, out=None):
        return self._warp.batch(rows, out)

    def write(self, image, fit: Fit, batch, row: int) -> None:
        self._warp.write(image, fit.warp[None], batch, row)


def detector_input_stage(device: str, color: str, settings: DetectorSettings):
    """The input stage for a backend on `device` ("cpu" or "cuda")."""
    return (CpuDetectorInputs if device == "cpu" else CudaDetectorInputs)(color, settings)
