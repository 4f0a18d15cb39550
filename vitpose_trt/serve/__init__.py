"""Serving on NVIDIA Triton: the PyTriton server of vitpose-serve, the model repository of vitpose-export
--triton-repo, and `PoseClient`.

`protocol` (model and tensor names, limits), `request_inputs` and `handlers` (requests -> one batched
inference) need only numpy; `server` loads PyTriton and `client` tritonclient when used.
"""

from .client import PoseClient, ServerError
from .protocol import E2E_MODEL, POSE_MODEL, RequestLimits

__all__ = ["E2E_MODEL", "POSE_MODEL", "PoseClient", "RequestLimits", "ServerError"]
