"""PyTorch on the GPU: a module in fp16 (or fp32) with one CUDA graph per batch bucket; CuPy in, CuPy out.

The GPU path for machines where PyTorch has CUDA but TensorRT is missing. Tensors cross between CuPy and
PyTorch through DLPack without copies, and PyTorch runs on CuPy's current stream
(`torch.cuda.ExternalStream`). Floating-point inputs take the module's precision (fp16 by default: that is
the dtype of their `input_buffer`); outputs come back in their declared dtypes.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections import Counter
from collections.abc import Mapping

from ...artifacts.io import ModelIO
from ...dependencies import import_optional
from ...errors import ConfigError, DeviceError
from ..batch_buckets import WARMUP_RUNS, batch_buckets, bucket_for
from ..cuda_device import cuda_device, result_on_explicit_stream
from .base import Backend, checked_max_batch
from .torch import model_from_source, module_description, named_outputs

#: Precision name -> torch dtype attribute.
PRECISIONS = {"fp16": "float16", "fp32": "float32"}
#: Input dtypes that take the module's precision.
FLOAT_INPUTS = ("float16", "float32")


class TorchCudaBackend(Backend):
    """A module on the GPU in fp16 (or fp32), replayed through CUDA graphs.

    source: a module (copied, never modified), a checkpoint path or a model name. max_batch: most items
    per call (None: DEFAULT_MAX_BATCH). threads: unused (GPU). io: the module's inputs and outputs (required
    for modules other than ViTPose). cuda_graphs: capture one graph per batch bucket after warm-up.
    precision: "fp16" (default) or "fp32". device: CUDA index.
    """

    name = "torch-cuda"
    device = "cuda"
    precisions = tuple(PRECISIONS)

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None,
                 io: ModelIO | None = None, cuda_graphs: bool = True, precision: str = "fp16",
                 device: int | None = None):
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r} for torch-cuda; valid: {', '.join(PRECISIONS)}")
        self.torch = torch = import_optional("torch", "the torch-cuda backend")
        self.cuda = cuda_device(device, "the torch-cuda backend")
        if not torch.cuda.is_available():
            raise DeviceError(f"PyTorch {torch.__version__} cannot use the GPU (CUDA build: {torch.version.cuda}); "
                              "install a CUDA build of PyTorch (https://pytorch.org) or use backend='tensorrt'")
        import cupy as cp  # cuda_device() has imported it

        self._cp = cp
        self._device = torch.device("cuda", self.cuda.index)
        self._dtype = getattr(torch, PRECISIONS[precision])
        model = model_from_source(source)
        metadata, declared = module_description(model, io)
        self.metadata = None if metadata is None else dataclasses.replace(metadata, precision=precision)
        self.io = _io_in_precision(declared, PRECISIONS[precision])
        self.model = self._gpu_model(model, source)
        self.max_batch = checked_max_batch(max_batch)
        self.buckets = batch_buckets(self.max_batch)
        self.cuda_graphs = bool(cuda_graphs)
        self._inputs = {spec.name: torch.zeros((self.max_batch, *spec.item_shape), dtype=getattr(torch, spec.dtype),
                                               device=self._device) for spec in self.io.inputs}
        self._inputs_cupy = {name: cp.from_dlpack(tensor) for name, tensor in self._inputs.items()}
        self._graphs: dict[int, tuple] = {}  # rows -> (CUDAGraph, its static outputs by name)
        self._eager_runs: Counter[int] = Counter()
        self._pool = None
        self._own_stream = cp.cuda.Stream(non_blocking=True)

    def _gpu_model(self, model, source):
        if model is source:
            model = copy.deepcopy(model)  # the caller's module stays where and what it was
        return model.to(device=self._device, dtype=self._dtype).eval()

    def _run(self, inputs: Mapping[str, object], count: int) -> dict[str, object]:
        """Runs on CuPy's current stream (on an internal stream, ordered with events, when that is an implicit
        default stream); the outputs are fresh CuPy arrays in their declared dtypes."""
        return result_on_explicit_stream(self._cp, self._own_stream, lambda stream: self._run_on(stream, inputs, count))

    def _run_on(self, cupy_stream, inputs: Mapping[str, object], count: int) -> dict[str, object]:
        cp, torch = self._cp, self.torch
        stream = torch.cuda.ExternalStream(cupy_stream.ptr, device=self._device)
        with torch.cuda.stream(stream), torch.inference_mode():
            for name, buffer in self._inputs_cupy.items():
                given = inputs[name] if isinstance(inputs[name], cp.ndarray) else cp.asarray(inputs[name])
                if given.data.ptr != buffer.data.ptr:
                    self._inputs[name][:count].copy_(torch.from_dlpack(given))  # one device copy
            outputs = self._forward(bucket_for(count, self.buckets) if self.cuda_graphs else count)
            results = {spec.name: outputs[spec.name][:count].to(getattr(torch, spec.dtype), copy=True)
                       for spec in self.io.outputs}
        return {name: cp.from_dlpack(tensor) for name, tensor in results.items()}

    def input_buffer(self, name: str):
        """The module's (max_batch, *item shape) input `name` as a CuPy array sharing its memory (fp16 by
        default): a crop stage writing here saves `run` its copy."""
        return self._inputs_cupy[self.io.input(name).name]

    def _forward(self, rows: int) -> dict:
        """The module's outputs by name for the first `rows` input rows: a graph replay once captured."""
        captured = self._graphs.get(rows)
        if captured is not None:
            graph, outputs = captured
            graph.replay()
            return outputs
        outputs = self._outputs(rows)
        self._eager_runs[rows] += 1
        if self.cuda_graphs and self._eager_runs[rows] >= WARMUP_RUNS:
            self._capture(rows)
        return outputs

    def _outputs(self, rows: int) -> dict:
        tensors = [self._inputs[name][:rows] for name in self.io.input_names]
        return named_outputs(self.model(*tensors), self.io)

    def _capture(self, rows: int) -> None:
        """Capture the graph of `rows`; a module that cannot be captured (e.g. it copies a CPU tensor to
        the GPU in `forward`) runs eagerly from then on, with a warning saying why."""
        torch = self.torch
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: other threads' CUDA calls (a detector's sync in the video pipeline) stay legal
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                outputs = self._outputs(rows)
        except RuntimeError as exc:
            self.cuda_graphs = False
            self._graphs.clear()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            warnings.warn(f"torch-cuda: this module cannot be captured in a CUDA graph ({reason}); it runs "
                          "without CUDA graphs from now on (cuda_graphs=False skips the attempt)",
                          RuntimeWarning, stacklevel=2)
            return
        self._pool = graph.pool()  # later buckets share the memory pool
        self._graphs[rows] = (graph, outputs)


def _io_in_precision(io: ModelIO, dtype: str) -> ModelIO:
    """`io` with its floating-point inputs in `dtype` (what the module computes in)."""
    inputs = tuple(dataclasses.replace(spec, dtype=dtype) if spec.dtype in FLOAT_INPUTS else spec for spec in io.inputs)
    return ModelIO(inputs, io.outputs)
