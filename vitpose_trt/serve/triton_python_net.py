"""The `vitpose_net` model of a Triton model repository written with `--triton-net python`: the ONNX network
run by vitpose-trt's ONNX Runtime backend inside a Python-backend model.

For Triton servers without the onnxruntime backend (PyTriton's bundled tritonserver has only the Python
backend): crops in, heatmaps out, like the `onnxruntime_onnx` model it stands in for. Triton's dynamic
batcher hands it several requests at once; their crops run together in slices of the backend's batch limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runtime.backends import open_backend
from .repository_layout import ONNX_FILE
from .triton_python_model import python_backend_utils


class TritonPythonModel:
    """Triton's Python-backend interface: initialize(args), execute(requests) -> responses."""

    def initialize(self, args: dict) -> None:
        self._pb = python_backend_utils()
        self._backend = open_backend(Path(args["model_repository"]) / args["model_version"] / ONNX_FILE)
        (self._input,), (self._output,) = self._backend.io.input_names, self._backend.io.output_names

    def execute(self, requests: list) -> list:
        parts = [self._pb.get_input_tensor_by_name(request, self._input).as_numpy() for request in requests]
        outputs = self._outputs(np.concatenate(parts))
        bounds = np.cumsum([0, *(len(part) for part in parts)])
        return [self._pb.InferenceResponse(output_tensors=[self._pb.Tensor(self._output, outputs[start:stop])])
                for start, stop in zip(bounds[:-1], bounds[1:])]

    def _outputs(self, inputs: np.ndarray) -> np.ndarray:
        """The network's output for all `inputs`, in slices of the backend's batch limit (copied: backends
        may reuse their output buffers)."""
        limit = self._backend.max_batch
        return np.concatenate([np.array(self._backend.run({self._input: inputs[i : i + limit]})[self._output])
                               for i in range(0, len(inputs), limit)])
