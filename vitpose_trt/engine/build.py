"""`engine_from_onnx`: ONNX file -> `DIR/<stem>.engine` + `DIR/<stem>.json`, skipped when up to date.

The same code path serves TensorRT 10 (JetPack 6), TensorRT 11 and TensorRT-RTX: a strongly typed
network whose precision comes from the ONNX graph. What differs between them (timing cache,
compute-capability targets, what the engine's target is) is documented in config.py and target.py.
TensorRT builds need the GPU the engine will run on; TensorRT-RTX builds run on a CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from .._version import __version__
from ..artifacts.build_options import BuildOptions
from ..artifacts.io import ModelIO
from ..artifacts.metadata import ArtifactMetadata
from ..artifacts.onnx_metadata import UnreadableOnnx
from ..artifacts.sidecar import (
    ENGINE_SUFFIX,
    EngineSidecar,
    sidecar_for_engine,
    sidecar_path_for,
)
from ..atomic_files import write_bytes_atomically
from ..errors import ConfigError, EngineBuildError, EngineLoadError
from ..gpus import CURRENT_CC, current_gpu
from .builder_log import build_logger
from .config import config_for_build, save_timing_cache, timing_cache_path
from .files import build_lock, sha256_of_bytes, sha256_of_files, writable_directory
from .library import (
    builder_library,
    is_rtx,
    library_name,
    library_version,
    parsed_version,
)
from .network import ParsedNetwork, network_from_onnx
from .plan import serialized_engine
from .progress import progress_monitor
from .source import OnnxSource, onnx_source
from .target import rtx_targets


@dataclass(frozen=True)
class BuiltEngine:
    """Result of `engine_from_onnx`. build_seconds is 0.0 when the build was skipped (skipped=True)."""

    engine_path: Path
    sidecar_path: Path
    skipped: bool
    build_seconds: float
    sidecar: EngineSidecar


@dataclass(frozen=True)
class _Target:
    compute_capabilities: tuple[str, ...]
    gpu_name: str | None


@dataclass(frozen=True)
class BuiltPlan:
    """Result of `plan_from_onnx`: the serialized engine in memory (a buffer) and its I/O tensors."""

    plan: object
    io: ModelIO
    library: str
    compute_capabilities: tuple[str, ...]


def plan_from_onnx(onnx_path: Path, options: BuildOptions | None = None, progress: bool = True) -> BuiltPlan:
    """Build any ONNX file (no metadata of ours needed) into a serialized engine in memory.

    The builder of `engine_from_onnx` without its files: the same strongly typed network, batch profile on
    the first axis of every input, targets and options. Raises as `engine_from_onnx` does.
    """
    options = options if options is not None else BuildOptions()
    trt = builder_library(options.builder)
    target = _build_target(trt, options)
    plan, parsed = _built_plan(trt, Path(onnx_path), options, target, progress)
    return BuiltPlan(plan, ModelIO(tuple(parsed.inputs), tuple(parsed.outputs)), library_name(trt),
                     target.compute_capabilities)


def engine_from_onnx(onnx_path: Path, options: BuildOptions | None = None, output_dir: Path | None = None,
                     progress: bool = True) -> BuiltEngine:
    """Build `onnx_path` into `output_dir/<stem>.engine` (default: next to the ONNX) plus its sidecar.

    Skips the build (skipped=True) when the existing sidecar records the same ONNX digest, engine
    settings, library and version, target and engine digest, unless `options.force`. Both files are
    written atomically; concurrent calls for the same engine file take turns (a file lock), so the
    later one finds the engine up to date. Raises MissingDependencyError (no builder library),
    ConfigError (bad options, missing ONNX, an ONNX made for ONNX Runtime on CPUs, unwritable directory),
    EngineLoadError (ONNX without vitpose-trt metadata), EngineBuildError (parser or builder failure,
    quoting its log), KeyboardInterrupt (Ctrl-C; the build is cancelled and nothing is left behind).
    """
    options = options if options is not None else BuildOptions()
    onnx_path = Path(onnx_path)
    trt = builder_library(options.builder)
    out_dir = writable_directory(Path(output_dir) if output_dir is not None else onnx_path.parent)
    engine_path = out_dir / f"{onnx_path.stem}{ENGINE_SUFFIX}"
    source = _source_or_parser_error(trt, onnx_path)
    target = _build_target(trt, options)
    with build_lock(engine_path):  # a concurrent build of the same file finishes first, then we may skip
        if not options.force:
            previous = _up_to_date_sidecar(engine_path, source, trt, options, target)
            if previous is not None:
                return BuiltEngine(engine_path, sidecar_path_for(engine_path), True, 0.0, previous)
        started = time.perf_counter()
        plan, parsed = _built_plan(trt, source.path, options, target, progress, source.metadata)
        seconds = time.perf_counter() - started
        sidecar = _describe(trt, source, options, target, parsed, plan, engine_path, seconds)
        _write_outputs(engine_path, plan, sidecar)
    return BuiltEngine(engine_path, sidecar_path_for(engine_path), False, seconds, sidecar)


def _source_or_parser_error(trt: ModuleType, onnx_path: Path) -> OnnxSource:
    """onnx_source, except that an unreadable file is reported by the TensorRT parser's own errors."""
    try:
        return onnx_source(onnx_path)
    except UnreadableOnnx as exc:
        try:
            network_from_onnx(trt, onnx_path, build_logger(trt))
        except EngineBuildError as parser_error:
            raise EngineBuildError(f"{parser_error}\n(onnx could not read it either: {exc})") from exc
        raise EngineBuildError(str(exc)) from exc


