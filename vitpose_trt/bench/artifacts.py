"""ONNX files the benchmark needs, exported once into a cache folder by the export library.

Named models get seeded random weights (speed does not depend on the values); checkpoints are keyed by
their path and the size and modification time of their files. What counts as cached, the lock that keeps
two runs from exporting at once and the accuracy reports beside the files are the export library's
(`export_precision` with `reuse_current`, `recipes.is_current`), the same as for `vitpose-export`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path

from ..artifacts.metadata import ONNXRUNTIME_CPU_TARGET, OPENVINO_TARGET, TENSORRT_TARGET
from ..dependencies import import_optional
from ..errors import ConfigError
from .sources import ModelSource

#: Environment variable overriding the cache folder.
CACHE_ENV = "VITPOSE_TRT_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/vitpose-trt/bench")
#: Seed of the random weights of named models, so every run times the same network.
WEIGHTS_SEED = 0
#: The note on every result of a named model.
RANDOM_WEIGHTS_NOTE = f"random weights (seed {WEIGHTS_SEED}): the timing is real, the poses are not"
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
    """The cached export's name: the model name, or the checkpoint's stem and a digest of its path and of the
    size and modification time of every file it is made of (a folder's own times do not change when its
    weights are copied over)."""
    if source.kind == "name":
        return source.name
    path = source.path.resolve()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    key = "\n".join([str(path), *(f"{f.relative_to(path.parent)}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                                   for f in files)])
    return f"{source.path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:KEY_DIGEST_CHARS]}"


def onnx_for(source: ModelSource, precision: str, folder: Path, target: str = TENSORRT_TARGET) -> Path:
    """Path of `source` as an ONNX file in `precision` for `target`, exported into `folder` unless current.

    target: who runs the file, as in vitpose-export: "tensorrt" (fp16/int8 as TensorRT runs them),
    "onnxruntime-cpu" (ONNX Runtime's dynamic int8, everything else fp32) or "openvino" (NNCF's int8 IR;
    bf16: the fp32 file). Files and reports are named like vitpose-export's. An `.onnx` or OpenVINO IR
    source is returned as it is (its precision is whatever its metadata says).
    """
    if source.kind in ("onnx", "openvino"):
        return source.path
    from ..export.pipeline import export_precision, onnx_path_for
    from ..export.recipes import is_current

    stem = _cache_stem(source)
    path = onnx_path_for(folder, stem, precision, target)
    if not is_current(path, precision, target):  # checked again under the export lock
        folder.mkdir(parents=True, exist_ok=True)
        export_precision(torch_model(source), precision, folder, target=target, name=stem,
                         random_weights=source.kind == "name", reuse_current=True, log=_log)
    return path


def _log(line: str) -> None:
    """Export progress on stderr: stdout carries the report."""
    print(f"vitpose-bench: {line}", file=sys.stderr)


def onnx_target_for(backend: str, precision: str) -> str:
    """The export target whose recipe suits `backend`: ONNX Runtime's CPU int8 recipe for onnxruntime int8
    (the TensorRT recipe keeps unquantized parts fp16, which the CPU provider runs slowly), OpenVINO's for
    openvino (int8: NNCF's IR; bf16: the fp32 file), else TensorRT's."""
    if backend == "openvino":
        return OPENVINO_TARGET
    return ONNXRUNTIME_CPU_TARGET if backend == "onnxruntime" and precision == "int8" else TENSORRT_TARGET
