"""Model instances: one per visible GPU for GPU backends, N sharing one model for CPU backends.

Triton runs every instance of a model concurrently; PyTriton calls one Python callable per instance, each
in its own thread of the serving process. On GPUs each instance owns a model loaded on its device and
makes that device current around every call (TensorRT engines and CuPy buffers belong to one device).
On CPUs the instances share one estimator: ONNX Runtime and PyTorch inference are thread-safe, and one
loaded model saves memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

from ..option_checks import positive_int
from ..runtime.cuda_device import cuda_device, cupy_module

#: Built for each instance: () -> {model name: handler}, on the instance's device when it has one.
InstanceBuilder = Callable[[], dict]


class DeviceBoundHandler:
    """A handler that makes GPU `index` current around every call (index None: no device switch)."""

    def __init__(self, handler, index: int | None):
        self.handler, self.index = handler, index

    def __call__(self, requests: Sequence) -> list:
        with _on_device(self.index):
            return self.handler(requests)


def _on_device(index: int | None):
    return nullcontext() if index is None else cupy_module("GPU instances").cuda.Device(index)


def handlers_per_instance(build: InstanceBuilder, first: dict, device: str, cpu_instances: int) -> dict[str, list]:
    """{model name: one handler per instance}.

    first: what `build()` returned once already, in a fresh process (so on GPU 0, CUDA's default device);
    device: where its models run ("cpu" or "cuda"). CPU models get `cpu_instances` instances sharing
    `first`; GPU models one instance per visible GPU: `first` on GPU 0, a new build on each other GPU, made
    with that GPU current.
    """
    cpu_instances = positive_int("instances", cpu_instances)
    if device != "cuda":
        return {name: [handler] * cpu_instances for name, handler in first.items()}
    count = cupy_module("GPU instances").cuda.runtime.getDeviceCount()
    per_model = {name: [DeviceBoundHandler(handler, 0)] for name, handler in first.items()}
    for index in range(1, count):
        cuda_device(index, "GPU instances")
        for name, handler in build().items():
            per_model[name].append(DeviceBoundHandler(handler, index))
    cuda_device(0, "GPU instances")
    return per_model