def _build_target(trt: ModuleType, options: BuildOptions) -> _Target:
    if not is_rtx(trt):
        if options.compute_capabilities:
            raise ConfigError("compute capabilities can only be chosen when building with TensorRT-RTX; "
                              "TensorRT builds for the GPU it runs on")
        gpu = current_gpu()
        return _Target((gpu.compute_capability,), gpu.name)
    targets = rtx_targets(trt, options.compute_capabilities)
    if targets == (CURRENT_CC,):
        targets = (current_gpu().compute_capability,)
    return _Target(targets, None)


def _built_plan(trt: ModuleType, onnx_path: Path, options: BuildOptions, target: _Target, progress: bool,
                metadata: ArtifactMetadata | None = None):
    """(serialized plan, parsed network); the network is first checked against `metadata`'s task tensors."""
    logger = build_logger(trt)
    parsed = network_from_onnx(trt, onnx_path, logger)
    if metadata is not None:
        _check_task_tensors(parsed, metadata)
    cache = timing_cache_path(trt, options, target.gpu_name or "", target.compute_capabilities[0])
    config = config_for_build(trt, parsed, options, logger, cache)
    monitor = progress_monitor(trt, show=progress)
    config.progress_monitor = monitor
    plan = serialized_engine(parsed.builder, parsed.network, config, monitor, logger)
    if cache is not None:
        save_timing_cache(config, cache)
    return plan, parsed


def _check_task_tensors(parsed: ParsedNetwork, metadata: ArtifactMetadata) -> None:
    """ConfigError unless the network has the inputs and outputs its metadata's task names."""
    inputs, outputs = metadata.task_tensors()
    names = [t.name for t in parsed.inputs]
    if sorted(names) != sorted(inputs):
        wanted = f"one input named {inputs[0]!r}" if len(inputs) == 1 else f"the inputs {list(inputs)}"
        raise ConfigError(f"the network must have exactly {wanted} (its {metadata.task} metadata says so), "
                          f"it has {names}")
    missing = set(outputs) - {t.name for t in parsed.outputs}
    if missing:
        raise ConfigError(f"the network has no output {sorted(missing)} that its {metadata.task} metadata names; "
                          f"its outputs: {[t.name for t in parsed.outputs]}")


def _describe(trt: ModuleType, source: OnnxSource, options: BuildOptions, target: _Target,
              parsed: ParsedNetwork, plan, engine_path: Path, seconds: float) -> EngineSidecar:
    return EngineSidecar(
        artifact=source.metadata, engine_file=engine_path.name, engine_sha256=sha256_of_bytes(memoryview(plan)),
        engine_bytes=plan.nbytes, io=ModelIO(tuple(parsed.inputs), tuple(parsed.outputs)),
        batch=options.batch, library=library_name(trt), library_version=trt.__version__,
        compute_capabilities=target.compute_capabilities, gpu_name=target.gpu_name,
        onnx_file=source.path.name, onnx_sha256=source.sha256, build_options=options,
        build_seconds=round(seconds, 3), built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        vitpose_trt_version=__version__,
    )


def _write_outputs(engine_path: Path, plan, sidecar: EngineSidecar) -> None:
    """Engine, then sidecar; the old sidecar goes first so an interrupted write never pairs mismatched files."""
    sidecar_path = sidecar_path_for(engine_path)
    sidecar_path.unlink(missing_ok=True)
    write_bytes_atomically(engine_path, memoryview(plan))
    write_bytes_atomically(sidecar_path, sidecar.to_json().encode("utf-8"))


def _up_to_date_sidecar(engine_path: Path, source: OnnxSource, trt: ModuleType, options: BuildOptions,
                        target: _Target) -> EngineSidecar | None:
    """The existing sidecar when it describes exactly the engine this build would make, else None."""
    if not engine_path.is_file():
        return None
    try:
        old = sidecar_for_engine(engine_path)
    except EngineLoadError:
        return None
    same_build = (
        old.onnx_sha256 == source.sha256
        and old.library == library_name(trt)
        and _version_or_none(old.library_version) == library_version(trt)
        and old.build_options.engine_settings() == options.engine_settings()
        and old.compute_capabilities == target.compute_capabilities
        and old.gpu_name == target.gpu_name
    )
    intact = same_build and old.engine_bytes == engine_path.stat().st_size \
        and old.engine_sha256 == sha256_of_files([engine_path])
    return old if intact else None


def _version_or_none(text: str) -> tuple[int, ...] | None:
    try:
        return parsed_version(text)
    except ValueError:
        return None
