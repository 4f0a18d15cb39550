"""What every inference backend provides to `PoseEstimator`.

A backend turns a batch of normalised crops into heatmaps and nothing else: pre- and post-processing
live in the estimator, which picks its crop stage and decode array module by `Backend.device`.

Adding one (the TensorRT and torch-cuda backends do): subclass `Backend` in `backends/<name>.py`,
set the class attributes, take `(source, *, max_batch=None, threads=None)` in `__init__` (source: the
path or module the user passed), set `self.metadata` and `self.max_batch`, implement `infer`, and
register the class in `backends.BACKENDS`. Import the engine library inside `__init__`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ...errors import ConfigError
from ...metadata import ArtifactMetadata

#: Where a backend's inputs and outputs live: "cpu" = numpy arrays, "cuda" = CuPy arrays on the GPU.
DEVICES = ("cpu", "cuda")
#: Crops per inference when neither the user nor the artifact sets a limit.
DEFAULT_MAX_BATCH = 16


class Backend(ABC):
    """One loaded model that maps crops to heatmaps.

    name: the backend's registry name ("onnxruntime", "torch", "tensorrt", "torch-cuda").
    device: "cpu" (numpy in and out) or "cuda" (CuPy arrays on the current device in and out).
    metadata: the model's `ArtifactMetadata` (keypoint set, pipeline settings, sizes).
    max_batch: the most crops one `infer` call accepts.
    thread_safe: whether `infer` may run in several threads at once (it returns a fresh array per
    call and keeps no per-call state); when False, `PoseEstimator` makes its calls take turns.
    """

    name: str = ""
    device: str = "cpu"
    metadata: ArtifactMetadata
    max_batch: int = DEFAULT_MAX_BATCH
    thread_safe: bool = False

    @abstractmethod
    def infer(self, crops):
        """Return (N, K, 64, 48) float32 heatmaps for (N, 3, 256, 192) float32 normalised crops.

        N <= max_batch; both arrays on `device`. The returned array may be a buffer the backend
        reuses: it stays valid until the next `infer` call.
        """

    def input_buffer(self):
        """The (max_batch, 3, 256, 192) array `infer` reads, for a crop stage to write into; None = no such buffer.

        A GPU backend returns its engine/model input (CuPy, possibly fp16) so crops land there without a
        copy; CPU backends take any numpy batch and return None.
        """
        return None

    def __repr__(self) -> str:
        meta = getattr(self, "metadata", None)
        model = f"{meta.model}/{meta.keypoint_set}/{meta.precision}" if meta else "?"
        return f"{type(self).__name__}({model}, device={self.device}, max_batch={self.max_batch})"


def checked_max_batch(max_batch: int | None, default: int = DEFAULT_MAX_BATCH) -> int:
    """Return `max_batch` (or `default` when None) as a positive int, or raise `ConfigError`."""
    if max_batch is None:
        return default
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ConfigError(f"max_batch must be a positive integer, got {max_batch!r}")
    return max_batch


def checked_threads(threads: int | None) -> int | None:
    """Return `threads` (None = the library's default) as a positive int, or raise `ConfigError`."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer or None, got {threads!r}")
    return threads
