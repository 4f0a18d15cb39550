"""OpenVINO backend: an `.onnx` or OpenVINO IR (`.xml` + `.bin`) model on the CPU, in fp32 or bf16.

`precision` is what the CPU computes the model's floating-point ops in, always set explicitly as
OpenVINO's `INFERENCE_PRECISION_HINT` (OpenVINO's own default is bf16 on CPUs with AMX, which would
change results silently): "fp32" (default) or "bf16" (CPUs with AVX512-BF16 or AMX; OpenVINO's plain bf16
measured 2.5x fp32 on an AMX Xeon; here the residual Adds stay fp32, `vitpose_trt.openvino_cpu`; no file of
its own: the fp32 ONNX runs in bf16). An int8 IR (`vitpose-export --target openvino --precision int8`) runs
its quantized MatMuls in int8 either way; `precision` then applies to the rest. A CPU that cannot run the
requested precision is an error, never a quiet fallback. An int8 IR on a CPU without int8 dot products
(VNNI, AMX) runs, with a RuntimeWarning: slower than fp32 there.

The model is compiled for latency (one stream using every thread: the estimator makes one call at a
time per frame); each calling thread gets its own infer request, so calls may come from several threads.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...artifacts.io import io_of_openvino_model
from ...artifacts.metadata import ArtifactMetadata
from ...artifacts.onnx_metadata import ONNX_SUFFIX
from ...artifacts.openvino_metadata import (
    OPENVINO_SUFFIX,
    metadata_from_openvino_model,
    openvino_model,
    props_of_openvino_model,
)
from ...cpu_features import slow_int8_reason
from ...dependencies import import_optional
from ...errors import EngineLoadError
from ...openvino_cpu import DEFAULT_PRECISION, INFERENCE_PRECISIONS, compile_properties, compiled_for_cpu
from .base import Backend, checked_model_file, checked_threads, max_batch_for, refused_io, zero_padded

class OpenVinoBackend(Backend):
    """An OpenVINO compiled model on the CPU: numpy arrays in, numpy arrays out.

    source: an `.onnx` file or an IR `.xml`. precision: "fp32" (default) or "bf16" (see the module
    docstring); raises `ConfigError` when this CPU cannot compute in it. threads: OpenVINO's inference
    threads (None: one per core). A graph with a fixed batch is fed full batches (zero padding).
    fp32_residuals: under bf16, keep the residual Adds in fp32 (`vitpose_trt.openvino_cpu`; False computes them in
    bf16 too, for comparison); `fp32_nodes` lists the nodes kept.
    """

    name = "openvino"
    device = "cpu"
    precisions = tuple(INFERENCE_PRECISIONS)
    #: Each thread runs its own infer request and gets fresh output arrays.
    thread_safe = True

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None, io=None,
                 precision: str = DEFAULT_PRECISION, fp32_residuals: bool = True):
        refused_io(io, source)
        threads = checked_threads(threads)
        compile_properties(precision, threads)  # an unknown precision is refused before anything loads
        openvino = import_optional("openvino", "the OpenVINO backend")
        # Checked before OpenVINO reads it: it would try its TensorFlow and Paddle readers on anything else.
        path = checked_model_file(source, f"the {self.name} backend", (ONNX_SUFFIX, OPENVINO_SUFFIX))
        model = openvino_model(path)
        try:
            self.compiled, self.fp32_nodes = compiled_for_cpu(openvino, model, precision, threads, fp32_residuals)
        except RuntimeError as exc:
            raise EngineLoadError(f"{path}: OpenVINO cannot compile it for the CPU: {exc}") from exc
        self.precision = precision
        self.io = io_of_openvino_model(self.compiled)
        self.props = props_of_openvino_model(model)
        self.metadata = _run_metadata(metadata_from_openvino_model(model, str(path)), precision)
        _warn_when_int8_is_slow(self.metadata, path)
        self.static_batch = self.io.fixed_batch
        self.max_batch = max_batch_for(max_batch, self.static_batch, path)
        self._requests = threading.local()

    def _run(self, inputs: Mapping[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
        feeds = {name: np.ascontiguousarray(inputs[name]) for name in self.io.input_names}
        if self.static_batch is not None and count < self.static_batch:
            feeds = {name: zero_padded(array, self.static_batch) for name, array in feeds.items()}
        results = self._request().infer(feeds)
        return {name: results[name][:count] for name in self.io.output_names}

    def _request(self):
        """This thread's infer request (created on its first call)."""
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        return request


def _warn_when_int8_is_slow(metadata: ArtifactMetadata | None, path: Path) -> None:
    """A RuntimeWarning when an int8 IR is opened on a CPU without int8 dot products: OpenVINO then runs its
    int8 MatMuls with a generic gemm, slower than fp32 (not a fallback: the user asked for this file)."""
    reason = slow_int8_reason() if metadata is not None and metadata.precision == "int8" else None
    if reason:
        warnings.warn(f"{path.name}: {reason}, so OpenVINO runs this int8 model's MatMuls with a generic int8 "
                      "gemm, slower than fp32 (ViT-B measured 0.7-0.8x of OpenVINO fp32 on an AVX2 CPU: "
                      "benchmarks/cpu_pipeline/op-profile.md); on this CPU ONNX Runtime's CPU int8 file "
                      "(vitpose-export --precision int8 --target onnxruntime-cpu) is the faster int8",
                      RuntimeWarning, stacklevel=3)


def _run_metadata(metadata: ArtifactMetadata | None, precision: str) -> ArtifactMetadata | None:
    """The file's metadata, saying "bf16" for an fp32 file computed in bf16 (what really runs)."""
    if metadata is None or metadata.precision != "fp32" or precision == "fp32":
        return metadata
    return dataclasses.replace(metadata, precision=precision)
