"""fp32 ONNX -> strongly typed fp16 ONNX with ModelOpt AutoCast, inputs and outputs kept fp32.

AutoCast casts every node to fp16 except (a) the op types in `keep_fp32_ops` and (b) nodes whose
inputs or outputs leave fp16's comfortable range (|x| > AutoCast's `data_max`) on a reference run of
real calibration crops. LayerNormalization stays fp32 by default: its variance is a sum of squares of
the residual stream, which overflows or loses precision in fp16 (a common "TensorRT fp16 output differs
from PyTorch" report). Softmax goes to fp16: its output lies in [0, 1] and TensorRT's fused attention
accumulates in fp32, so casting it out would only break attention fusion.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import ExportError
from ..specs import INPUT_NAME
from .files import EXTERNAL_DATA_THRESHOLD_BYTES, metadata_from_onnx, save_onnx_atomic, with_metadata, with_precision

#: ModelOpt's ONNX loggers (AutoCast's has its own level).
MODELOPT_LOGGERS = ("modelopt.onnx", "modelopt.onnx.autocast")
#: Crops per AutoCast reference run (one .npz file each); one crop per run triples the time.
REFERENCE_BATCH = 8
#: Calibration crops the CLI uses for fp16 by default: AutoCast only needs activation ranges.
DEFAULT_FP16_CALIB_COUNT = 16
#: Op types kept in fp32 by default (see the module docstring).
DEFAULT_FP32_OPS = ("LayerNormalization",)


def _calibration_batches(crops: np.ndarray, folder: Path) -> Path:
    """Write crops as `REFERENCE_BATCH`-sized .npz files (AutoCast runs each file as one batch); return `folder`."""
    folder.mkdir()
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    for index, start in enumerate(range(0, len(crops), REFERENCE_BATCH)):
        np.savez(folder / f"batch{index:05d}.npz", **{INPUT_NAME: crops[start : start + REFERENCE_BATCH]})
    return folder


def fp16_onnx_from_fp32(
    src: str | Path,
    dst: str | Path,
    calibration_crops: np.ndarray,
    keep_fp32_ops: tuple[str, ...] = DEFAULT_FP32_OPS,
    verbose: bool = False,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES,
) -> Path:
    """Convert the fp32 ONNX `src` (written by `export_onnx`) to fp16 at `dst`; return `dst`.

    calibration_crops: (N, 3, 256, 192) float32 real crops for AutoCast's range analysis. `src` is only
    read. verbose: show AutoCast's per-node log. The result's metadata is `src`'s with precision
    "fp16". Written atomically.
    """
    autocast = import_optional("modelopt.onnx.autocast", "fp16 conversion (ModelOpt AutoCast)")
    for name in MODELOPT_LOGGERS:  # AutoCast logs every node decision at INFO.
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    metadata = metadata_from_onnx(src)
    with tempfile.TemporaryDirectory(prefix="vitpose-fp16-") as tmp:
        calib_path = _calibration_batches(calibration_crops, Path(tmp) / "calibration")
        try:
            proto = autocast.convert_to_mixed_precision(
                onnx_path=str(src),
                low_precision_type="fp16",
                op_types_to_exclude=list(keep_fp32_ops),
                keep_io_types=True,
                calibration_data=str(calib_path),
                providers=["cpu"],
            )
        except (ValueError, RuntimeError, KeyError) as exc:
            raise ExportError(f"ModelOpt AutoCast could not convert {src} to fp16: {exc}") from exc
    extra = {"converter": "modelopt.onnx.autocast", "fp32_op_types": list(keep_fp32_ops),
             "calibration_crops": len(calibration_crops)}
    with_metadata(proto, with_precision(metadata, "fp16", **extra))
    return save_onnx_atomic(proto, dst, external_data_threshold)
