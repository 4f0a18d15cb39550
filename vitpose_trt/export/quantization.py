"""fp32 ONNX -> explicit Q/DQ int8 or fp8 ONNX with ModelOpt's ONNX post-training quantization.

ModelOpt places Q/DQ pairs on MatMul / Conv inputs, calibrates activation scales on real crops
(entropy for int8, max for fp8) and casts the unquantized rest to fp16 (its default, what TensorRT
runs fastest). By default the attention@V MatMul of every block stays unquantized: softmax outputs
get a fixed 1/127 int8 scale, which costs ViT-B ~4x in relative L2 (FIELD.md: 0.12 -> 0.02-0.03).
LayerNormalization stays fp32 for the same reason as in `fp16`. ModelOpt rewrites its input file in
place, so it only ever sees a private temporary copy.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from ..artifacts.metadata import TENSORRT_TARGET
from ..artifacts.onnx_metadata import with_metadata
from ..dependencies import import_optional
from ..errors import ConfigError, ExportError
from ..specs import INPUT_HEIGHT, INPUT_NAME, INPUT_WIDTH
from .files import (
    EXTERNAL_DATA_THRESHOLD_BYTES,
    converted_metadata,
    copy_onnx,
    external_data_path,
    save_onnx_atomic,
    source_metadata,
)
from .fp16 import DEFAULT_FP32_OPS
from .modelopt_logs import set_modelopt_log_level
from .recipes import MODELOPT_QUANTIZER

QUANTIZED_PRECISIONS = ("int8", "fp8")
#: Precision of the unquantized ops: ModelOpt's default, and what TensorRT runs fastest. (With "fp32"
#: the graphs measured far worse in ONNX Runtime on this AVX2 CPU: tiny-model rel-L2 0.05 int8, 0.46 fp8,
#: ViTPose-S int8 0.12, because its fused u8 x s8 kernels saturate with full-range int8 weights. The int8
#: for ONNX Runtime on CPUs is `cpu_quantization`'s, with 7-bit weights.)
HIGH_PRECISION_DTYPE = "fp16"
#: Crops per calibration step. ModelOpt holds one step's activations of every calibrated tensor in
#: memory, so one crop per step keeps the peak lowest (measured, ViT-B int8 with 64 crops, whole
#: vitpose-export process: 6.9 GiB at 1 crop per step vs 8.4 GiB at 8, same time).
CALIBRATION_BATCH = 1
#: Ops that only forward a tensor between the Softmax and the attention@V MatMul.
_PASS_THROUGH_OPS = {"Cast", "Identity", "QuantizeLinear", "DequantizeLinear"}


def attention_value_matmuls(model) -> list[str]:
    """Names of the MatMul nodes that multiply softmax probabilities by V (one per transformer block).

    Found by structure, not by name: a MatMul whose first input comes from a Softmax, possibly through
    Cast / Identity / Q / DQ nodes. `model` is an `onnx.ModelProto`.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    names = []
    for node in model.graph.node:
        if node.op_type != "MatMul":
            continue
        source = producers.get(node.input[0])
        while source is not None and source.op_type in _PASS_THROUGH_OPS:
            source = producers.get(source.input[0])
        if source is not None and source.op_type == "Softmax":
            names.append(node.name)
    return names


def int32_dequantize_nodes(model) -> list[str]:
    """DequantizeLinear nodes reading int32 tensors (quantized biases), which TensorRT cannot build."""
    onnx = import_optional("onnx", "ONNX export")
    int32 = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT32}
    return [n.name for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int32]


def _calibration_shapes(count: int) -> str:
    """ModelOpt's shape spec of one calibration step: `CALIBRATION_BATCH` crops (fewer if fewer exist)."""
    return f"{INPUT_NAME}:{min(count, CALIBRATION_BATCH)}x3x{INPUT_HEIGHT}x{INPUT_WIDTH}"


