"""ONNX files the benchmark needs, exported once into a cache folder with the export library.

Named models get seeded random weights (speed does not depend on the values); checkpoints are keyed by
their path, size and modification time. A file lock keeps two concurrent runs from exporting twice.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

from ..dependencies import import_optional
from ..errors import ConfigError
from ..metadata import ONNXRUNTIME_CPU_TARGET, TENSORRT_TARGET
from .sources import ModelSource

#: Environment variable overriding the cache folder.
CACHE_ENV = "VITPOSE_TRT_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/vitpose-trt/bench")
#: Seed of the random weights of named models, so every run times the same network.
WEIGHTS_SEED = 0
#: The note on every result of a named model.
RANDOM_WEIGHTS_NOTE = f"random weights (seed {WEIGHTS_SEED}): the timing is real, the poses are not"
LOCK_TIMEOUT_S = 1800
KEY_DIGEST_CHARS = 12


def cache_dir(explicit: str | Path | None = None) -> Path:
    """The cache folder: `explicit`, else $VITPOSE_TRT_CACHE, else ~/.cache/vitpose-trt/bench."""
    chosen = explicit or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser()


def torch_model(source: ModelSource):
    """The eval-mode torch module of a named (seeded random weights) or checkpoint source."""
    torch = import_optional("torch", "the PyTorch model")
    import vitpose_trt

    if source.kind == "name":
        torch.manual_seed(WEIGHTS_SEED)
        with warnings.catch_warnings():
            # Reports say so in each result's notes (RANDOM_WEIGHTS_NOTE) instead.
            warnings.filterwarnings("ignore", "no weights given", UserWarning)
            return vitpose_trt.load_model(name=source.name)
    if source.kind == "checkpoint":
        return vitpose_trt.load_model(weights=source.path)
    raise ConfigError(f"{source.path}: a {source.kind} file has no PyTorch model; it runs on {source.fixed_backend}")


def _cache_stem(source: ModelSource) -> str:
    if source.kind == "name":
        return source.name
    stat = source.path.stat()
    key = f"{source.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    return f"{source.path.stem}-{hashlib.sha256(key).hexdigest()[:KEY_DIGEST_CHARS]}"


def onnx_for(source: ModelSource, precision: str, folder: Path, target: str = TENSORRT_TARGET) -> Path:
    """Path of `source` as an ONNX file in `precision` for `target`, exporting it into `folder` when not cached.

    target: who runs the file, as in vitpose-export: "tensorrt" (fp16/int8 as TensorRT runs them) or
    "onnxruntime-cpu" (ONNX Runtime's dynamic int8, everything else fp32). Files are named like
    vitpose-export's. An `.onnx` source is returned as it is (its precision is whatever its metadata says).
    """
    if source.kind == "onnx":
        return source.path
    from ..export.pipeline import onnx_path_for

    filelock = import_optional("filelock", "the benchmark's export cache")
    folder.mkdir(parents=True, exist_ok=True)
    path = onnx_path_for(folder, _cache_stem(source), precision, target)
    with filelock.FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
        if not _is_cached(path, target):
            _export(source, precision, target, path, folder)
    return path


def _is_cached(path: Path, target: str) -> bool:
    """Whether `path` exists, made by the current recipe of `target`."""
    if target == ONNXRUNTIME_CPU_TARGET:
        from ..export.cpu_quantization import is_current_cpu_int8

        return is_current_cpu_int8(path)
    return path.exists()


def _export(source: ModelSource, precision: str, target: str, path: Path, folder: Path) -> None:
    """Write `path`: fp32 straight from PyTorch, other precisions from the cached fp32 file."""
    if precision == "fp32":
        from ..export.onnx_export import export_onnx

        export_onnx(torch_model(source), path)
        return
    from ..export.files import metadata_from_onnx
    from ..export.pipeline import checked_target, converted_onnx_from_fp32, default_calibration_crops

    checked_target(target, precision)
    fp32 = onnx_for(source, "fp32", folder)
    crops = default_calibration_crops(precision, target, metadata_from_onnx(fp32).keypoints.warp)
    converted_onnx_from_fp32(fp32, path, precision, target, crops)


def onnx_target_for(backend: str, precision: str) -> str:
    """The export target whose recipe suits `backend`: ONNX Runtime's CPU int8 recipe for onnxruntime int8
    (the TensorRT recipe keeps unquantized parts fp16, which the CPU provider runs slowly), else TensorRT's."""
    return ONNXRUNTIME_CPU_TARGET if backend == "onnxruntime" and precision == "int8" else TENSORRT_TARGET
