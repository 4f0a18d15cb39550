"""Artifact metadata inside OpenVINO models: the one writer and the one reader of the runtime-info entry.

An OpenVINO IR (`<stem>.xml` + `<stem>.bin`) keeps `ArtifactMetadata.to_json()` in the model's runtime
info under `ONNX_METADATA_KEY`, the key ONNX files use in `metadata_props`. OpenVINO reading an ONNX file
puts its `metadata_props` under the runtime-info section `FRAMEWORK_SECTION`, so the same reader serves
both: the top-level entry first (an IR written by vitpose-export), else the ONNX's. `model` arguments are
`openvino.Model` objects; `openvino` itself loads lazily, only to read a file.
"""

from __future__ import annotations

from pathlib import Path

from ..dependencies import import_optional
from ..errors import ConfigError, EngineLoadError
from .metadata import ArtifactMetadata
from .onnx_metadata import ONNX_METADATA_KEY

#: File suffix of an OpenVINO IR's graph; its weights sit beside it in `OPENVINO_WEIGHTS_SUFFIX`.
OPENVINO_SUFFIX = ".xml"
OPENVINO_WEIGHTS_SUFFIX = ".bin"
#: Runtime-info section where OpenVINO's ONNX frontend puts the file's `metadata_props`.
FRAMEWORK_SECTION = "framework"


def weights_path_for(xml_path: str | Path) -> Path:
    """`DIR/<stem>.bin` beside `DIR/<stem>.xml`."""
    return Path(xml_path).with_suffix(OPENVINO_WEIGHTS_SUFFIX)


def props_of_openvino_model(model) -> dict[str, str]:
    """The string entries a model's runtime info carries: those of its `FRAMEWORK_SECTION` (an ONNX's
    `metadata_props`), then the top-level `ONNX_METADATA_KEY` entry, which wins."""
    props = {}
    if model.has_rt_info(FRAMEWORK_SECTION):
        section = model.get_rt_info(FRAMEWORK_SECTION).astype(dict)
        props.update({str(key): _text(value) for key, value in section.items()})
    if model.has_rt_info(ONNX_METADATA_KEY):
        props[ONNX_METADATA_KEY] = _text(model.get_rt_info(ONNX_METADATA_KEY))
    return props


def _text(value) -> str:
    """A runtime-info value (an `OVAny` or a plain value) as a string."""
    return value.astype(str) if hasattr(value, "astype") else str(value)


def metadata_from_openvino_model(model, source: str) -> ArtifactMetadata | None:
    """The metadata an `openvino.Model` carries (see the module docstring), or None when it has none.

    Raises `EngineLoadError` naming `source` when the entry is there but not valid metadata.
    """
    text = props_of_openvino_model(model).get(ONNX_METADATA_KEY)
    return None if text is None else ArtifactMetadata.from_json(text, f"{source} metadata")


def with_openvino_metadata(model, metadata: ArtifactMetadata):
    """Set `metadata` as the model's top-level `ONNX_METADATA_KEY` runtime-info entry (in place); return `model`.

    The source ONNX's copy under `FRAMEWORK_SECTION` stays (OpenVINO offers no removal) but is shadowed:
    `metadata_from_openvino_model` reads the top-level entry first.
    """
    model.set_rt_info(metadata.to_json(), ONNX_METADATA_KEY)
    return model


def openvino_model(path: str | Path):
    """The `openvino.Model` of an IR `.xml` (or any file OpenVINO reads), not compiled.

    Raises `ConfigError` when there is no such file and `EngineLoadError` when OpenVINO cannot read it.
    """
    openvino = import_optional("openvino", "reading OpenVINO models")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"OpenVINO model {path} does not exist")
    try:
        return openvino.Core().read_model(str(path))
    except RuntimeError as exc:  # OpenVINO raises RuntimeError for unreadable or incomplete models
        raise EngineLoadError(f"{path}: OpenVINO cannot read it (damaged, or its {OPENVINO_WEIGHTS_SUFFIX} "
                              f"file missing?): {exc}") from exc


def metadata_from_openvino(path: str | Path) -> ArtifactMetadata:
    """The metadata of the OpenVINO model at `path`.

    Raises `ConfigError` (no such file) or `EngineLoadError` (unreadable, no metadata of ours, or invalid).
    """
    metadata = metadata_from_openvino_model(openvino_model(path), str(path))
    if metadata is None:
        raise EngineLoadError(f"{path} has no vitpose-trt metadata (runtime info key {ONNX_METADATA_KEY!r}); "
                              "was it written by vitpose-export?")
    return metadata
