"""PyTorch backend on the CPU: any `nn.Module` with a declared IO, a ViTPose module, a checkpoint path or
Hub id, or a model name (random weights).

A ViTPose module (built by `load_model`) describes itself; any other module needs `io=` (a `ModelIO`):
its forward takes the inputs positionally in `io.inputs` order and returns one tensor, a tuple/list in
`io.outputs` order, or a dict by output name.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...artifacts.io import ModelIO
from ...artifacts.metadata import ArtifactMetadata
from ...dependencies import import_optional
from ...errors import ConfigError, InferenceError
from ...specs import MODELS
from .base import Backend, checked_max_batch, checked_threads


def model_from_source(source):
    """An eval-mode module from a module (returned as is), a checkpoint path or Hub id, or a model name."""
    torch = import_optional("torch", "the PyTorch backend")
    if isinstance(source, torch.nn.Module):
        return source
    from ...model import load_model

    if str(source) in MODELS:
        return load_model(name=str(source))
    return load_model(source)


def module_description(model, io: ModelIO | None) -> tuple[ArtifactMetadata | None, ModelIO]:
    """(metadata, io) of a torch module: a ViTPose module's own (pose task), or None and the declared `io`."""
    spec, keypoints = getattr(model, "spec", None), getattr(model, "keypoints", None)
    if spec is not None and keypoints is not None:
        metadata = ArtifactMetadata.for_pose_model(spec, keypoints)
        return metadata, io if io is not None else metadata.pose.model_io()
    if io is None:
        raise ConfigError(f"{type(model).__name__} is not a vitpose_trt ViTPose module (no .spec/.keypoints): "
                          "declare its inputs and outputs with io=ModelIO(...), or build it with load_model")
    return None, io


def named_outputs(outputs, io: ModelIO) -> dict:
    """A module's return value (tensor, tuple/list or dict) as {output name: tensor}, checked against `io`."""
    names = io.output_names
    if isinstance(outputs, Mapping):
        values = [outputs.get(name) for name in names]
    elif isinstance(outputs, tuple | list):
        values = list(outputs) if len(outputs) == len(names) else [None] * len(names)
    else:
        values = [outputs] if len(names) == 1 else [None] * len(names)
    if any(value is None for value in values):
        raise InferenceError(f"the module returned {type(outputs).__name__}, not the outputs {list(names)} "
                             "its io declares")
    return dict(zip(names, values))


def _checked_cpu_float32(model) -> None:
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device.type != "cpu":
        raise ConfigError(f"the torch backend runs on the CPU but the model is on {parameter.device}; "
                          "use backend='torch-cuda' for a GPU module")
    if parameter is not None and str(parameter.dtype) != "torch.float32":
        raise ConfigError(f"the torch backend runs float32 models; this one is {parameter.dtype}")


class TorchBackend(Backend):
    """Eager PyTorch on the CPU: numpy arrays in, numpy arrays out (outputs cast to their declared dtypes).

    threads: sets `torch.set_num_threads` (process-wide) when given. io: the module's inputs and outputs
    (required for modules other than ViTPose).
    """

    name = "torch"
    device = "cpu"
    #: PyTorch inference (no autograd state) may run in several threads at once.
    thread_safe = True

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None,
                 io: ModelIO | None = None):
        self.torch = import_optional("torch", "the PyTorch backend")
        model = model_from_source(source)
        self.metadata, self.io = module_description(model, io)
        _checked_cpu_float32(model)
        self.model = model.eval()
        self.max_batch = checked_max_batch(max_batch)
        threads = checked_threads(threads)
        if threads is not None:
            self.torch.set_num_threads(threads)

    def _run(self, inputs: Mapping[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
        tensors = [self.torch.from_numpy(np.ascontiguousarray(inputs[name])) for name in self.io.input_names]
        with self.torch.inference_mode():
            outputs = named_outputs(self.model(*tensors), self.io)
        return {spec.name: outputs[spec.name].numpy().astype(spec.dtype, copy=False) for spec in self.io.outputs}
