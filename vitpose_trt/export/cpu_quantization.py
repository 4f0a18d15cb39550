"""fp32 ONNX -> int8 ONNX for ONNX Runtime on CPUs, with ONNX Runtime's dynamic quantization.

The TensorRT int8 file (`quantization.py`, ModelOpt) keeps its unquantized parts in fp16, which ONNX
Runtime's CPU provider runs slower than fp32. This flavour keeps them fp32 and quantizes the way ONNX
Runtime's CPU kernels run fastest: every MatMul with a weight (qkv, proj, fc1, fc2: ~90% of ViTPose's
MACs) gets int8 weights, symmetric per output channel, and its activation is quantized per tensor at run
time (`DynamicQuantizeLinear`, which ONNX Runtime fuses with the MatMul and its bias into one
`DynamicQuantizeMatMul`). The activation x activation MatMuls of attention (QK^T, attention@V), the
patch-embedding Conv and the head stay fp32. No calibration is needed: activation ranges are each
call's own.

Why 7-bit weights (`reduce_range`): on x86 CPUs without VNNI (AVX2 only) ONNX Runtime's u8 x s8 kernels
saturate their 16-bit intermediate sums with full-range int8 weights (measured on ViTPose-S with the
static recipe that preceded this one: heatmap rel-L2 0.18 instead of 0.03); with VNNI the 7-bit range
costs little (ViT-B: 0.012 vs 0.009).

Against the static Q/DQ recipe it replaced, on ViT-B: faster (2.56x vs 2.25x fp32 ONNX Runtime on an
AVX-512 VNNI CPU) and more accurate (rel-L2 0.012 vs 0.032); numbers in benchmarks/cpu_pipeline. The
price: TensorRT cannot build `MatMulInteger` / `DynamicQuantizeLinear`, so these files are for ONNX
Runtime only (the engine stage refuses them by their metadata target).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

from ..artifacts.metadata import ONNXRUNTIME_CPU_TARGET
from ..artifacts.onnx_metadata import with_metadata
from ..dependencies import import_optional
from ..errors import ExportError
from .files import (
    EXTERNAL_DATA_THRESHOLD_BYTES,
    converted_metadata,
    external_data_path,
    save_onnx_atomic,
    source_metadata,
)
from .recipes import CPU_INT8_QUANTIZER

#: What `target` the metadata of these files records.
CPU_TARGET = ONNXRUNTIME_CPU_TARGET
#: Op types whose weights are quantized (ONNX Runtime's dynamic int8 MatMul kernels).
QUANTIZED_OP_TYPES = ("MatMul",)
#: Recorded as the metadata's "quantizer".
QUANTIZER = CPU_INT8_QUANTIZER


def cpu_int8_onnx_from_fp32(
    src: str | Path,
    dst: str | Path,
    verbose: bool = False,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES,
) -> Path:
    """Quantize the fp32 ONNX `src` (written by `export_onnx`) to dynamic int8 for ONNX Runtime CPUs at `dst`.

    Returns `dst`. Inputs, outputs and every unquantized op stay fp32; `src` is never modified. Unless
    `verbose`, ONNX Runtime's quantizer warnings are not shown. Raises `ExportError` when ONNX Runtime fails.
    The result's metadata is `src`'s with precision "int8" and target `CPU_TARGET`. Written atomically.
    """
    onnx = import_optional("onnx", "ONNX export")
    quantization = import_optional("onnxruntime.quantization", "int8 quantization for ONNX Runtime")
    src = Path(src)
    metadata = source_metadata(src)
    unquantized = activation_matmuls(onnx.load(str(src), load_external_data=False))
    with tempfile.TemporaryDirectory(prefix="vitpose-int8-cpu-") as tmp:
        out = Path(tmp) / "quantized-int8-cpu.onnx"
        quiet = contextlib.nullcontext() if verbose else _quantizer_warnings_hidden()
        try:
            with quiet:
                quantization.quantize_dynamic(
                    src, out, op_types_to_quantize=list(QUANTIZED_OP_TYPES), per_channel=True, reduce_range=True,
                    weight_type=quantization.QuantType.QInt8, nodes_to_exclude=unquantized,
                    use_external_data_format=external_data_path(src).exists())
        except Exception as exc:  # ONNX Runtime's and onnx's own errors derive from Exception only
            raise ExportError(f"ONNX Runtime could not quantize {src.name} to int8: {exc}") from None
        proto = onnx.load(str(out))
    recipe = {"quantizer": QUANTIZER, "calibration_crops": 0, "unquantized_nodes": unquantized,
              "quantized_op_types": QUANTIZED_OP_TYPES,
              "activations": "uint8 asymmetric per tensor, quantized at run time (dynamic)",
              "weights": "int8 symmetric per output channel, 7-bit range (reduce_range)", "high_precision_dtype": "fp32"}
    with_metadata(proto, converted_metadata(metadata, proto, "int8", CPU_TARGET, **recipe))
    return save_onnx_atomic(proto, dst, external_data_threshold)


def activation_matmuls(model) -> list[str]:
    """Names of the MatMul nodes of `model` (an `onnx.ModelProto`) whose inputs are both activations
    (attention's QK^T and attention@V): no initializer or Constant feeds either input."""
    constants = {t.name for t in model.graph.initializer}
    constants.update(out for node in model.graph.node if node.op_type == "Constant" for out in node.output)
    return [node.name for node in model.graph.node
            if node.op_type == "MatMul" and not any(name in constants for name in node.input)]


@contextlib.contextmanager
def _quantizer_warnings_hidden():
    """Drop log records up to WARNING while ONNX Runtime's quantizer runs (it logs advice to the root logger).

    Filtering records, not redirecting stderr: the root logger may create its console handler during
    the call, and a handler bound to a temporary redirect would be left writing to a closed file.
    """
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)
