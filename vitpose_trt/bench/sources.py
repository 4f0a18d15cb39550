"""What `--model` names: a known variant (random weights), a file (ONNX, engine, checkpoint), or a Hugging
Face Hub id (a checkpoint: its snapshot folder in the huggingface_hub cache, downloaded on first use).

A file fixes what it can run on: an `.onnx` runs on onnxruntime (or openvino), an OpenVINO IR `.xml` on
openvino, an `.engine`/`.plan` on tensorrt, a checkpoint on torch (and on the others after a cached export).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..artifacts.onnx_metadata import ONNX_SUFFIX, metadata_from_onnx
from ..artifacts.openvino_metadata import OPENVINO_SUFFIX, metadata_from_openvino
from ..artifacts.sidecar import ENGINE_SUFFIXES, sidecar_for_engine
from ..errors import ConfigError
from ..model.hub import hub_id_from_text, snapshot_folder
from ..specs import MODELS

#: The backends a file type runs on, the default first.
FILE_BACKENDS = {"onnx": ("onnxruntime", "openvino"), "openvino": ("openvino",), "engine": ("tensorrt",)}


@dataclass(frozen=True)
class ModelSource:
    """label: the report's "model" column; kind: "name", "onnx", "openvino" (an IR), "engine" or "checkpoint"."""

    label: str
    kind: str
    name: str | None = None
    path: Path | None = None

    @property
    def file_backends(self) -> tuple[str, ...]:
        """The backends this file runs on (the default first), or () when any can (after export)."""
        return FILE_BACKENDS.get(self.kind, ())

    @property
    def fixed_backend(self) -> str | None:
        """The backend this file runs on by default, or None when any can (after export)."""
        return next(iter(self.file_backends), None)


def model_sources(texts: list[str]) -> list[ModelSource]:
    """`model_source` of each distinct `--model` item, in order, labelled apart: files that share a name (two
    `hf` folders, two `model.safetensors`) are labelled with as many trailing path parts as it takes, so
    that rows and plot lines of different models never merge."""
    sources = [model_source(text) for text in dict.fromkeys(texts)]
    labels = [source.label for source in sources]
    files = [source.path is not None and source.label == source.path.name for source in sources]  # not Hub ids
    for parts in range(2, 1 + max((len(s.path.resolve().parts) for s, file in zip(sources, files) if file),
                                  default=0)):
        clashing = {label for label in labels if labels.count(label) > 1}
        if not clashing:
            break
        labels = [str(Path(*s.path.resolve().parts[-parts:])) if file and label in clashing else label
                  for s, file, label in zip(sources, files, labels)]
    return [dataclasses.replace(source, label=label) for source, label in zip(sources, labels)]


def model_source(text: str) -> ModelSource:
    """Parse one `--model` item: a key of `MODELS`, an existing file/folder or a Hub id; else `ConfigError`.

    A Hub id is resolved now (downloaded when not cached; `CheckpointError` when it cannot be): the
    source is its snapshot folder, labelled with the id.
    """
    if text in MODELS:
        return ModelSource(label=text, kind="name", name=text)
    hub_id = hub_id_from_text(text)
    if hub_id is not None:
        return ModelSource(label=str(hub_id), kind="checkpoint", path=snapshot_folder(hub_id))
    path = Path(text).expanduser()
    if not path.exists():
        raise ConfigError(f"--model {text!r} is neither a known model ({', '.join(MODELS)}), an existing path nor "
                          "a Hugging Face Hub id (org/name[@revision])")
    suffix = path.suffix.lower()
    kinds = {ONNX_SUFFIX: "onnx", OPENVINO_SUFFIX: "openvino", **dict.fromkeys(ENGINE_SUFFIXES, "engine")}
    kind = kinds.get(suffix, "checkpoint")
    return ModelSource(label=path.name, kind=kind, path=path)


def precision_of_file(source: ModelSource) -> str | None:
    """The precision recorded in an ONNX / OpenVINO / engine file's metadata (None for names and checkpoints)."""
    if source.kind == "onnx":
        return metadata_from_onnx(source.path).precision
    if source.kind == "openvino":
        return metadata_from_openvino(source.path).precision
    if source.kind == "engine":
        return sidecar_for_engine(source.path).precision
    return None
