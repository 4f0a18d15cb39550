"""Which detector output layout an ONNX has, recognised from its tensors (and its exporter's metadata).

`detector_settings_for(io, props)` reads the model's `ModelIO` and, when present, the metadata the
exporter wrote into the ONNX (Ultralytics: "names", "imgsz", "author"), and returns `DetectorSettings`
with the preprocessing and the default thresholds of the tool that made it, so detections match what users
get from that tool: Ultralytics' predict (score 0.25, NMS IoU 0.7, 300 boxes) or transformers'
`post_process_object_detection` (score 0.5). Anything else is refused with the layouts that are accepted.
"""

from __future__ import annotations

import ast
import numbers
from collections.abc import Iterable, Mapping

from ..artifacts.detector_settings import LAYOUTS, DetectorSettings
from ..artifacts.io import ModelIO, TensorSpec
from ..errors import ConfigError, EngineLoadError
from .coco_classes import COCO_CLASSES, PERSON

#: Layout -> (resize, score threshold, NMS IoU threshold or None) of the tool that exports it.
LAYOUT_DEFAULTS = {"yolo": ("letterbox", 0.25, 0.7), "yolo-end2end": ("letterbox", 0.25, None),
                   "detr": ("stretch", 0.5, None)}
#: Most boxes per image (Ultralytics' max_det; DETR exports have 300 queries).
DEFAULT_MAX_DETECTIONS = 300
#: Box coordinates per detection, and the width of an end-to-end row (box, score, class).
BOX_VALUES, END2END_VALUES = 4, 6
#: What the refusal lists.
ACCEPTED = ("YOLO raw (one output (N, 4+C, A): cx, cy, w, h + C class scores; Ultralytics YOLOv8/YOLO11), "
            "YOLO end-to-end (one output (N, M, 6): x1, y1, x2, y2, score, class; YOLO26 or NMS exports), "
            "DETR (logits (N, Q, C) and boxes (N, Q, 4) normalised cx, cy, w, h; RT-DETR, D-FINE from transformers)")
ULTRALYTICS = "ultralytics"


def detector_settings_for(io: ModelIO, props: Mapping[str, str], *, layout: str | None = None,
                          classes=None, source: str = "the model") -> DetectorSettings:
    """The `DetectorSettings` of a detector with tensors `io` and ONNX metadata `props`.

    layout: force one of `LAYOUTS` instead of recognising it. classes: the class indices to keep (default:
    the class named "person"). Raises `EngineLoadError` for tensors of no accepted layout, `ConfigError`
    when no class is named "person" and `classes` is not given.
    """
    image = _image_input(io, source)
    found, outputs = _layout_and_outputs(io, layout, source)
    num_classes = _class_count(found, [io.output(name) for name in outputs])
    names = _class_names(props, num_classes)
    resize, score, iou = LAYOUT_DEFAULTS[found]
    return DetectorSettings(
        layout=found, input_name=image.name, output_names=outputs, input_size=image.item_shape[1:],
        num_classes=num_classes, classes=kept_classes(classes, names, num_classes, source), resize=resize,
        score_threshold=score, iou_threshold=iou, max_detections=DEFAULT_MAX_DETECTIONS, class_names=names,
        source=ULTRALYTICS if _is_ultralytics(props) else "",
    )


def _image_input(io: ModelIO, source: str) -> TensorSpec:
    if len(io.inputs) != 1 or len(io.inputs[0].shape) != 4 or io.inputs[0].shape[1] != 3:
        raise EngineLoadError(f"{source} is not a detector of an accepted kind: it needs one (N, 3, H, W) image "
                              f"input, it has {', '.join(t.describe() for t in io.inputs)}. Accepted: {ACCEPTED}")
    return io.inputs[0]


