"""PyTorch backend on the CPU: a `ViTPose` module, a checkpoint path or Hub id, or a model name (random weights)."""

from __future__ import annotations

import numpy as np

from ...dependencies import import_optional
from ...errors import ConfigError
from ...metadata import ArtifactMetadata
from ...specs import MODELS
from .base import Backend, checked_max_batch, checked_threads


def model_from_source(source):
    """An eval-mode ViTPose module from a module (returned as is), a checkpoint path or Hub id, or a model name."""
    torch = import_optional("torch", "the PyTorch backend")
    if isinstance(source, torch.nn.Module):
        return source
    from ...model import load_model

    if str(source) in MODELS:
        return load_model(name=str(source))
    return load_model(source)


def _checked_cpu_float32(model) -> None:
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device.type != "cpu":
        raise ConfigError(f"the torch backend runs on the CPU but the model is on {parameter.device}; "
                          "use backend='torch-cuda' for a GPU module")
    if parameter is not None and str(parameter.dtype) != "torch.float32":
        raise ConfigError(f"the torch backend runs float32 models; this one is {parameter.dtype}")


class TorchBackend(Backend):
    """Eager PyTorch on the CPU: numpy crops in, numpy heatmaps out.

    threads: sets `torch.set_num_threads` (process-wide) when given.
    """

    name = "torch"
    device = "cpu"
    #: PyTorch inference (no autograd state) may run in several threads at once.
    thread_safe = True

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None):
        self.torch = import_optional("torch", "the PyTorch backend")
        model = model_from_source(source)
        spec, keypoints = getattr(model, "spec", None), getattr(model, "keypoints", None)
        if spec is None or keypoints is None:
            raise ConfigError(f"{type(model).__name__} is not a vitpose_trt ViTPose module (no .spec/.keypoints); "
                              "build it with vitpose_trt.load_model")
        _checked_cpu_float32(model)
        self.model = model.eval()
        self.metadata = ArtifactMetadata.for_model(spec, keypoints)
        self.max_batch = checked_max_batch(max_batch)
        threads = checked_threads(threads)
        if threads is not None:
            self.torch.set_num_threads(threads)

    def infer(self, crops: np.ndarray) -> np.ndarray:
        """(N, K, 64, 48) float32 heatmaps of (N, 3, 256, 192) float32 crops, N <= max_batch."""
        with self.torch.inference_mode():
            return self.model(self.torch.from_numpy(np.ascontiguousarray(crops))).numpy()
