"""The engine metadata sidecar (`DIR/<stem>.json` next to `DIR/<stem>.engine`): its schema, reader and writer.

Layout: the ONNX's `ArtifactMetadata` fields at the top level (so `ArtifactMetadata.from_dict` reads a
sidecar as it is), plus an "engine" object describing the build: file digest, I/O tensors, batch profile,
library and version, compute-capability targets, the source ONNX and the build options. Pure data
(standard library only), so the runtime can read it without importing TensorRT. Schema-1 sidecars
(vitpose-trt 0.1.0: TensorRT dtype names, an `extra` object) are read and converted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, EngineLoadError
from ..gpus import compute_capability_name
from .build_options import BuildOptions
from .io import ModelIO, TensorSpec
from .metadata import ArtifactMetadata, parsed_json

#: Bumped when a field of the "engine" object changes meaning; readers refuse newer ones.
SIDECAR_SCHEMA_VERSION = 2
SIDECAR_SUFFIX = ".json"
ENGINE_SUFFIX = ".engine"
#: File suffixes of serialized engines (`.plan` is Triton's and trtexec's name for the same thing).
ENGINE_SUFFIXES = (ENGINE_SUFFIX, ".plan")


@dataclass(frozen=True)
class EngineSidecar:
    """Everything known about one engine file.

    io: the engine's input and output tensors (dtype names as numpy spells them, -1 = batch).
    batch: the profile's (MIN, OPT, MAX). compute_capabilities: what the engine runs on, spelled "SM89"
    (TensorRT: the build GPU's; RTX: its targets). gpu_name: the build GPU (TensorRT only, None on RTX CPU
    builds). build_options: what the user asked of the builder.
    """

    artifact: ArtifactMetadata
    engine_file: str
    engine_sha256: str
    engine_bytes: int
    io: ModelIO
    batch: tuple[int, int, int]
    library: str
    library_version: str
    compute_capabilities: tuple[str, ...]
    gpu_name: str | None
    onnx_file: str
    onnx_sha256: str
    build_options: BuildOptions
    build_seconds: float
    built_at: str
    vitpose_trt_version: str
    schema: int = SIDECAR_SCHEMA_VERSION

    @property
    def precision(self) -> str:
        return self.artifact.precision

    def to_dict(self) -> dict:
        section = {
            "schema": self.schema, "file": self.engine_file, "sha256": self.engine_sha256,
            "bytes": self.engine_bytes, **self.io.to_dict(), "batch": list(self.batch),
            "library": self.library, "library_version": self.library_version,
            "target": {"gpu": self.gpu_name, "compute_capabilities": list(self.compute_capabilities)},
            "onnx": {"file": self.onnx_file, "sha256": self.onnx_sha256},
            "build_options": self.build_options.to_dict(), "build_seconds": self.build_seconds,
            "built_at": self.built_at, "vitpose_trt_version": self.vitpose_trt_version,
        }
        return {**self.artifact.to_dict(), "engine": section}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict, source: str = "sidecar") -> EngineSidecar:
        """Parse and validate; raise EngineLoadError naming `source` when anything is missing or wrong."""
        artifact = ArtifactMetadata.from_dict(data, source)
        section = data.get("engine")
        if not isinstance(section, dict):
            raise EngineLoadError(f"{source}: no 'engine' object; it is not an engine sidecar")
        if not isinstance(section.get("schema"), int) or section["schema"] > SIDECAR_SCHEMA_VERSION:
            raise EngineLoadError(f"{source}: engine schema {section.get('schema')!r} is not one this "
                                  f"vitpose-trt reads (<= {SIDECAR_SCHEMA_VERSION}); upgrade vitpose-trt")
        try:
            return _from_section(artifact, section)
        except (KeyError, TypeError, ValueError, ConfigError, EngineLoadError) as exc:
            raise EngineLoadError(f"{source}: engine sidecar is incomplete or malformed ({exc!r})") from exc

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> EngineSidecar:
        return cls.from_dict(parsed_json(text, source, "engine sidecar"), source)


def _from_section(artifact: ArtifactMetadata, section: dict) -> EngineSidecar:
    low, opt, high = (int(v) for v in section["batch"])
    return EngineSidecar(
        artifact=artifact, engine_file=str(section["file"]), engine_sha256=str(section["sha256"]),
        engine_bytes=int(section["bytes"]),
        io=ModelIO(tuple(TensorSpec.from_dict(t) for t in section["inputs"]),
                   tuple(TensorSpec.from_dict(t) for t in section["outputs"])),
        batch=(low, opt, high), library=str(section["library"]), library_version=str(section["library_version"]),
        compute_capabilities=tuple(compute_capability_name(c) for c in section["target"]["compute_capabilities"]),
        gpu_name=section["target"]["gpu"], onnx_file=str(section["onnx"]["file"]),
        onnx_sha256=str(section["onnx"]["sha256"]), build_options=BuildOptions.from_dict(section["build_options"]),
        build_seconds=float(section["build_seconds"]), built_at=str(section["built_at"]),
        vitpose_trt_version=str(section["vitpose_trt_version"]), schema=SIDECAR_SCHEMA_VERSION,
    )


def sidecar_path_for(engine_path: Path) -> Path:
    """`DIR/<stem>.json` for `DIR/<stem>.engine` (or .plan)."""
    return Path(engine_path).with_suffix(SIDECAR_SUFFIX)


def sidecar_for_engine(engine_path: Path) -> EngineSidecar:
    """Read and validate the sidecar next to `engine_path`; EngineLoadError when missing or invalid."""
    engine_path = Path(engine_path)
    path = sidecar_path_for(engine_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EngineLoadError(
            f"{engine_path} has no metadata sidecar {path.name} next to it; engines are usable only with "
            "the sidecar vitpose-export writes (rebuild the engine with vitpose-export)"
        ) from None
    except OSError as exc:
        raise EngineLoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return EngineSidecar.from_json(text, str(path))
