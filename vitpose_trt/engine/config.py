"""The IBuilderConfig for a build: batch profile, memory limit, optimization level, timing cache, targets.

No precision flags are ever set: the network is strongly typed and its precision comes from the
ONNX graph (TensorRT 11 removed BuilderFlag.FP16/INT8/FP8/BF16 and calibrators; TensorRT 10 and
TensorRT-RTX build the same strongly typed network).

Library differences handled here:
- timing cache: persistent file on TensorRT, shared across builds under a file lock. TensorRT-RTX
  does no tactic timing (its timing-cache calls are documented no-ops), so it is skipped there.
- compute-capability targets: TensorRT-RTX only (TensorRT always targets the local GPU).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from types import ModuleType

from ..artifacts.build_options import BuildOptions
from ..errors import ConfigError, EngineBuildError
from .library import is_rtx, library_version
from .network import ParsedNetwork
from .target import rtx_targets

MIB = 1 << 20
#: Default directory for TensorRT timing caches ($XDG_CACHE_HOME/vitpose-trt).
CACHE_DIR_ENV = "XDG_CACHE_HOME"
CACHE_SUBDIR = "vitpose-trt"


def config_for_build(trt: ModuleType, parsed: ParsedNetwork, options: BuildOptions, logger,
                     timing_cache: Path | None):
    """Return an IBuilderConfig for `parsed` following `options`.

    `timing_cache` (TensorRT only) is loaded when the file exists; pass None on TensorRT-RTX.
    Raises ConfigError for options the network or library cannot honour, EngineBuildError when the
    library refuses a setting.
    """
    config = parsed.builder.create_builder_config()
    if config is None:
        raise EngineBuildError(f"could not create a builder config:\n{logger.quoted_errors()}")
    _add_batch_profile(parsed, config, options.batch, logger)
    if options.workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib * MIB)
    if options.optimization_level is not None:
        config.builder_optimization_level = options.optimization_level
    if is_rtx(trt):
        _set_rtx_targets(trt, config, options.compute_capabilities, logger)
    else:
        if options.compute_capabilities:
            raise ConfigError("compute capabilities can only be chosen when building with TensorRT-RTX")
        if timing_cache is not None:
            _load_timing_cache(config, timing_cache, logger)
    return config


def timing_cache_path(trt: ModuleType, options: BuildOptions, gpu_name: str, gpu_capability: str) -> Path | None:
    """Where this build's timing cache lives; None on TensorRT-RTX.

    The option when given, else `$XDG_CACHE_HOME/vitpose-trt/tensorrt-<version>-<gpu>-<SMxx>.timing`
    (a cache only fits the TensorRT version and GPU that wrote it).
    """
    if is_rtx(trt):
        if options.timing_cache is not None:
            warnings.warn("TensorRT-RTX does no tactic timing: --timing-cache is ignored", stacklevel=3)
        return None
    if options.timing_cache is not None:
        return options.timing_cache
    root = Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache") / CACHE_SUBDIR
    version = ".".join(map(str, library_version(trt)))
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name).strip("-").lower()
    return root / f"tensorrt-{version}-{gpu}-{gpu_capability}.timing"


def save_timing_cache(config, path: Path) -> None:
    """Merge this build's timing results into `path` (other builds may have added to it meanwhile)."""
    from filelock import FileLock

    from ..atomic_files import write_bytes_atomically

    cache = config.get_timing_cache()
    if cache is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if path.exists():
            on_disk = config.create_timing_cache(path.read_bytes())
            if on_disk is not None:
                cache.combine(on_disk, False)
        write_bytes_atomically(path, memoryview(cache.serialize()))


def _add_batch_profile(parsed: ParsedNetwork, config, batch: tuple[int, int, int], logger) -> None:
    """One optimization profile: the batch (first) axis of every input runs `batch` (MIN, OPT, MAX)."""
    inputs = parsed.inputs
    for tensor in inputs:
        if any(d < 0 for d in tensor.shape[1:]):
            raise ConfigError(f"input {tensor.name!r} has dynamic non-batch dimensions {tensor.shape}; "
                              "only the batch may vary")
        if tensor.shape[0] >= 0 and batch != (tensor.shape[0],) * 3:
            raise ConfigError(
                f"the ONNX has a fixed batch of {tensor.shape[0]}; build it with --batch {tensor.shape[0]} "
                "or export it with a dynamic batch"
            )
    profile = parsed.builder.create_optimization_profile()
    if profile is None:
        raise EngineBuildError(f"could not create an optimization profile:\n{logger.quoted_errors()}")
    for tensor in inputs:
        low, opt, high = ((b, *tensor.shape[1:]) for b in batch)
        profile.set_shape(tensor.name, low, opt, high)
    if config.add_optimization_profile(profile) < 0:
        raise EngineBuildError(f"the batch profile {batch} was rejected:\n{logger.quoted_errors()}")


def _set_rtx_targets(trt: ModuleType, config, requested: tuple[str, ...], logger) -> None:
    if not requested:
        return  # RTX's own default set (rtx_targets() names it for the sidecar)
    targets = rtx_targets(trt, requested)
    config.num_compute_capabilities = len(targets)
    for index, name in enumerate(targets):
        if not config.set_compute_capability(getattr(trt.ComputeCapability, name), index):
            raise EngineBuildError(f"TensorRT-RTX refused compute capability {name}:\n{logger.quoted_errors()}")


def _load_timing_cache(config, path: Path, logger) -> None:
    data = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(data)
    if cache is None:
        raise EngineBuildError(f"could not create a timing cache from {path}:\n{logger.quoted_errors()}")
    if not config.set_timing_cache(cache, False):
        raise EngineBuildError(f"the timing cache {path} was rejected (delete it to start a new one):\n"
                               f"{logger.quoted_errors()}")
