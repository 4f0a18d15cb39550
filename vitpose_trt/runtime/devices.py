"""What a task's stages need per backend device: the crop stage and the array module.

"cpu": `CpuCrops` (cv2) and numpy. "cuda": `cuda_crops.CudaCrops` and CuPy, so a GPU backend plugs in
without touching the tasks.

The crop-stage interface (both devices): `CropStage(color, mean, std, size=(h, w))` builds one.
`stage.batch(rows, out=None)` gives `rows` rows to write into (`out`'s, else the stage's reused buffer);
`stage.write(image, warps, batch, row, mirror_row=None)` writes the normalised crops of image (H, W, 3)
uint8 (numpy, or a device array for cuda) through warps (N, 2, 3) float64 image px -> crop px matrices
(`geometry.warps_from_boxes`) into batch[row:row + N] (float32, or float16 on cuda; (rows, 3, h, w)) and,
unless mirror_row is None, the crops mirrored horizontally into batch[mirror_row:mirror_row + N].
`stage(image, warps, flip, out=None)` does both for one image: rows 0..N-1 the crops, N..2N-1 (flip
only) the mirrored copies.
"""

from __future__ import annotations

import numpy as np

from ..artifacts.pose_settings import PoseSettings
from ..dependencies import import_optional
from ..errors import ConfigError
from .backends.base import DEVICES


def _checked_device(device: str) -> str:
    if device not in DEVICES:
        raise ConfigError(f"unknown backend device {device!r}; valid: {', '.join(DEVICES)}")
    return device


def crop_stage_for(device: str, color: str, settings: PoseSettings):
    """The crop stage for `device` ("cpu" or "cuda"): crops of the pose input size, normalised with the
    artifact's mean and std."""
    if _checked_device(device) == "cpu":
        from .cpu_crops import CpuCrops

        return CpuCrops(color=color, mean=settings.mean, std=settings.std, size=settings.input_size)
    from .cuda_crops import CudaCrops

    return CudaCrops(color=color, mean=settings.mean, std=settings.std, size=settings.input_size)


def array_module_for(device: str):
    """numpy for "cpu", cupy for "cuda": the `xp` that decode runs with."""
    if _checked_device(device) == "cpu":
        return np
    return import_optional("cupy", "GPU decoding")


def host_array(array) -> np.ndarray:
    """`array` as a numpy array: CuPy arrays are copied to the host, numpy arrays pass through."""
    if isinstance(array, np.ndarray):
        return array
    return array.get()
