"""TensorRT / TensorRT-RTX engine builder and metadata sidecars (needs tensorrt or tensorrt_rtx).

Importing this package needs neither library: they load when a build starts.
"""

from ..artifacts.build_options import BuildOptions, parse_batch
from ..artifacts.sidecar import EngineSidecar, sidecar_for_engine
from .build import BuiltEngine, BuiltPlan, engine_from_onnx, plan_from_onnx
from .compatibility import check_engine_compatible

__all__ = [
    "BuildOptions",
    "BuiltEngine",
    "BuiltPlan",
    "EngineSidecar",
    "check_engine_compatible",
    "engine_from_onnx",
    "plan_from_onnx",
    "parse_batch",
    "sidecar_for_engine",
]
