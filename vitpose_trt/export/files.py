"""Writing export artifacts: ONNX files (inline or with external data) and JSON reports, atomically.

Every file is written to a temporary name in its destination folder and moved into place with
`os.replace`, so a reader never sees a half-written file. ONNX models whose tensors would push the
protobuf past its 2 GiB limit (ViTPose-H in fp32) are saved with their tensors in one external
data file `<name>.onnx.data` beside the `.onnx`; both files are moved into place the same way.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from ..artifacts.metadata import ArtifactMetadata
from ..artifacts.onnx_metadata import metadata_from_onnx
from ..atomic_files import staged_folder, write_text_atomically
from ..dependencies import import_optional
from ..errors import EngineLoadError, ExportError

#: Protobuf refuses to serialise a message of 2 GiB or more.
PROTOBUF_LIMIT_BYTES = 2**31
#: Room left under that limit for the graph structure and metadata when deciding on external data.
GRAPH_HEADROOM_BYTES = 64 * 2**20
#: Models whose tensors add up to more than this are saved with external data.
EXTERNAL_DATA_THRESHOLD_BYTES = PROTOBUF_LIMIT_BYTES - GRAPH_HEADROOM_BYTES
#: Tensors up to this size stay inside the proto even with external data: ONNX Runtime's shape
#: inference must read small constants such as Reshape targets from the graph itself.
INLINE_TENSOR_MAX_BYTES = 1024
#: Suffix of the external data file written beside `<name>.onnx`.
EXTERNAL_DATA_SUFFIX = ".data"


def external_data_path(onnx_path: str | Path) -> Path:
    """The external data file that belongs to `onnx_path` (`model.onnx` -> `model.onnx.data`)."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.name + EXTERNAL_DATA_SUFFIX)


def tensor_bytes(model) -> int:
    """Serialized size in bytes of the initializers of an `onnx.ModelProto`."""
    return sum(t.ByteSize() for t in model.graph.initializer)


def uses_external_data(model) -> bool:
    """Whether any initializer of an `onnx.ModelProto` lives in an external file."""
    onnx = import_optional("onnx", "ONNX export")
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def source_metadata(path: str | Path) -> ArtifactMetadata:
    """The metadata of the ONNX file a conversion starts from (`artifacts.metadata_from_onnx`), with an
    unreadable file or one without metadata reported as `ExportError`."""
    try:
        return metadata_from_onnx(path)
    except EngineLoadError as exc:
        raise ExportError(str(exc)) from exc


def default_opset(model) -> int:
    """The default-domain ("ai.onnx") opset of an `onnx.ModelProto`."""
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def converted_metadata(metadata: ArtifactMetadata, model, precision: str, target: str | None = None,
                       **recipe) -> ArtifactMetadata:
    """`metadata` for the converted `model` (an `onnx.ModelProto`): `precision`, `target` (None: unchanged),
    the model's opset and the conversion's `recipe` (`Provenance` fields).

    (Converters may raise the opset: ModelOpt's Q/DQ graphs need opset 19.)
    """
    provenance = dataclasses.replace(metadata.provenance, opset=default_opset(model), **recipe)
    return metadata.converted(precision, provenance, target)


def save_onnx_atomic(model, path: str | Path, external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES) -> Path:
    """Write `model` (an `onnx.ModelProto`) to `path` atomically; return `path`.

    When its tensors exceed `external_data_threshold` bytes they go to `external_data_path(path)`
    (one file, location relative to the `.onnx`); otherwise a stale external data file is removed.
    The model object is consumed: with external data its tensors are moved out of the proto.
    onnx writes the data file under its final name, so both files are written into a staging folder
    beside `path` and moved into place, the data file first.
    """
    onnx = import_optional("onnx", "ONNX export")
    path = Path(path)
    data_path = external_data_path(path)
    external = tensor_bytes(model) > external_data_threshold
    try:
        with staged_folder(path.parent, path.name) as staging:
            staged = staging / path.name
            if external:
                onnx.save_model(model, str(staged), save_as_external_data=True, all_tensors_to_one_file=True,
                                location=data_path.name, size_threshold=INLINE_TENSOR_MAX_BYTES)
                os.replace(staging / data_path.name, data_path)
            else:
                onnx.save_model(model, str(staged))
            os.replace(staged, path)
    except (OSError, ValueError) as exc:
        raise ExportError(f"could not write {path}: {exc}") from exc
    if not external and data_path.exists():
        data_path.unlink()
    return path


def copy_onnx(src: str | Path, dst_dir: str | Path) -> Path:
    """Copy an ONNX file and its external data file (if any) into `dst_dir`; return the copied `.onnx`."""
    src, dst_dir = Path(src), Path(dst_dir)
    dst = dst_dir / src.name
    shutil.copyfile(src, dst)
    if external_data_path(src).exists():
        shutil.copyfile(external_data_path(src), external_data_path(dst))
    return dst


def write_json_atomic(data: dict, path: str | Path) -> Path:
    """Write `data` as indented JSON to `path` atomically; return `path`."""
    return write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