def quantized_onnx_from_fp32(
    src: str | Path,
    dst: str | Path,
    mode: str,
    calibration_crops: np.ndarray,
    quantize_attention_values: bool = False,
    keep_fp32_ops: tuple[str, ...] = DEFAULT_FP32_OPS,
    verbose: bool = False,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES,
) -> Path:
    """Quantize the fp32 ONNX `src` (written by `export_onnx`) to `mode` ("int8" | "fp8") at `dst`; return `dst`.

    calibration_crops: (N, 3, 256, 192) float32 real crops. Inputs and outputs stay fp32. `src` is never
    modified. Raises `ExportError` when ModelOpt fails or its result contains int32-bias DequantizeLinear
    nodes. The result's metadata is `src`'s with precision `mode`. Written atomically.
    """
    if mode not in QUANTIZED_PRECISIONS:
        raise ConfigError(f"unknown quantization mode {mode!r}; valid: {', '.join(QUANTIZED_PRECISIONS)}")
    onnx = import_optional("onnx", "ONNX export")
    metadata = source_metadata(src)
    graph = onnx.load(str(src), load_external_data=False)
    excluded = [] if quantize_attention_values else attention_value_matmuls(graph)
    proto = _modelopt_quantized(src, mode, calibration_crops, excluded, keep_fp32_ops, verbose)
    bad = int32_dequantize_nodes(proto)
    if bad:
        raise ExportError(f"{mode} graph has int32-bias DequantizeLinear nodes TensorRT cannot build: {bad[:3]}")
    recipe = {"quantizer": MODELOPT_QUANTIZER, "calibration_crops": len(calibration_crops),
              "unquantized_nodes": excluded, "fp32_op_types": keep_fp32_ops,
              "high_precision_dtype": HIGH_PRECISION_DTYPE}
    with_metadata(proto, converted_metadata(metadata, proto, mode, TENSORRT_TARGET, **recipe))
    return save_onnx_atomic(proto, dst, external_data_threshold)


def _modelopt_quantized(src, mode: str, crops: np.ndarray, excluded: list[str], keep_fp32_ops, verbose: bool):
    """Run ModelOpt on a private copy of `src` (it rewrites its input in place); return the loaded result.

    Unless `verbose`, ModelOpt's and ONNX Runtime's console output (a banner and a progress bar per
    calibration step) is swallowed; one progress bar over the calibration crops replaces it.
    """
    onnx = import_optional("onnx", "ONNX export")
    modelopt_quantization = import_optional("modelopt.onnx.quantization", "int8/fp8 quantization (ModelOpt)")
    set_modelopt_log_level(verbose)
    with tempfile.TemporaryDirectory(prefix=f"vitpose-{mode}-") as tmp:
        work = copy_onnx(src, tmp)
        out = Path(tmp) / f"quantized-{mode}.onnx"
        reader, bar = _calibration_reader(work, crops, f"{mode} calibration")
        quiet = contextlib.nullcontext() if verbose else swallowed_console()
        try:
            with bar, quiet:
                modelopt_quantization.quantize(
                    str(work),
                    quantize_mode=mode,
                    calibration_data_reader=reader,
                    calibration_eps=["cpu"],
                    nodes_to_exclude=[re.escape(name) + "$" for name in excluded],
                    high_precision_dtype=HIGH_PRECISION_DTYPE,
                    op_types_to_exclude_fp16=list(keep_fp32_ops),
                    use_external_data_format=external_data_path(src).exists(),
                    output_path=str(out),
                    log_level="INFO" if verbose else "WARNING",
                )
        except (ValueError, RuntimeError, KeyError, AssertionError) as exc:
            raise ExportError(f"ModelOpt could not quantize {src} to {mode}: {exc}") from exc
        return onnx.load(str(out))


def _calibration_reader(onnx_path: Path, crops: np.ndarray, description: str):
    """ModelOpt's `CalibrationDataProvider` over `crops` (`CALIBRATION_BATCH` per step) that advances a tqdm bar."""
    calib_utils = import_optional("modelopt.onnx.quantization.calib_utils", "int8/fp8 quantization (ModelOpt)")
    tqdm = import_optional("tqdm", "progress bars").tqdm
    bar = tqdm(total=len(crops), desc=description, unit="crop")

    class ProgressProvider(calib_utils.CalibrationDataProvider):
        def get_next(self):
            batch = super().get_next()
            if batch is not None:
                bar.update(len(batch[INPUT_NAME]))
            return batch

        def rewind(self):
            super().rewind()
            bar.reset()

    data = np.ascontiguousarray(crops, dtype=np.float32)
    return ProgressProvider(str(onnx_path), data, _calibration_shapes(len(crops))), bar


@contextlib.contextmanager
def swallowed_console():
    """Send stdout and stderr written inside the block to nowhere (Python-level writes only)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield
