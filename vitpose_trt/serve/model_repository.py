"""`vitpose-export --triton-repo DIR`: a Triton model repository for a standalone `tritonserver` (a Triton
container, a Kubernetes fleet). Layout and settings: `repository_layout`.

- `vitpose_net`: the network. An engine (.engine/.plan + sidecar) becomes a `tensorrt_plan` model whose
  max_batch_size is the engine profile's MAX (the profile's MIN must be 1: Triton sends batches of 1..MAX);
  an ONNX becomes an `onnxruntime_onnx` model, or with net backend "python" a Python-backend model running
  it with vitpose-trt's ONNX Runtime backend (for servers without the onnxruntime backend). Dynamic
  batching; instances on the GPUs (tensorrt) or CPUs.
- `vitpose`: the Python-backend model clients call (`protocol`): request checks, crops and decoding with
  vitpose-trt, the network through BLS. Needs vitpose-trt in Triton's Python environment.

Configs are written as protobuf text (`pbtxt`); the tests parse every one with Triton's ModelConfig schema.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts.io import ModelIO
from ..artifacts.metadata import ArtifactMetadata
from ..artifacts.onnx_metadata import ONNX_SUFFIX, metadata_from_onnx
from ..artifacts.sidecar import ENGINE_SUFFIXES, sidecar_for_engine
from ..atomic_files import write_text_atomically
from ..errors import ConfigError
from ..option_checks import non_negative_int, positive_int
from .pbtxt import Enum, pbtxt
from .protocol import POSE_MODEL, RequestLimits, model_inputs, model_outputs
from .repository_layout import (
    CONFIG_FILE,
    NET_MODEL,
    ONNX_FILE,
    PLAN_FILE,
    PYTHON_MODEL_FILE,
    SETTINGS_FILE,
    PoseModelSettings,
    version_dir,
)

#: Net backends: Triton platform (None: a Python-backend model).
NET_BACKENDS = {"tensorrt": "tensorrt_plan", "onnxruntime": "onnxruntime_onnx", "python": None}
#: Crops per network call of an ONNX network (an engine's comes from its profile).
DEFAULT_NET_MAX_BATCH = 16
#: CPU instances of the `vitpose` model: two, so that one batch's crops and decoding overlap another's network call.
DEFAULT_POSE_INSTANCES = 2
#: Requests per batch of the `vitpose` model, and how long one waits for others (microseconds).
DEFAULT_MAX_BATCH, DEFAULT_QUEUE_DELAY_US = 8, 2000
#: numpy dtype names -> config.pbtxt data types.
CONFIG_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "bfloat16": "TYPE_BF16", "int8": "TYPE_INT8",
                 "uint8": "TYPE_UINT8", "int32": "TYPE_INT32", "int64": "TYPE_INT64", "bool": "TYPE_BOOL"}
PYTHON_MODEL_SHIM = '''"""Triton Python-backend model written by vitpose-export --triton-repo (needs vitpose-trt installed)."""
from vitpose_trt.serve.{module} import TritonPythonModel  # noqa: F401
'''


@dataclass(frozen=True)
class RepositoryOptions:
    """net_backend: "tensorrt", "onnxruntime" or "python" (None: tensorrt for engines, onnxruntime for ONNX).
    net_max_batch: crops per network call (ONNX only). net_instances: instances of the network per GPU
    (tensorrt, or net_on_gpu) or on the CPU. pose_instances: CPU instances of `vitpose`."""

    net_backend: str | None = None
    net_max_batch: int = DEFAULT_NET_MAX_BATCH
    net_instances: int = 1
    net_on_gpu: bool = False
    pose_instances: int = DEFAULT_POSE_INSTANCES
    max_batch: int = DEFAULT_MAX_BATCH
    queue_delay_us: int = DEFAULT_QUEUE_DELAY_US
    color: str = "rgb"
    limits: RequestLimits = field(default_factory=RequestLimits)

    def __post_init__(self) -> None:
        if self.net_backend is not None and self.net_backend not in NET_BACKENDS:
            raise ConfigError(f"unknown Triton net backend {self.net_backend!r}; valid: {', '.join(NET_BACKENDS)}")
        for name in ("net_max_batch", "net_instances", "pose_instances", "max_batch"):
            positive_int(name, getattr(self, name))
        non_negative_int("queue_delay_us", self.queue_delay_us)


@dataclass(frozen=True)
class _Net:
    """What the network model is: backend, file, metadata, inputs and outputs, batch limit."""

    backend: str
    source: Path
    metadata: ArtifactMetadata
    io: ModelIO
    max_batch: int


def model_repository_from(model_path: str | Path, out_dir: str | Path, options: RepositoryOptions | None = None) -> Path:
    """Write the repository for the engine or ONNX at `model_path` into `out_dir`; returns `out_dir`."""
    options = options or RepositoryOptions()
    net = _net_from(Path(model_path), options)
    out = Path(out_dir)
    _write_net(net, out / NET_MODEL, options)
    _write_pose_model(net, out / POSE_MODEL, options)
    return out


def _net_from(path: Path, options: RepositoryOptions) -> _Net:
    if path.suffix.lower() in ENGINE_SUFFIXES:
        return _engine_net(path, options)
    if path.suffix.lower() == ONNX_SUFFIX:
        backend = options.net_backend or "onnxruntime"
        if backend == "tensorrt":
            raise ConfigError(f"{path} is an ONNX file: a tensorrt_plan model needs an engine (build one with vitpose-export)")
        metadata = metadata_from_onnx(path)
        return _Net(backend, path, metadata, _pose_io(metadata, path), options.net_max_batch)
    raise ConfigError(f"{path}: a Triton model repository is made from an engine (.engine/.plan) or an .onnx file")


def _engine_net(path: Path, options: RepositoryOptions) -> _Net:
    if options.net_backend not in (None, "tensorrt"):
        raise ConfigError(f"{path} is an engine: only the tensorrt net backend runs it")
    sidecar = sidecar_for_engine(path)
    low, _, high = sidecar.batch
    if low != 1:
        raise ConfigError(f"{path}: the engine's batch profile starts at {low}, but Triton's dynamic batcher sends "
                          "batches from 1: build it with --batch 1:OPT:MAX")
    if sidecar.library != "tensorrt":
        warnings.warn(f"{path} was built with {sidecar.library}: Triton's TensorRT backend loads only TensorRT engines "
                      "built with its own TensorRT version; rebuild with --builder tensorrt for a Triton server",
                      stacklevel=3)
    return _Net("tensorrt", path, sidecar.artifact, sidecar.io, high)


def _pose_io(metadata: ArtifactMetadata, path: Path) -> ModelIO:
    if metadata.pose is None:
        raise ConfigError(f"{path} is a {metadata.task} model; the model repository serves pose models")
    return metadata.pose.model_io()


def _tensors(specs) -> list[dict]:
    return [{"name": spec.name, "data_type": Enum(CONFIG_DTYPES[spec.dtype]), "dims": list(spec.item_shape)}
            for spec in specs]


def net_config(net: _Net, options: RepositoryOptions) -> dict:
    """The `vitpose_net` config.pbtxt as a message dict."""
    platform = NET_BACKENDS[net.backend]
    on_gpu = net.backend == "tensorrt" or options.net_on_gpu
    return {"name": NET_MODEL, **({"platform": platform} if platform else {"backend": "python"}),
            "max_batch_size": net.max_batch, "input": _tensors(net.io.inputs), "output": _tensors(net.io.outputs),
            "dynamic_batching": {"max_queue_delay_microseconds": options.queue_delay_us},
            "instance_group": [{"kind": Enum("KIND_GPU" if on_gpu else "KIND_CPU"), "count": options.net_instances}]}


def pose_config(num_keypoints: int, options: RepositoryOptions) -> dict:
    """The `vitpose` (Python backend, BLS) config.pbtxt as a message dict."""
    def tensors(specs, with_optional: bool) -> list[dict]:
        return [{"name": s.name, "data_type": Enum(s.config_dtype), "dims": list(s.shape),
                 **({"optional": True} if with_optional and s.optional else {})} for s in specs]

    return {"name": POSE_MODEL, "backend": "python", "max_batch_size": options.max_batch,
            "input": tensors(model_inputs(POSE_MODEL), True), "output": tensors(model_outputs(num_keypoints), False),
            "dynamic_batching": {"max_queue_delay_microseconds": options.queue_delay_us},
            "instance_group": [{"kind": Enum("KIND_CPU"), "count": options.pose_instances}]}


def _write_net(net: _Net, folder: Path, options: RepositoryOptions) -> None:
    files = version_dir(folder)
    files.mkdir(parents=True, exist_ok=True)
    target = files / (PLAN_FILE if net.backend == "tensorrt" else ONNX_FILE)
    shutil.copyfile(net.source, target)
    external = net.source.with_name(net.source.name + ".data")
    if external.exists():  # ONNX external data keeps its name: the graph refers to it
        shutil.copyfile(external, files / external.name)
    if net.backend == "python":
        write_text_atomically(files / PYTHON_MODEL_FILE, PYTHON_MODEL_SHIM.format(module="triton_python_net"))
    write_text_atomically(folder / CONFIG_FILE, pbtxt(net_config(net, options)))


def _write_pose_model(net: _Net, folder: Path, options: RepositoryOptions) -> None:
    files = version_dir(folder)
    files.mkdir(parents=True, exist_ok=True)
    settings = PoseModelSettings(NET_MODEL, net.metadata, net.io, net.max_batch, options.color, options.limits)
    write_text_atomically(files / SETTINGS_FILE, settings.to_json())
    write_text_atomically(files / PYTHON_MODEL_FILE, PYTHON_MODEL_SHIM.format(module="triton_python_model"))
    write_text_atomically(folder / CONFIG_FILE, pbtxt(pose_config(net.metadata.pose.num_keypoints, options)))
