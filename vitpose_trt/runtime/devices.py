"""What the estimator's stages need per backend device: the crop stage and the array module.

"cpu": `CpuCrops` (cv2) and numpy. "cuda": `cuda_crops.CudaCrops` and CuPy, so a GPU backend plugs in
without touching `PoseEstimator.__call__`.

The crop-stage interface (both devices): `CropStage(color, mean, std)` builds one; calling it as
`stage(image, warps, flip, out=None)` with image (H, W, 3) uint8 (numpy, or a device array for cuda),
warps (N, 2, 3) float64 image px -> crop px matrices from `geometry.warps_from_boxes`, flip (bool)
returns (copies * N, 3, 256, 192) float32 normalised crops on the device: rows 0..N-1 the crops,
rows N..2N-1 (flip only) the same crops mirrored horizontally. The result may live in a buffer the
stage reuses, valid until its next call.
"""

from __future__ import annotations

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError
from ..metadata import ArtifactMetadata
from .backends.base import DEVICES


def _checked_device(device: str) -> str:
    if device not in DEVICES:
        raise ConfigError(f"unknown backend device {device!r}; valid: {', '.join(DEVICES)}")
    return device


def crop_stage_for(device: str, color: str, metadata: ArtifactMetadata):
    """The crop stage for `device` ("cpu" or "cuda"), normalising with the artifact's mean and std."""
    if _checked_device(device) == "cpu":
        from .cpu_crops import CpuCrops

        return CpuCrops(color=color, mean=metadata.mean, std=metadata.std)
    from .cuda_crops import CudaCrops

    return CudaCrops(color=color, mean=metadata.mean, std=metadata.std)


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
