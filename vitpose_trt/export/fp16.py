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

#: ModelOpt's ONNX logger (AutoCast and the quantizer log through it).
MODELOPT_ONNX_LOGGER = "modelopt.onnx"
#: Op types kept in fp32 by default (see the module docstring).
DEFAULT_FP32_OPS = ("LayerNormalization",)


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
    # AutoCast logs every node decision at INFO on ModelOpt's ONNX logger.
    logging.getLogger(MODELOPT_ONNX_LOGGER).setLevel(logging.INFO if verbose else logging.WARNING)
    metadata = metadata_from_onnx(src)
    with tempfile.TemporaryDirectory(prefix="vitpose-fp16-") as tmp:
        # AutoCast reads reference inputs from an .npz file keyed by input name.
        calib_path = Path(tmp) / "calibration.npz"
        np.savez(calib_path, **{INPUT_NAME: np.ascontiguousarray(calibration_crops, dtype=np.float32)})
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
