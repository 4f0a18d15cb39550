"""fp32 ONNX -> int8 Q/DQ ONNX for ONNX Runtime on CPUs, with ONNX Runtime's static quantization.

The TensorRT int8 file (`quantization.py`, ModelOpt) keeps its unquantized parts in fp16, which ONNX
Runtime's CPU provider runs slower than fp32. This flavour keeps them fp32 and follows ONNX Runtime's
own CPU recipe: Q/DQ pairs on MatMul / Conv / ConvTranspose inputs (biases stay fp32: TensorRT
cannot build int32-bias DequantizeLinear), activations int8 symmetric (zero point 0, calibrated
min/max on real crops), weights int8 per output channel in a 7-bit range (`reduce_range`). Why 7-bit:
on x86 CPUs without VNNI (AVX2 only) ONNX Runtime's fused u8 x s8 kernels saturate their 16-bit
intermediate sums with full-range weights - measured on ViTPose-S (random weights, held-out crops):
heatmap rel-L2 0.026 with the graph run as written, 0.18 through the fused kernels, 0.029 with
7-bit weights. ModelOpt's graph with `high_precision_dtype="fp32"` hits the same saturation (0.12),
and ModelOpt has no reduce-range option. The attention@V MatMuls stay unquantized, as in the
TensorRT file. The result is a plain Q/DQ graph that TensorRT(-RTX) can build as well.

ModelOpt monkey-patches ONNX Runtime's calibrators for the rest of any process that ran it (after
which `quantize_static` fails), so the quantization always runs in a fresh interpreter
(a plain `python -c` subprocess running `_main`: multiprocessing's spawn would re-run an unguarded
calling script).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import ExportError
from ..specs import INPUT_NAME
from .files import (
    EXTERNAL_DATA_THRESHOLD_BYTES,
    copy_onnx,
    external_data_path,
    metadata_from_onnx,
    save_onnx_atomic,
    with_metadata,
    with_precision,
)
from .quantization import attention_value_matmuls, int32_dequantize_nodes, swallowed_console

#: What `target` the metadata of these files records (the TensorRT files record "tensorrt").
CPU_TARGET = "onnxruntime-cpu"
#: Op types that get Q/DQ inputs (ONNX Runtime's int8 kernels; TensorRT builds the same set).
QUANTIZED_OP_TYPES = ("MatMul", "Conv", "ConvTranspose")
_QUANTIZER = "onnxruntime.quantization.quantize_static"
#: Files the parent leaves for the quantization process in their shared temporary folder (and it for the parent).
_CROPS_FILE, _EXCLUDED_FILE, _ERROR_FILE = "calibration.npy", "excluded.json", "error.txt"


def cpu_int8_onnx_from_fp32(
    src: str | Path,
    dst: str | Path,
    calibration_crops: np.ndarray,
    quantize_attention_values: bool = False,
    verbose: bool = False,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES,
) -> Path:
    """Quantize the fp32 ONNX `src` (written by `export_onnx`) to int8 for ONNX Runtime CPUs at `dst`; return `dst`.

    calibration_crops: (N, 3, 256, 192) float32 real crops, one per calibration step. Inputs, outputs and
    every unquantized op stay fp32. `src` is never modified. Raises `ExportError` when ONNX Runtime fails.
    The result's metadata is `src`'s with precision "int8" and target `CPU_TARGET`. Written atomically.
    """
    onnx = import_optional("onnx", "ONNX export")
    import_optional("onnxruntime.quantization", "int8 quantization for ONNX Runtime")
    metadata = metadata_from_onnx(src)
    excluded = [] if quantize_attention_values else attention_value_matmuls(onnx.load(str(src),
                                                                                      load_external_data=False))
    with tempfile.TemporaryDirectory(prefix="vitpose-int8-cpu-") as tmp:
        out = Path(tmp) / "quantized-int8-cpu.onnx"
        work = copy_onnx(src, tmp)
        crops = np.ascontiguousarray(calibration_crops, dtype=np.float32)
        _quantized_in_fresh_interpreter(work, out, crops, excluded, verbose, Path(tmp))
        proto = onnx.load(str(out))
    bad = int32_dequantize_nodes(proto)
    if bad:
        raise ExportError(f"int8 graph has int32-bias DequantizeLinear nodes TensorRT cannot build: {bad[:3]}")
    extra = {"quantizer": _QUANTIZER, "target": CPU_TARGET, "calibration_crops": len(crops),
             "unquantized_nodes": excluded, "quantized_op_types": list(QUANTIZED_OP_TYPES),
             "activations": "int8 symmetric per tensor, min/max calibration",
             "weights": "int8 symmetric per channel, 7-bit range (reduce_range)", "high_precision_dtype": "fp32"}
    with_metadata(proto, with_precision(metadata, proto, "int8", **extra))
    return save_onnx_atomic(proto, dst, external_data_threshold)


def _quantized_in_fresh_interpreter(src: Path, dst: Path, crops: np.ndarray, excluded: list[str], verbose: bool,
                                    tmp: Path) -> None:
    """Run `_quantized_in_this_process` in a new Python process; its error message comes back as ExportError."""
    np.save(tmp / _CROPS_FILE, crops)
    (tmp / _EXCLUDED_FILE).write_text(json.dumps(excluded))
    entry = f"from {__name__} import _main; raise SystemExit(_main())"
    command = [sys.executable, "-c", entry, str(src), str(dst), str(tmp), *(["--verbose"] if verbose else [])]
    if subprocess.run(command, check=False).returncode != 0:
        error = tmp / _ERROR_FILE
        detail = error.read_text() if error.is_file() else "the quantization process failed (see above)"
        raise ExportError(detail)


def _quantized_in_this_process(src: Path, dst: Path, crops: np.ndarray, excluded: list[str], verbose: bool) -> None:
    """Run `quantize_static` on `src` -> `dst` (in the fresh interpreter). Unless `verbose`, ONNX Runtime's
    console warnings are swallowed; a progress bar over the calibration crops replaces them."""
    quantization = import_optional("onnxruntime.quantization", "int8 quantization for ONNX Runtime")
    reader, bar = _calibration_reader(quantization.CalibrationDataReader, crops)
    quiet = contextlib.nullcontext() if verbose else swallowed_console()
    # (Min/max calibration keeps only ReduceMin/ReduceMax scalars per step: memory stays small.)
    options = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False}
    try:
        with bar, quiet:
            quantization.quantize_static(
                str(src), str(dst), reader, quant_format=quantization.QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OP_TYPES), per_channel=True, reduce_range=True,
                activation_type=quantization.QuantType.QInt8, weight_type=quantization.QuantType.QInt8,
                nodes_to_exclude=excluded, use_external_data_format=external_data_path(src).exists(),
                calibrate_method=quantization.CalibrationMethod.MinMax, extra_options=options)
    except Exception as exc:  # ONNX Runtime's own errors (InvalidArgument, Fail...) derive from Exception only
        raise ExportError(f"ONNX Runtime could not quantize {src.name} to int8: {exc}") from None


def _calibration_reader(reader_base, crops: np.ndarray):
    """An ONNX Runtime `CalibrationDataReader` giving one crop per step, and the tqdm bar it advances."""
    tqdm = import_optional("tqdm", "progress bars").tqdm
    bar = tqdm(total=len(crops), desc="int8 (CPU) calibration", unit="crop")

    class CropReader(reader_base):
        def __init__(self):
            self.index = 0

        def get_next(self):
            if self.index >= len(crops):
                return None
            self.index += 1
            bar.update(1)
            return {INPUT_NAME: crops[self.index - 1 : self.index]}

        def rewind(self):
            self.index = 0
            bar.reset()

    return CropReader(), bar


def _main(argv: list[str] | None = None) -> int:
    """Entry of the quantization process: SRC DST FOLDER [--verbose] (FOLDER holds crops and exclusions)."""
    parser = argparse.ArgumentParser(description="int8 CPU quantization worker of vitpose-export")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    crops = np.load(args.folder / _CROPS_FILE)
    excluded = json.loads((args.folder / _EXCLUDED_FILE).read_text())
    try:
        _quantized_in_this_process(args.src, args.dst, crops, excluded, args.verbose)
    except ExportError as exc:
        (args.folder / _ERROR_FILE).write_text(str(exc))
        return 1
    return 0
