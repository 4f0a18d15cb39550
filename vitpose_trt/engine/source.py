"""The ONNX file a build starts from: its vitpose-trt metadata and a digest of its contents.

Reads the graph with `onnx` without loading external weights (a ViTPose-H graph keeps them in a
separate file, over protobuf's 2 GB limit); the digest covers the .onnx file and every external
data file it names, so changing weights alone also triggers a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..dependencies import import_optional
from ..errors import ConfigError, EngineLoadError
from ..metadata import ONNX_METADATA_KEY, ONNXRUNTIME_CPU_TARGET, ArtifactMetadata
from .files import sha256_of_files


@dataclass(frozen=True)
class OnnxSource:
    path: Path
    metadata: ArtifactMetadata
    sha256: str


class UnreadableOnnx(Exception):
    """Internal: `onnx` could not read the file; the caller lets the TensorRT parser explain why."""


def onnx_source(onnx_path: Path) -> OnnxSource:
    """Metadata and digest of `onnx_path`.

    Raises ConfigError when the file does not exist or is made for ONNX Runtime on CPUs (its metadata
    target: dynamic int8 that TensorRT cannot build), UnreadableOnnx when it is not a readable ONNX
    model, EngineLoadError when it carries no (or invalid) vitpose-trt metadata.
    """
    onnx = import_optional("onnx", "reading ONNX metadata before an engine build")
    path = Path(onnx_path)
    if not path.is_file():
        raise ConfigError(f"ONNX file {path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises protobuf DecodeError, ValueError, OSError... for bad files
        raise UnreadableOnnx(str(exc)) from exc
    props = {p.key: p.value for p in model.metadata_props}
    if ONNX_METADATA_KEY not in props:
        raise EngineLoadError(
            f"{path} has no vitpose-trt metadata (metadata_props key {ONNX_METADATA_KEY!r}); "
            "export it with vitpose-export so the engine knows its model, keypoints and pipeline"
        )
    metadata = ArtifactMetadata.from_json(props[ONNX_METADATA_KEY], f"{path} metadata")
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
