"""What every inference backend provides: one loaded model, named arrays in, named arrays out.

Backends know nothing of tasks: shapes and dtypes come from the artifact's IO description (`ModelIO`,
read from the ONNX graph, the engine, or a torch module's declaration), the batch limit from the
artifact's profile. Tasks (`PoseEstimator`, the person detector) sit on top and find their tensors by
the names in the artifact's metadata.

Adding a backend (the TensorRT and torch-cuda ones do it): subclass `Backend` in `backends/<name>.py`,
set the class attributes, take `(source, *, max_batch=None, threads=None, io=None)` in `__init__`
(source: the path or module the user passed; io: only for sources that cannot describe themselves),
set `self.metadata`, `self.io` and `self.max_batch`, implement `_run`, and register the class in
`backends.BACKENDS`. Import the engine library inside `__init__`. A backend that computes a file in a
precision of its choosing (torch-cuda: fp16/fp32, openvino: fp32/bf16) lists them in `precisions` and
takes `precision=` too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ...artifacts.io import ModelIO
from ...artifacts.metadata import ArtifactMetadata
from ...errors import ConfigError, EngineLoadError
from ...option_checks import positive_int

#: Where a backend's inputs and outputs live: "cpu" = numpy arrays, "cuda" = CuPy arrays on the GPU.
DEVICES = ("cpu", "cuda")
#: Items per call when neither the user nor the artifact sets a limit.
DEFAULT_MAX_BATCH = 16


class Backend(ABC):
    """One loaded model that maps named input arrays to named output arrays.

    name: the backend's registry name ("onnxruntime", "torch", "tensorrt", "torch-cuda").
    device: "cpu" (numpy in and out) or "cuda" (CuPy arrays on the current device in and out).
    metadata: the artifact's `ArtifactMetadata`, or None for a model file without ours (a foreign ONNX).
    props: the other metadata the file carries (an ONNX's `metadata_props`, e.g. an exporter's class names).
    io: the model's inputs and outputs (names, dtypes, shapes; the first axis is the batch).
    max_batch: the most items one `run` call accepts.
    thread_safe: whether `run` may be called from several threads at once (it returns fresh arrays and
    keeps no per-call state); when False, callers make their calls take turns.
    precisions: the precisions `__init__(..., precision=)` can compute a model in, the default first; empty
    for backends that run a file in the precision it was exported in.
    """

    name: str = ""
    device: str = "cpu"
    metadata: ArtifactMetadata | None = None
    props: Mapping[str, str] = MappingProxyType({})
    io: ModelIO
    max_batch: int = DEFAULT_MAX_BATCH
    thread_safe: bool = False
    precisions: tuple[str, ...] = ()

    def run(self, inputs: Mapping[str, object]) -> dict[str, object]:
        """Outputs by name for `inputs` by name: every input of `io`, each (N, *item shape) in its dtype on
        `device`, the same N for all, 1 <= N <= max_batch; raises `InputError` otherwise.

        Returns (N, *item shape) arrays on `device`. They may be buffers the backend reuses: valid until the
        next `run` call (on the same CUDA stream, for GPU backends).
        """
        count = self.io.checked_batch(inputs, self.max_batch)
        return self._run(inputs, count)

    @abstractmethod
    def _run(self, inputs: Mapping[str, object], count: int) -> dict[str, object]:
        """`run` after its checks: `count` items per input."""

    def input_buffer(self, name: str):
        """The (max_batch, *item shape) array `run` reads for input `name`, in the input's dtype, for a
        producer to write into (then pass its first N rows to `run`, which skips its copy); None = no such
        buffer. GPU backends return their engine/model input (CuPy); CPU backends take any numpy array."""
        return None

    def __repr__(self) -> str:
        meta = self.metadata
        model = f"{meta.model}/{meta.task}/{meta.precision}" if meta else "no metadata"
        return f"{type(self).__name__}({model}, device={self.device}, max_batch={self.max_batch})"


#: What a file backend says of a file of another kind (a checkpoint or folder, most likely).
EXPORT_FIRST = "a checkpoint runs on the torch backend, or export it first (vitpose-export)"


def checked_model_file(source, reader: str, suffixes: tuple[str, ...], hint: str = EXPORT_FIRST) -> Path:
    """`source` as the path of an existing file with one of `suffixes`, the files `reader` ("the onnxruntime
    backend") reads; else `EngineLoadError` saying so and `hint` (the file is not tried: another library's
    error would not say what is wrong)."""
    path = Path(source)
    if path.suffix.lower() not in suffixes:
        raise EngineLoadError(f"{path}: {reader} reads {', '.join(suffixes)} files; {hint}")
    if not path.is_file():
        raise EngineLoadError(f"{path}: no such model file")
    return path


def checked_max_batch(max_batch: int | None, default: int = DEFAULT_MAX_BATCH) -> int:
    """Return `max_batch` (or `default` when None) as a positive int, or raise `ConfigError`."""
    if max_batch is None:
        return default
    return positive_int("max_batch", max_batch)


def checked_threads(threads: int | None) -> int | None:
    """Return `threads` (None = the library's default) as a positive int, or raise `ConfigError`."""
    if threads is None:
        return None
    return positive_int("threads", threads)


def max_batch_for(requested: int | None, static_batch: int | None, source) -> int:
    """`max_batch` of a model file: `requested` (default DEFAULT_MAX_BATCH), at most the file's fixed
    batch `static_batch` (default: that batch) when it has one; `ConfigError` otherwise."""
    if static_batch is None:
        return checked_max_batch(requested, DEFAULT_MAX_BATCH)
    if requested is not None and checked_max_batch(requested) > static_batch:
        raise ConfigError(f"{source} has a fixed batch of {static_batch}; max_batch={requested} is larger")
    return checked_max_batch(requested, static_batch)


def zero_padded(array: np.ndarray, rows: int) -> np.ndarray:
    """`array` followed by zero rows up to `rows` (a fixed-batch graph takes full batches only)."""
    padded = np.zeros((rows, *array.shape[1:]), array.dtype)
    padded[: len(array)] = array
    return padded


def refused_io(io: ModelIO | None, source) -> None:
    """Raise `ConfigError` when `io` is given for a model file, which describes its own inputs and outputs."""
    if io is not None:
        raise ConfigError(f"{source} describes its own inputs and outputs; io= is only for torch modules")
