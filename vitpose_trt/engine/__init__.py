"""TensorRT / TensorRT-RTX engine builder and metadata sidecars (needs tensorrt or tensorrt_rtx).

Importing this package needs neither library: they load when a build starts.
"""

from .build import BuiltEngine, engine_from_onnx
from .options import BuildOptions, parse_batch
from .sidecar import EngineSidecar, check_engine_compatible, sidecar_for_engine

__all__ = [
    "BuildOptions",
    "BuiltEngine",
    "EngineSidecar",
    "check_engine_compatible",
    "engine_from_onnx",
    "parse_batch",
    "sidecar_for_engine",
]
