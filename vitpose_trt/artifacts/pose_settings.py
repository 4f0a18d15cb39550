"""The pose task's part of an artifact's metadata: which tensors, sizes, keypoints and test-time pipeline.

Pure data: a frozen dataclass written into ONNX metadata and engine sidecars by export, read by
`PoseEstimator`. The network architecture (`spec`) rides along for FLOP counts in benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ..keypoints import KeypointSet, keypoint_set_by_name
from ..specs import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    INPUT_HEIGHT,
    INPUT_NAME,
    INPUT_WIDTH,
    OUTPUT_NAME,
    PIXEL_MEAN_RGB,
    PIXEL_STD_RGB,
    ModelSpec,
)
from .io import DYNAMIC, ModelIO, TensorSpec

#: Colour channels of a crop.
CHANNELS = 3


@dataclass(frozen=True)
class PoseSettings:
    """How a pose model is fed and read.

    input_name / output_name: the crops tensor (N, 3, H, W) float and the heatmaps tensor (N, K, h, w).
    input_size / heatmap_size: (H, W) and (h, w) in pixels. mean / std: per RGB channel on 0-255 values.
    warp, flip_test, flip_shift, decode, blur_kernel: the keypoint set's official test-time pipeline (see
    `keypoints.py`). spec: the ViTPose architecture, None when the file does not say (a foreign ONNX).
    """

    keypoint_set: str
    num_keypoints: int
    warp: str
    flip_test: bool
    flip_shift: bool
    decode: str
    blur_kernel: int
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    input_size: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH)
    heatmap_size: tuple[int, int] = (HEATMAP_HEIGHT, HEATMAP_WIDTH)
    mean: tuple[float, float, float] = PIXEL_MEAN_RGB
    std: tuple[float, float, float] = PIXEL_STD_RGB
    spec: ModelSpec | None = None

    @classmethod
    def official(cls, keypoints: KeypointSet, spec: ModelSpec | None = None) -> PoseSettings:
        """The settings the keypoint set was trained and evaluated with, for the architecture `spec`."""
        return cls(keypoint_set=keypoints.name, num_keypoints=keypoints.num_keypoints, warp=keypoints.warp,
                   flip_test=keypoints.flip_test, flip_shift=keypoints.flip_shift, decode=keypoints.decode,
                   blur_kernel=keypoints.blur_kernel, spec=spec)

    @property
    def keypoints(self) -> KeypointSet:
        return keypoint_set_by_name(self.keypoint_set)

    def model_io(self, dtype: str = "float32") -> ModelIO:
        """The pose network's IO: crops (N, 3, H, W) in, heatmaps (N, K, h, w) out, both `dtype`, N dynamic."""
        crops = TensorSpec(self.input_name, dtype, (DYNAMIC, CHANNELS, *self.input_size))
        heatmaps = TensorSpec(self.output_name, dtype, (DYNAMIC, self.num_keypoints, *self.heatmap_size))
        return ModelIO((crops,), (heatmaps,))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["input_size"], data["heatmap_size"] = list(self.input_size), list(self.heatmap_size)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> PoseSettings:
        """Parse `to_dict`'s form; raises KeyError / TypeError / ValueError for a malformed one."""
        values = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        for key in ("input_size", "heatmap_size", "mean", "std"):
            if key in values:
                values[key] = tuple(values[key])
        if values.get("spec") is not None:
            values["spec"] = ModelSpec(**values["spec"])
        for key in ("num_keypoints", "blur_kernel"):
            values[key] = int(values[key])
        return cls(**values)
