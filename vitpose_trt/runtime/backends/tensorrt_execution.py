"""One TensorRT execution context per CUDA stream, with fixed CuPy buffers and a CUDA graph per batch bucket.

Only API present in TensorRT 10, TensorRT 11 and TensorRT-RTX is used: `create_execution_context` with
a USER_MANAGED allocation strategy, `device_memory_size_v2`, `set_device_memory`, `set_input_shape`,
`set_tensor_address`, `execute_async_v3`. Tensor addresses never change after construction, which is
what lets a captured graph be replayed for every later batch of its bucket.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

from ...artifacts.io import ModelIO
from ...errors import DeviceError, VitPoseError
from ..batch_buckets import WARMUP_RUNS, batch_buckets, bucket_for

log = logging.getLogger(__name__)


class StreamExecution:
    """Runs one engine on one CuPy stream.

    Buffers come from CuPy's allocator, sized for `max_batch`: one (max_batch, *item shape) array per
    input and output in the engine's dtypes, plus the context's scratch memory (`device_memory_size_v2`).
    With `cuda_graphs`, each batch bucket runs eagerly WARMUP_RUNS times, then is captured once and
    replayed from then on.
    """

    def __init__(self, trt, cp, engine, io: ModelIO, max_batch: int, stream, cuda_graphs: bool):
        self._cp, self._io, self._stream = cp, io, stream
        self.context = engine.create_execution_context(trt.ExecutionContextAllocationStrategy.USER_MANAGED)
        if self.context is None:
            raise DeviceError("TensorRT could not create an execution context (out of GPU memory?)")
        scratch_bytes = int(engine.device_memory_size_v2)
        self._scratch = cp.cuda.alloc(max(scratch_bytes, 1))
        self.context.set_device_memory(self._scratch.ptr, scratch_bytes)
        self.inputs = {t.name: cp.empty((max_batch, *t.item_shape), t.dtype) for t in io.inputs}
        self.outputs = {t.name: cp.empty((max_batch, *t.item_shape), t.dtype) for t in io.outputs}
        for name, buffer in {**self.inputs, **self.outputs}.items():
            if not self.context.set_tensor_address(name, buffer.data.ptr):
                raise VitPoseError(f"TensorRT rejected the address of tensor {name!r}")
        self.buckets = batch_buckets(max_batch)
        self.cuda_graphs = cuda_graphs
        self._graphs: dict[int, object] = {}
        self._eager_runs: Counter[int] = Counter()

    def run(self, inputs: Mapping[str, object], count: int) -> dict[str, object]:
        """(count, *item shape) outputs by name for the first `count` rows of `inputs` (CuPy, on this stream).

        The results are views of buffers reused by the next call.
        """
        rows = bucket_for(count, self.buckets) if self.cuda_graphs else count
        with self._stream:
            for name, buffer in self.inputs.items():
                given = inputs[name]
                if given.data.ptr != buffer.data.ptr:
                    buffer[:count] = given[:count]  # one device copy
            graph = self._graphs.get(rows)
            if graph is not None:
                graph.launch(stream=self._stream)
            else:
                self._run_eagerly(rows)
        return {name: buffer[:count] for name, buffer in self.outputs.items()}

    def _run_eagerly(self, rows: int) -> None:
        self._set_batch(rows)
        if not self.context.execute_async_v3(self._stream.ptr):
            raise VitPoseError(f"TensorRT failed to run a batch of {rows} (see the vitpose_trt.engine log)")
        self._eager_runs[rows] += 1
        if self.cuda_graphs and self._eager_runs[rows] >= WARMUP_RUNS:
            self._capture(rows)

    def _set_batch(self, rows: int) -> None:
        for spec in self._io.inputs:
            shape = (rows, *spec.item_shape)
            if not self.context.set_input_shape(spec.name, shape):
                raise VitPoseError(f"TensorRT rejected input shape {shape} for {spec.name!r} (outside the profile)")

    def _capture(self, rows: int) -> None:
        """Capture one `execute_async_v3` for `rows` as a graph; on failure run eagerly from now on."""
        capturable = getattr(self.context, "is_stream_capturable", None)
        if capturable is not None and not capturable(self._stream.ptr):
            self._disable_graphs("the execution context reports this stream is not capturable")
            return
        self._set_batch(rows)
        stream = self._stream
        try:
            stream.begin_capture()
            try:
                launched = self.context.execute_async_v3(stream.ptr)
            finally:
                graph = stream.end_capture()
        except (self._cp.cuda.runtime.CUDARuntimeError, self._cp.cuda.driver.CUDADriverError) as exc:
            self._disable_graphs(f"capture failed ({exc})")
            return
        if not launched:
            self._disable_graphs("execute_async_v3 failed during capture")
            return
        self._graphs[rows] = graph

    def _disable_graphs(self, reason: str) -> None:
        log.warning("TensorRT backend: running without CUDA graphs: %s", reason)
        self.cuda_graphs = False
        self._graphs.clear()
