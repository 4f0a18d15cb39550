"""Importing a person detector's ONNX: checked, its input size fixed, its layout recognised, our metadata added.

A foreign detector (Ultralytics' YOLOv8/YOLO11/YOLO26 export, a transformers RT-DETR/D-FINE export) comes
in as it is; `DIR/<stem>.onnx` goes out with the same graph and a "detector" `ArtifactMetadata` (layout,
tensors, preprocessing, classes, default thresholds: `detect.layouts`), which the runtime, the fp16
conversion and the engine builder read. A symbolic image size (Ultralytics' dynamic=True) is fixed to the
size given, else to the exporter's own ("imgsz" metadata); the batch stays dynamic when it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artifacts.io import io_of_onnxruntime_session, with_output_shapes
from ..artifacts.metadata import DETECTOR_TASK, ArtifactMetadata
from ..artifacts.onnx_metadata import (
    ONNX_SUFFIX,
    metadata_from_props,
    props_of,
    with_metadata,
)
from ..artifacts.provenance import Provenance
from ..dependencies import import_optional
from ..detect.layouts import detector_settings_for
from ..errors import ConfigError, EngineLoadError
from .files import EXTERNAL_DATA_THRESHOLD_BYTES, default_opset, save_onnx_atomic

#: Provenance "exporter" of imported files: the tool that made them is whatever the graph says.
IMPORTED = "imported"
_IMAGE_RANK = 4


def imported_detector(src: str | Path, output_dir: str | Path, *, layout: str | None = None, classes=None,
                      input_size: tuple[int, int] | None = None,
                      external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES) -> tuple[Path, ArtifactMetadata]:
    """Write `output_dir/<stem>.onnx`: the detector ONNX `src` with detector metadata. Returns (path, metadata).

    layout / classes: as `PersonDetector`'s (None: recognised / the "person" class). input_size: (H, W) for an
    ONNX whose image size is symbolic. Raises `ConfigError` (no such file, the output would overwrite `src`,
    no input size to fix, no person class), `EngineLoadError` (not a detector of an accepted layout).
    """
    onnx = import_optional("onnx", "importing a detector ONNX")
    src, output_dir = Path(src), Path(output_dir)
    if not src.is_file() or src.suffix.lower() != ONNX_SUFFIX:
        raise ConfigError(f"--detector {src}: no such .onnx file")
    dst = output_dir / src.name
    if dst.resolve() == src.resolve():
        raise ConfigError(f"importing {src} into its own folder would overwrite it; choose another --output")
    try:
        model = onnx.load(str(src))
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError... for files that are not ONNX
        raise EngineLoadError(f"{src} is not a readable ONNX model: {exc}") from exc
    props = props_of(model)
    previous = metadata_from_props(props, str(src))
    if previous is not None and previous.task != DETECTOR_TASK:
        raise ConfigError(f"{src} is a {previous.task} model exported by vitpose-export, not a detector")
    _fix_image_size(model, input_size or _exporter_size(props), src)
    io = _probed_io(model, src)
    settings = detector_settings_for(io, props, layout=layout, classes=classes, source=src.name)
    provenance = Provenance(exporter=f"{IMPORTED} ({settings.source or 'unknown exporter'})", opset=default_opset(model))
    metadata = ArtifactMetadata(task=DETECTOR_TASK, model=src.stem, detector=settings, provenance=provenance)
    with_metadata(model, metadata)
    return save_onnx_atomic(model, dst, external_data_threshold), metadata


def _image_input(model, src: Path):
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != _IMAGE_RANK:
        raise EngineLoadError(f"{src} is not a detector: it needs one (N, 3, H, W) image input, it has "
                              f"{[i.name for i in inputs]}")
    return inputs[0]


def _fix_image_size(model, size: tuple[int, int] | None, src: Path) -> None:
    """Set the image input's H and W where they are symbolic; drop the graph's stored intermediate shapes
    (they would keep the symbols; ONNX Runtime infers them again)."""
    dims = _image_input(model, src).type.tensor_type.shape.dim
    open_dims = [d for d in dims[2:] if not d.dim_value]
    if not open_dims:
        return
    if size is None:
        raise ConfigError(f"{src} has a symbolic image size; give it with --detector-size H,W (e.g. 640,640)")
    for dim, value in zip(dims[2:], size):
        dim.Clear()
        dim.dim_value = int(value)
    del model.graph.value_info[:]


def _exporter_size(props) -> tuple[int, int] | None:
    """Ultralytics' "imgsz" metadata ("[640, 640]"), or None."""
    import ast

    try:
        size = ast.literal_eval(props.get("imgsz", "None"))  # literals only: nothing runs
    except (ValueError, SyntaxError):
        return None
    return (int(size[0]), int(size[1])) if isinstance(size, list | tuple) and len(size) == 2 else None


def _probed_io(model, src: Path):
    """The graph's IO with concrete output sizes, from ONNX Runtime and one run on a zero image."""
    ort = import_optional("onnxruntime", "importing a detector ONNX")
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        io = io_of_onnxruntime_session(session)
        feeds = {t.name: np.zeros((1, *t.item_shape), dtype=t.dtype) for t in io.inputs}
        return with_output_shapes(io, dict(zip(io.output_names, session.run(None, feeds))))
    except (EngineLoadError, ConfigError):
        raise
    except Exception as exc:  # ONNX Runtime's own exceptions derive from Exception only
        raise EngineLoadError(f"ONNX Runtime cannot run {src}: {exc}") from exc
