"""PyTorch on the GPU: fp16 ViTPose with one CUDA graph per batch bucket; CuPy crops in, CuPy heatmaps out.

The GPU path for machines where PyTorch has CUDA but TensorRT is missing. Pre- and post-processing are
the same CuPy stages as the TensorRT backend's; tensors cross between CuPy and PyTorch through DLPack
without copies, and PyTorch runs on CuPy's current stream (`torch.cuda.ExternalStream`).
"""

from __future__ import annotations

import copy
from collections import Counter

from ...dependencies import import_optional
from ...errors import ConfigError, DeviceError
from ...metadata import ArtifactMetadata
from ...specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH
from ..batch_buckets import WARMUP_RUNS, batch_buckets, bucket_for
from ..cuda_device import cuda_device, execution_stream
from .base import Backend, checked_max_batch
from .torch import model_from_source

#: Precision name -> torch dtype attribute.
PRECISIONS = {"fp16": "float16", "fp32": "float32"}
_CHANNELS = 3


class TorchCudaBackend(Backend):
    """A ViTPose module on the GPU in fp16 (or fp32), replayed through CUDA graphs.

    source: a ViTPose module (copied, never modified), a checkpoint path or a model name. max_batch:
    most crops per inference (None: DEFAULT_MAX_BATCH). threads: unused (GPU). cuda_graphs: capture one
    graph per batch bucket after warm-up. precision: "fp16" (default) or "fp32". device: CUDA index.
    """

    name = "torch-cuda"
    device = "cuda"

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None,
                 cuda_graphs: bool = True, precision: str = "fp16", device: int | None = None):
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
        self.model = self._gpu_model(source)
        self.metadata = ArtifactMetadata.for_model(self.model.spec, self.model.keypoints, precision=precision)
        self.max_batch = checked_max_batch(max_batch)
        self.buckets = batch_buckets(self.max_batch)
        self.cuda_graphs = bool(cuda_graphs)
        shape = (self.max_batch, _CHANNELS, INPUT_HEIGHT, INPUT_WIDTH)
        self._input = torch.zeros(shape, dtype=self._dtype, device=self._device)
        self._input_cupy = cp.from_dlpack(self._input)  # the same memory, for crop stages
        heatmaps = (self.max_batch, self.metadata.num_keypoints, HEATMAP_HEIGHT, HEATMAP_WIDTH)
        self._heatmaps = torch.empty(heatmaps, dtype=torch.float32, device=self._device)
        self._graphs: dict[int, tuple] = {}  # rows -> (CUDAGraph, its static output)
        self._eager_runs: Counter[int] = Counter()
        self._pool = None

    def _gpu_model(self, source):
        model = model_from_source(source)
        if getattr(model, "spec", None) is None or getattr(model, "keypoints", None) is None:
            raise ConfigError(f"{type(model).__name__} is not a vitpose_trt ViTPose module (no .spec/.keypoints); "
                              "build it with vitpose_trt.load_model")
        if model is source:
            model = copy.deepcopy(model)  # the caller's module stays where and what it was
        return model.to(device=self._device, dtype=self._dtype).eval()

    def infer(self, crops):
        """(N, K, 64, 48) float32 CuPy heatmaps for (N, 3, 256, 192) CuPy crops, N <= max_batch.

        Runs on CuPy's current stream; the result is a view of a buffer reused by the next call.
        """
        cp, torch = self._cp, self.torch
        crops = crops if isinstance(crops, cp.ndarray) else cp.asarray(crops)
        count = len(crops)
        if crops.shape[1:] != (_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH) or not 1 <= count <= self.max_batch:
            raise ConfigError(f"infer takes (1..{self.max_batch}, 3, {INPUT_HEIGHT}, {INPUT_WIDTH}) crops, "
                              f"got {crops.shape}")
        stream = torch.cuda.ExternalStream(execution_stream(cp).ptr, device=self._device)
        with torch.cuda.stream(stream), torch.inference_mode():
            if crops.data.ptr != self._input_cupy.data.ptr:
                self._input[:count].copy_(torch.from_dlpack(crops))  # one device copy (and cast to fp16)
            output = self._forward(bucket_for(count, self.buckets) if self.cuda_graphs else count)
            self._heatmaps[:count].copy_(output[:count])
        return cp.from_dlpack(self._heatmaps[:count])

    def input_buffer(self):
        """The model's (max_batch, 3, 256, 192) input as a CuPy array (fp16 by default), sharing memory.

        A crop stage writing here (`CudaCrops(..., out=backend.input_buffer())`) saves `infer` its copy.
        """
        return self._input_cupy

    def _forward(self, rows: int):
        """The model's output for the first `rows` input rows: a graph replay once captured."""
        captured = self._graphs.get(rows)
        if captured is not None:
            graph, output = captured
            graph.replay()
            return output
        output = self.model(self._input[:rows])
        self._eager_runs[rows] += 1
        if self.cuda_graphs and self._eager_runs[rows] >= WARMUP_RUNS:
            self._capture(rows)
        return output

    def _capture(self, rows: int) -> None:
        torch = self.torch
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            output = self.model(self._input[:rows])
        self._pool = graph.pool()  # later buckets share the memory pool
        self._graphs[rows] = (graph, output)
