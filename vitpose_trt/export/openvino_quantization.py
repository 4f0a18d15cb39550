"""fp32 ONNX -> int8 OpenVINO IR with NNCF post-training quantization (`--target openvino --precision int8`).

OpenVINO reads the fp32 ONNX; NNCF (`nncf.quantize`) inserts FakeQuantize ops with scales calibrated on
real crops (the same crops as the other int8 recipes), in its transformer mode: weights int8 symmetric
per output channel, activations int8 per tensor (the "mixed" preset: asymmetric where a tensor is not
centred, e.g. after GELU), with NNCF's SmoothQuant and bias correction. OpenVINO's CPU plugin turns each
FakeQuantize + MatMul pair into an int8 MatMul and runs everything unquantized in fp32 (or bf16 when the
backend is asked for it). The result is written as an IR (`<stem>.xml` + `<stem>.bin`, weights kept
fp32 where unquantized: no fp16 compression) with the project's metadata in its runtime info.

Attention: NNCF's transformer mode quantizes QK^T and leaves attention@V (softmax probabilities x V) in
fp32; the metadata records the MatMuls left unquantized (`unquantized_matmuls`). `keep_attention_fp32`
also keeps QK^T fp32 (NNCF's ignored scope: `cpu_quantization.activation_matmuls`). Accuracy does not need
it: ViT-B (random weights, 64 calibration crops) measured heatmap rel-L2 0.0417 either way (0.0435 with
the "performance" preset's symmetric activations), so the default quantizes what NNCF quantizes.

Speed depends on the CPU: with VNNI or AMX OpenVINO runs the int8 MatMuls with its int8 brgemm kernels;
on AVX2 without VNNI it falls back to a generic int8 gemm that is no faster than fp32 (measured on this
repository's development CPU: benchmarks/cpu_pipeline/README.md).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..artifacts.metadata import OPENVINO_TARGET
from ..artifacts.openvino_metadata import weights_path_for, with_openvino_metadata
from ..atomic_files import staged_folder
from ..dependencies import import_optional
from ..errors import ExportError
from .cpu_quantization import activation_matmuls
from .files import source_metadata
from .recipes import NNCF_QUANTIZER

#: Crops per calibration step (NNCF collects statistics one sample at a time).
CALIBRATION_BATCH = 1
#: Whether QK^T is kept fp32 too (attention@V always is, in NNCF's transformer mode): not needed (see above).
DEFAULT_KEEP_ATTENTION_FP32 = False
#: The scheme as recorded in the metadata.
ACTIVATIONS = "int8 per tensor, calibrated (NNCF mixed preset: asymmetric where needed)"
WEIGHTS = "int8 symmetric per output channel"


def openvino_int8_from_fp32(src: str | Path, dst: str | Path, calibration_crops: np.ndarray,
                            keep_attention_fp32: bool = DEFAULT_KEEP_ATTENTION_FP32, verbose: bool = False) -> Path:
    """Quantize the fp32 ONNX `src` (written by `export_onnx`) to an int8 OpenVINO IR at `dst` (`.xml`).

    calibration_crops: (N, 3, 256, 192) float32 real crops. `src` is never modified. Returns `dst`; its
    weights go to `dst` with suffix `.bin`. Both are written atomically (the `.bin` first). Raises
    `ExportError` when OpenVINO or NNCF fail. The IR's metadata is `src`'s with precision "int8" and target
    "openvino". Unless `verbose`, NNCF's log lines and progress bars are not shown.
    """
    openvino = import_optional("openvino", "int8 quantization for OpenVINO")
    onnx = import_optional("onnx", "ONNX export")
    src, dst = Path(src), Path(dst)
    metadata = source_metadata(src)
    ignored = activation_matmuls(onnx.load(str(src), load_external_data=False)) if keep_attention_fp32 else []
    with _nncf_quiet(verbose):
        nncf = import_optional("nncf", "int8 quantization for OpenVINO")
        try:
            quantized = nncf.quantize(openvino.Core().read_model(str(src)), _calibration_dataset(nncf, calibration_crops),
                                      subset_size=len(calibration_crops), model_type=nncf.ModelType.TRANSFORMER,
                                      preset=nncf.QuantizationPreset.MIXED,
                                      ignored_scope=nncf.IgnoredScope(names=ignored))
        except Exception as exc:  # NNCF's own errors (nncf.errors) and OpenVINO's derive from Exception only
            raise ExportError(f"NNCF could not quantize {src.name} to int8: {exc}") from exc
    recipe = {"quantizer": NNCF_QUANTIZER, "calibration_crops": len(calibration_crops),
              "unquantized_nodes": unquantized_matmuls(quantized), "quantized_op_types": ("MatMul", "Convolution"),
              "activations": ACTIVATIONS, "weights": WEIGHTS, "high_precision_dtype": "fp32"}
    provenance = dataclasses.replace(metadata.provenance, **recipe)
    with_openvino_metadata(quantized, metadata.converted("int8", provenance, OPENVINO_TARGET))
    return save_openvino_atomic(openvino, quantized, dst)


def unquantized_matmuls(model) -> list[str]:
    """Names of the MatMuls of a quantized `openvino.Model` whose first (activation) input does not come from
    a FakeQuantize: those OpenVINO computes in floating point (attention@V in NNCF's transformer mode)."""
    return sorted(op.get_friendly_name() for op in model.get_ops() if op.get_type_name() == "MatMul"
                  and op.input(0).get_source_output().get_node().get_type_name() != "FakeQuantize")


def _calibration_dataset(nncf, crops: np.ndarray):
    """`nncf.Dataset` of `CALIBRATION_BATCH`-crop float32 batches."""
    data = np.ascontiguousarray(crops, dtype=np.float32)
    return nncf.Dataset([data[i : i + CALIBRATION_BATCH] for i in range(0, len(data), CALIBRATION_BATCH)])


def save_openvino_atomic(openvino, model, dst: Path) -> Path:
    """Write `model` (an `openvino.Model`) as the IR `dst` (`.xml`) + its `.bin`, atomically; return `dst`.

    OpenVINO names the `.bin` after the `.xml`, so both are written into a staging folder beside `dst` and
    moved into place, the weights first: a reader never finds an `.xml` without its current `.bin`.
    """
    try:
        with staged_folder(dst.parent, dst.name) as staging:
            staged = staging / dst.name
            openvino.save_model(model, str(staged), compress_to_fp16=False)
            os.replace(weights_path_for(staged), weights_path_for(dst))
            os.replace(staged, dst)
    except (OSError, RuntimeError) as exc:
        raise ExportError(f"could not write {dst}: {exc}") from exc
    return dst


@contextmanager
def _nncf_quiet(verbose: bool):
    """NNCF logs at INFO and draws progress bars; keep only its warnings unless `verbose`."""
    logger = logging.getLogger("nncf")
    previous = logger.level
    if not verbose:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)
