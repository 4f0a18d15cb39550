"""The engine metadata sidecar (`DIR/<stem>.json` next to `DIR/<stem>.engine`): schema, I/O, checks.

Layout: the ONNX's `ArtifactMetadata` fields at the top level (so `ArtifactMetadata.from_dict` reads
a sidecar as-is), plus an "engine" object describing the build. Pure data: standard library only,
so the runtime can read it without importing TensorRT.

The runtime calls `sidecar_for_engine(path)` and then `check_engine_compatible(...)`, which refuses
an engine built by another library, another library version (TensorRT and TensorRT-RTX engines only
load in the exact version that built them) or for another compute capability, with the command that
rebuilds it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError, EngineLoadError
from ..metadata import ArtifactMetadata, parsed_json
from .library import TENSORRT_RTX, cli_builder_name, library_name, parsed_version
from .network import TensorInfo
from .target import compute_capability_name

#: Bumped when a field of the "engine" object changes meaning; readers refuse newer ones.
SIDECAR_SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".json"
ENGINE_SUFFIX = ".engine"
_LIBRARY_TITLES = {"tensorrt": "TensorRT", TENSORRT_RTX: "TensorRT-RTX"}


@dataclass
class EngineSidecar:
    """Everything known about one engine file.

    compute_capabilities: what the engine runs on, spelled "SM89" (TensorRT: the build GPU's; RTX:
    its targets). gpu_name: the build GPU (TensorRT only, None on RTX CPU builds). batch: the
    profile's (MIN, OPT, MAX). inputs / outputs: tensor names, dtypes and shapes (-1 = batch).
    """

    artifact: ArtifactMetadata
    engine_file: str
    engine_sha256: str
    engine_bytes: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    batch: tuple[int, int, int]
    library: str
    library_version: str
    compute_capabilities: tuple[str, ...]
    gpu_name: str | None
    onnx_file: str
    onnx_sha256: str
    build_options: dict
    build_seconds: float
    built_at: str
    vitpose_trt_version: str
    schema: int = SIDECAR_SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    @property
    def precision(self) -> str:
        return self.artifact.precision

    def to_dict(self) -> dict:
        section = {
            "schema": self.schema, "file": self.engine_file, "sha256": self.engine_sha256,
            "bytes": self.engine_bytes, "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs], "batch": list(self.batch),
            "library": self.library, "library_version": self.library_version,
            "target": {"gpu": self.gpu_name, "compute_capabilities": list(self.compute_capabilities)},
            "onnx": {"file": self.onnx_file, "sha256": self.onnx_sha256},
            "build_options": self.build_options, "build_seconds": self.build_seconds,
            "built_at": self.built_at, "vitpose_trt_version": self.vitpose_trt_version, "extra": self.extra,
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
            return cls(
                artifact=artifact, engine_file=str(section["file"]), engine_sha256=str(section["sha256"]),
                engine_bytes=int(section["bytes"]),
                inputs=tuple(TensorInfo.from_dict(t) for t in section["inputs"]),
                outputs=tuple(TensorInfo.from_dict(t) for t in section["outputs"]),
                batch=_batch(section["batch"]), library=str(section["library"]),
                library_version=str(section["library_version"]),
                compute_capabilities=tuple(compute_capability_name(c)
                                           for c in section["target"]["compute_capabilities"]),
                gpu_name=section["target"]["gpu"], onnx_file=str(section["onnx"]["file"]),
                onnx_sha256=str(section["onnx"]["sha256"]), build_options=dict(section["build_options"]),
                build_seconds=float(section["build_seconds"]), built_at=str(section["built_at"]),
                vitpose_trt_version=str(section["vitpose_trt_version"]), schema=section["schema"],
                extra=dict(section.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise EngineLoadError(f"{source}: engine sidecar is incomplete or malformed ({exc!r})") from exc

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> EngineSidecar:
        return cls.from_dict(parsed_json(text, source, "engine sidecar"), source)


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


def check_engine_compatible(sidecar: EngineSidecar, library_module: ModuleType, device_name: str,
                            compute_capability, engine_path: Path | None = None) -> None:
    """Raise EngineLoadError (saying how to rebuild) when the engine cannot run with this library on this GPU.

    library_module: the imported `tensorrt` or `tensorrt_rtx`. compute_capability: "8.9", (8, 9) or
    "SM89". engine_path (optional) puts the engine's folder into the rebuild command. A TensorRT
    engine built on another GPU model of the same compute capability loads, with
    a warning (TensorRT tunes for the exact model).
    """
    library = library_name(library_module)
    device_cc = compute_capability_name(compute_capability)
    problem = None
    if library != sidecar.library:
        problem = f"it was built with {_title(sidecar.library)}, but this runtime uses {_title(library)}"
    elif parsed_version(library_module.__version__) != parsed_version(sidecar.library_version):
        problem = (f"it was built with {_title(library)} {sidecar.library_version}, but "
                   f"{library_module.__version__} is installed (engines load only in the version that built them)")
    elif device_cc not in sidecar.compute_capabilities:
        problem = (f"it targets compute capability {', '.join(sidecar.compute_capabilities)}, but "
                   f"{device_name} is {device_cc}")
    if problem is not None:
        folder = Path(engine_path).parent if engine_path is not None else None
        command = rebuild_command(sidecar, library, device_cc, folder)
        raise EngineLoadError(f"cannot use engine {sidecar.engine_file}: {problem}. Rebuild it here with: {command}")
    if sidecar.gpu_name and sidecar.gpu_name != device_name:
        warnings.warn(f"engine {sidecar.engine_file} was built on {sidecar.gpu_name}, running on {device_name} "
                      "(same compute capability; rebuild on this GPU for best speed)", stacklevel=2)


def rebuild_command(sidecar: EngineSidecar, library: str, device_cc: str | None = None,
                    output_dir: Path | None = None) -> str:
    """The `vitpose-export` command that rebuilds this engine with `library` (adding `device_cc` on RTX).

    The checkpoint path is not recorded anywhere, so the command names it CHECKPOINT.
    """
    options = sidecar.build_options
    parts = ["vitpose-export", "--model", sidecar.artifact.model, "--dataset", sidecar.artifact.keypoint_set,
             "--weights", "CHECKPOINT", "--precision", sidecar.precision, "--builder", cli_builder_name(library),
             "--batch", ":".join(map(str, sidecar.batch))]
    if library == TENSORRT_RTX:
        targets = list(options.get("compute_capabilities") or [])
        if device_cc and targets and device_cc not in targets:
            targets.append(device_cc)
        if targets:
            parts += ["--compute-capability", ",".join(_dotted(t) for t in targets)]
    if options.get("workspace_mib") is not None:
        parts += ["--workspace", str(options["workspace_mib"])]
    if options.get("optimization_level") is not None:
        parts += ["--opt-level", str(options["optimization_level"])]
    parts += ["--output", str(output_dir) if output_dir is not None else "DIR", "--force"]
    return " ".join(parts)


def _dotted(name: str) -> str:
    """"SM89" -> "8.9", "SM120" -> "12.0" (the CLI's spelling)."""
    digits = name.removeprefix("SM")
    return f"{digits[:-1]}.{digits[-1]}" if digits.isdigit() else name


def _title(library: str) -> str:
    return _LIBRARY_TITLES.get(library, library)


def _batch(values) -> tuple[int, int, int]:
    low, opt, high = (int(v) for v in values)
    return low, opt, high