def _layout_and_outputs(io: ModelIO, layout: str | None, source: str) -> tuple[str, tuple[str, ...]]:
    """(layout, output names in `LAYOUTS[layout]` order), recognised or checked against `layout`."""
    outputs = [t for t in io.outputs if len(t.shape) == 3]
    found = None
    if len(outputs) == 1 and outputs[0].shape[2] == END2END_VALUES:
        found = "yolo-end2end", (outputs[0].name,)
    elif len(outputs) == 1 and outputs[0].shape[1] > BOX_VALUES:
        found = "yolo", (outputs[0].name,)
    elif len(outputs) == 2 and outputs[0].shape[1] == outputs[1].shape[1]:
        pair = _logits_and_boxes(*outputs) or _logits_and_boxes(*reversed(outputs))
        found = None if pair is None else ("detr", pair)
    if found is None or (layout is not None and layout != found[0]):
        what = "" if layout is None else f" (asked for layout {layout!r}, which needs {LAYOUTS.get(layout)})"
        raise EngineLoadError(f"{source}: outputs {', '.join(t.describe() for t in io.outputs)} fit no accepted "
                              f"detector layout{what}. Accepted: {ACCEPTED}")
    return found


def _logits_and_boxes(logits: TensorSpec, boxes: TensorSpec) -> tuple[str, str] | None:
    """(logits name, boxes name) when `logits` can be the scores and `boxes` the (N, Q, 4) boxes (by name
    when the model scores 4 classes and both are (N, Q, 4))."""
    if boxes.shape[2] != BOX_VALUES or (logits.shape[2] == BOX_VALUES and "logit" not in logits.name):
        return None
    return logits.name, boxes.name


def _class_count(layout: str, outputs: list[TensorSpec]) -> int:
    if layout == "yolo":
        return outputs[0].shape[1] - BOX_VALUES
    if layout == "detr":
        return outputs[0].shape[2]
    return 0  # end-to-end rows carry the class index, not a score per class


def _class_names(props: Mapping[str, str], num_classes: int) -> tuple[str, ...]:
    """Class names from Ultralytics' "names" metadata, else COCO's when the model scores 80 classes."""
    text = props.get("names")
    if text:
        try:
            names = ast.literal_eval(text)  # a dict literal {0: 'person', ...}: literals only, nothing runs
            return tuple(str(names[i]) for i in sorted(names))
        except (ValueError, SyntaxError, TypeError, KeyError):
            pass
    return COCO_CLASSES if num_classes in (0, len(COCO_CLASSES)) else ()


def checked_layout(layout: str | None) -> str | None:
    """`layout` when it is None or one of `LAYOUTS`; else `ConfigError`."""
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(f"unknown detector layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    return layout


def checked_classes(classes) -> tuple[int, ...] | None:
    """`classes` (None, or a non-empty collection of class indices) as a tuple of ints; else `ConfigError`.
    Class names are refused rather than looked up: a model's names are only known once it is loaded."""
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise ConfigError(f"classes must be a list of class indices (e.g. [0]), got {classes!r}")
    kept = tuple(classes)
    if not kept or any(isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0 for c in kept):
        raise ConfigError(f"classes must be a non-empty list of class indices (integers >= 0), got {classes!r}")
    return tuple(int(c) for c in kept)


def kept_classes(classes, names: tuple[str, ...], num_classes: int, source: str) -> tuple[int, ...]:
    """`classes` checked against the model's classes, or by default the index of the class named "person";
    `ConfigError` when neither gives one."""
    kept = checked_classes(classes)
    if kept is not None:
        bound = num_classes or len(names)
        if bound and any(c >= bound for c in kept):
            raise ConfigError(f"classes={list(kept)} must be class indices in 0..{bound - 1}")
        return kept
    if PERSON in names:
        return (names.index(PERSON),)
    raise ConfigError(f"{source} scores {num_classes or 'an unknown number of'} classes and none is named "
                      f"'{PERSON}'; pass classes=[index of the person class] (--detector-classes on the CLI)")


def _is_ultralytics(props: Mapping[str, str]) -> bool:
    return "ultralytics" in props.get("author", "").lower() or ("names" in props and "imgsz" in props)
