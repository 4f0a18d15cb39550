"""`TritonBlsBackend`: a `Backend` whose inference is a BLS request to another model of the same Triton server.

Inside a Triton Python-backend model, `PoseEstimator(TritonBlsBackend(...))` computes crops and decodes
heatmaps with this toolkit while the network runs as its own Triton model (a TensorRT plan or an ONNX
Runtime model, with its own instances and dynamic batching). `pb_utils` is Triton's
`triton_python_backend_utils`, which only exists inside a Triton Python-backend process; it is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..artifacts.io import ModelIO
from ..artifacts.metadata import ArtifactMetadata
from ..errors import InferenceError
from ..runtime.backends.base import Backend


class TritonBlsBackend(Backend):
    """Runs the network as Triton model `model_name` (inputs and outputs `io`, at most `max_batch` per call).

    Returns host numpy arrays (device "cpu": crops are made on the CPU, Triton moves them to the network's
    device). Each call is one synchronous BLS request.
    """

    name = "triton-bls"
    device = "cpu"
    thread_safe = True

    def __init__(self, pb_utils, model_name: str, metadata: ArtifactMetadata, io: ModelIO, max_batch: int):
        self._pb, self.model_name = pb_utils, model_name
        self.metadata, self.io, self.max_batch = metadata, io, max_batch

    def _run(self, inputs: Mapping[str, object], count: int) -> dict[str, object]:
        tensors = [self._pb.Tensor(name, inputs[name]) for name in self.io.input_names]
        request = self._pb.InferenceRequest(model_name=self.model_name, inputs=tensors,
                                            requested_output_names=list(self.io.output_names))
        response = request.exec()
        if response.has_error():
            raise InferenceError(f"Triton model {self.model_name} failed: {response.error().message()}")
        return {name: self._pb.get_output_tensor_by_name(response, name).as_numpy() for name in self.io.output_names}
