"""fp32 ONNX -> strongly typed fp16 ONNX with ModelOpt AutoCast, inputs and outputs kept fp32.

AutoCast casts every node to fp16 except (a) the op types in `keep_fp32_ops` and (b) nodes whose
inputs or outputs exceed `FP16_DATA_MAX` in magnitude on real calibration crops (AutoCast's own range
rule and default limit; the ranges are measured by `activation_ranges` in bounded memory and handed
to AutoCast as excluded nodes). LayerNormalization stays fp32 by default: its variance is a sum of
squares of the residual stream, which overflows or loses precision in fp16 (a common "TensorRT fp16
output differs from PyTorch" report). Softmax goes to fp16: its output lies in [0, 1] and TensorRT's
fused attention accumulates in fp32, so casting it out would only break attention fusion.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..artifacts.onnx_metadata import with_metadata
from ..dependencies import import_optional
from ..errors import ExportError
from .activation_ranges import nodes_out_of_range, tensor_absmax
from .files import (
    EXTERNAL_DATA_THRESHOLD_BYTES,
    converted_metadata,
    save_onnx_atomic,
    source_metadata,
)
from .modelopt_logs import set_modelopt_log_level
from .recipes import FP16_CONVERTER

#: AutoCast's default `data_max`: fp16's spacing is 0.5 at 512, too coarse for activations beyond it.
FP16_DATA_MAX = 512.0
#: Calibration crops the CLI uses for fp16 by default: only activation ranges are needed.
DEFAULT_FP16_CALIB_COUNT = 16
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

    calibration_crops: (N, 3, 256, 192) float32 real crops for the range analysis. `src` is only read.
    verbose: show AutoCast's per-node log. The result's metadata is `src`'s with precision "fp16".
    Written atomically.
    """
    autocast = import_optional("modelopt.onnx.autocast", "fp16 conversion (ModelOpt AutoCast)")
    set_modelopt_log_level(verbose)
    metadata = source_metadata(src)
    out_of_range = nodes_out_of_range(src, tensor_absmax(src, calibration_crops), FP16_DATA_MAX)
    try:
        proto = autocast.convert_to_mixed_precision(
            onnx_path=str(src),
            low_precision_type="fp16",
            nodes_to_exclude=[re.escape(node) + "$" for node in out_of_range],
            op_types_to_exclude=list(keep_fp32_ops),
            data_max=np.inf,  # ranges were measured above; inf skips AutoCast's memory-hungry reference run
            keep_io_types=True,
            providers=["cpu"],
        )
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ExportError(f"ModelOpt AutoCast could not convert {src} to fp16: {exc}") from exc
    recipe = {"converter": FP16_CONVERTER, "fp32_op_types": keep_fp32_ops,
              "calibration_crops": len(calibration_crops), "fp32_out_of_range_nodes": out_of_range,
              "fp16_data_max": FP16_DATA_MAX}
    with_metadata(proto, converted_metadata(metadata, proto, "fp16", **recipe))
    return save_onnx_atomic(proto, dst, external_data_threshold)
