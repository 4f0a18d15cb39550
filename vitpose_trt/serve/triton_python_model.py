"""The `vitpose` model of the Triton model repository: a Python-backend model that checks requests, makes
crops and decodes heatmaps with vitpose-trt, and runs the network as the repository's `vitpose_net` model
through BLS (so the network keeps its own instances on the GPUs and its own dynamic batching).

Triton loads it through the repository's `vitpose/1/model.py`, which imports `TritonPythonModel` from
here: vitpose-trt must be installed in the Python environment of Triton's Python backend. Requests and
answers follow `vitpose_trt.serve.protocol`, as vitpose-serve's do; a batch of requests from Triton's
dynamic batcher becomes one `PoseEstimator.batch` call.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..runtime.estimator import PoseEstimator
from .handlers import PoseRequestHandler
from .protocol import model_inputs, model_outputs
from .repository_layout import SETTINGS_FILE, PoseModelSettings
from .triton_bls import TritonBlsBackend


def python_backend_utils():
    """Triton's `triton_python_backend_utils` (present only inside a Triton Python-backend process)."""
    return importlib.import_module("triton_python_backend_utils")


class TritonPythonModel:
    """Triton's Python-backend interface: initialize(args), execute(requests) -> responses."""

    def initialize(self, args: dict) -> None:
        self._pb = python_backend_utils()
        folder = Path(args["model_repository"]) / args["model_version"]
        settings = PoseModelSettings.from_file(folder / SETTINGS_FILE)
        backend = TritonBlsBackend(self._pb, settings.net_model, settings.metadata, settings.io, settings.net_max_batch)
        estimator = PoseEstimator(backend, color=settings.color)
        self._handler = PoseRequestHandler(estimator, settings.limits)
        self._inputs = [spec.name for spec in model_inputs("vitpose")]
        self._outputs = [spec.name for spec in model_outputs(estimator.keypoints.num_keypoints)]

    def execute(self, requests: list) -> list:
        arrays = [self._arrays(request) for request in requests]
        return [self._response(answer) for answer in self._handler(arrays)]

    def _arrays(self, request) -> dict:
        tensors = ((name, self._pb.get_input_tensor_by_name(request, name)) for name in self._inputs)
        return {name: tensor.as_numpy() for name, tensor in tensors if tensor is not None}

    def _response(self, answer: dict):
        return self._pb.InferenceResponse(output_tensors=[self._pb.Tensor(name, answer[name]) for name in self._outputs])
