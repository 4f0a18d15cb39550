"""Artifact metadata inside ONNX files: the one writer and the one reader of the `metadata_props` entry.

The runtime reads it from an ONNX Runtime session's `custom_metadata_map` (no `onnx` needed there), export
and the engine builder from the file's graph proto; both go through `metadata_from_props`. `onnx` loads
lazily, and never the external tensors (a ViTPose-H graph keeps them beside the file).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..dependencies import import_optional
from ..errors import ConfigError, EngineLoadError
from .metadata import ArtifactMetadata

#: The ONNX metadata_props key holding `ArtifactMetadata.to_json()`.
ONNX_METADATA_KEY = "vitpose_trt"
#: File suffix of ONNX models.
ONNX_SUFFIX = ".onnx"


class UnreadableOnnx(EngineLoadError):
    """A file that `onnx` cannot parse as a model (not ONNX, truncated, damaged)."""


def metadata_from_props(props: Mapping[str, str], source: str) -> ArtifactMetadata | None:
    """The metadata stored under `ONNX_METADATA_KEY` in an ONNX file's `props`, or None when there is none.

    Raises `EngineLoadError` naming `source` when the entry is there but not valid metadata.
    """
    text = props.get(ONNX_METADATA_KEY)
    return None if text is None else ArtifactMetadata.from_json(text, f"{source} metadata")


def onnx_graph(path: str | Path):
    """The `onnx.ModelProto` of `path` without its external tensors.

    Raises `ConfigError` when there is no such file and `UnreadableOnnx` when it is not a readable model.
    """
    onnx = import_optional("onnx", "reading ONNX files")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ONNX file {path} does not exist")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises protobuf DecodeError, ValueError, OSError... for bad files
        raise UnreadableOnnx(f"{path} is not a readable ONNX model: {exc}") from exc


def props_of(model) -> dict[str, str]:
    """The `metadata_props` of an `onnx.ModelProto` as a dict."""
    return {prop.key: prop.value for prop in model.metadata_props}


def metadata_from_onnx(path: str | Path) -> ArtifactMetadata:
    """The metadata of the ONNX file at `path` (tensors are not loaded).

    Raises `ConfigError` (no such file), `UnreadableOnnx` (not ONNX) or `EngineLoadError` (no metadata of
    ours, or invalid metadata).
    """
    metadata = metadata_from_props(props_of(onnx_graph(path)), str(path))
    if metadata is None:
        raise EngineLoadError(f"{path} has no vitpose-trt metadata (metadata_props key {ONNX_METADATA_KEY!r}); "
                              "was it written by vitpose-export?")
    return metadata


def with_metadata(model, metadata: ArtifactMetadata):
    """Set `metadata` as the `ONNX_METADATA_KEY` entry of `model.metadata_props` (in place); return `model`."""
    for prop in list(model.metadata_props):
        if prop.key == ONNX_METADATA_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, metadata.to_json()
    return model
