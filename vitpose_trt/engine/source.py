"""The ONNX file a build starts from: its vitpose-trt metadata and a digest of its contents.

Reads the graph without loading external weights (a ViTPose-H graph keeps them in a separate file, over
protobuf's 2 GB limit); the digest covers the .onnx file and every external data file it names, so
changing weights alone also triggers a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..artifacts.metadata import ONNXRUNTIME_CPU_TARGET, ArtifactMetadata
from ..artifacts.onnx_metadata import (
    ONNX_METADATA_KEY,
    metadata_from_props,
    onnx_graph,
    props_of,
)
from ..errors import ConfigError, EngineLoadError
from .files import sha256_of_files


@dataclass(frozen=True)
class OnnxSource:
    path: Path
    metadata: ArtifactMetadata
    sha256: str


def onnx_source(onnx_path: Path) -> OnnxSource:
    """Metadata and digest of `onnx_path`.

    Raises ConfigError when the file does not exist or is made for ONNX Runtime on CPUs (its metadata
    target: dynamic int8 that TensorRT cannot build), `UnreadableOnnx` when it is not a readable ONNX
    model, EngineLoadError when it carries no (or invalid) vitpose-trt metadata.
    """
    path = Path(onnx_path)
    model = onnx_graph(path)
    metadata = metadata_from_props(props_of(model), str(path))
    if metadata is None:
        raise EngineLoadError(
            f"{path} has no vitpose-trt metadata (metadata_props key {ONNX_METADATA_KEY!r}); "
            "export it with vitpose-export so the engine knows its model, task and pipeline"
        )
    if metadata.target == ONNXRUNTIME_CPU_TARGET:
        raise ConfigError(f"{path} is int8 for ONNX Runtime on CPUs (dynamic quantization: MatMulInteger), "
                          "which TensorRT cannot build; export with --target tensorrt for an engine")
    files = [path, *(path.parent / name for name in _external_data_files(model))]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise EngineLoadError(f"{path} refers to external data that is missing: {', '.join(missing)}")
    return OnnxSource(path, metadata, sha256_of_files(files))


def _external_data_files(model) -> list[str]:
    """Relative locations of the external data files of `model`'s initializers, sorted, unique."""
    locations = set()
    for initializer in model.graph.initializer:
        if initializer.data_location == initializer.EXTERNAL:
            entries = {e.key: e.value for e in initializer.external_data}
            if "location" in entries:
                locations.add(entries["location"])
    return sorted(locations)
