"""The detector task's part of an artifact's metadata: output layout, tensors, preprocessing, classes, thresholds.

Pure data, written by `vitpose-export --detector` (or recognised on the fly from a foreign ONNX by
`detect.layouts`) and read by `PersonDetector`. Layouts:

- "yolo": one output (N, 4 + C, A): per anchor cx, cy, w, h in input px, then C class scores; no NMS in
  the graph (Ultralytics YOLOv8 / YOLO11 exports).
- "yolo-end2end": one output (N, M, 6): x1, y1, x2, y2 in input px, score, class (YOLO26, exports with NMS).
- "detr": logits (N, Q, C) (sigmoid gives scores) and boxes (N, Q, 4) cx, cy, w, h normalised to the input
  (RT-DETR, RT-DETRv2, D-FINE as exported from transformers); no NMS.

Preprocessing: "letterbox" (scale to fit, centred padding of `pad_value`; Ultralytics' LetterBox) or
"stretch" (resize to the input size; transformers' RT-DETR processor); then RGB, x / `divisor` in float32 (as
both tools do), no mean/std.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

#: Output layouts, and the outputs each reads (their roles, in `output_names` order).
LAYOUTS = {"yolo": ("predictions",), "yolo-end2end": ("detections",), "detr": ("logits", "boxes")}
RESIZES = ("letterbox", "stretch")
#: Pixel value of letterbox padding (Ultralytics' grey).
LETTERBOX_PAD = 114
#: 8-bit levels to [0, 1].
LEVELS_DIVISOR = 255.0


@dataclass(frozen=True)
class DetectorSettings:
    """How a detector is fed and read.

    layout: one of `LAYOUTS`. input_name: the (N, 3, H, W) float input; output_names: the layout's outputs
    in `LAYOUTS` order. input_size: (H, W). num_classes / class_names: the classes the model scores
    (names may be empty). classes: the class indices kept by default (persons). resize, pad_value, divisor:
    preprocessing (see the module docstring). score_threshold: detections scoring above it are kept;
    iou_threshold: NMS overlap above which the lower-scoring box goes (None: no NMS, the model did it).
    max_detections: most boxes per image. source: who exported it ("ultralytics", "transformers", "").
    """

    layout: str
    input_name: str
    output_names: tuple[str, ...]
    input_size: tuple[int, int]
    num_classes: int
    classes: tuple[int, ...]
    resize: str
    score_threshold: float
    iou_threshold: float | None
    max_detections: int
    class_names: tuple[str, ...] = ()
    pad_value: int = LETTERBOX_PAD
    divisor: float = LEVELS_DIVISOR
    source: str = ""

    def __post_init__(self) -> None:
        from ..errors import EngineLoadError

        if self.layout not in LAYOUTS or len(self.output_names) != len(LAYOUTS[self.layout]):
            raise EngineLoadError(f"unknown detector layout {self.layout!r} with outputs {self.output_names}; "
                                  f"layouts: {', '.join(LAYOUTS)}")
        if self.resize not in RESIZES:
            raise EngineLoadError(f"unknown detector resize {self.resize!r}; valid: {', '.join(RESIZES)}")
        for key in ("output_names", "classes", "class_names", "input_size"):
            object.__setattr__(self, key, tuple(getattr(self, key)))

    def output(self, role: str) -> str:
        """The tensor name of the layout's output `role` ("predictions", "logits", ...)."""
        return self.output_names[LAYOUTS[self.layout].index(role)]

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("output_names", "classes", "class_names", "input_size"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> DetectorSettings:
        """Parse `to_dict`'s form; raises KeyError / TypeError / ValueError for a malformed one."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
