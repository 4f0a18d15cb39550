"""Reading checkpoint files into a flat {name: tensor} dict without running pickled code.

Three containers are read: PyTorch pickles (`.pth`, `.pt`, `.bin`, ...) through
`torch.load(weights_only=True)`, `.safetensors` files, and Hugging Face `save_pretrained` folders
(`config.json` + `model.safetensors`, a sharded `model.safetensors.index.json`, or `pytorch_model.bin`).
Tensors come back as stored (any dtype, on the CPU); names are not converted here.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

from ..dependencies import import_optional
from ..errors import CheckpointError

#: Wrapper keys of training checkpoints that hold the actual state dict (mmpose writes "state_dict").
STATE_DICT_WRAPPERS = ("state_dict", "model")
#: Prefix that torch DistributedDataParallel adds to every parameter name.
DDP_PREFIX = "module."
HF_CONFIG = "config.json"
HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
#: `model_type` of a Hugging Face VitPoseConfig.
HF_MODEL_TYPE = "vitpose"
#: The first bytes of what torch.save writes: a zip archive (PyTorch >= 1.6), else a pickle's PROTO opcode.
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_OPCODE = b"\x80"


@dataclass
class CheckpointTensors:
    """What a checkpoint file holds: tensors by name, and the Hugging Face config when there is one."""

    path: Path
    tensors: dict
    hf_config: dict | None = None


def tensors_from_path(path: Path) -> CheckpointTensors:
    """The tensors of a `.pth` / `.safetensors` file or a Hugging Face folder; `CheckpointError` if unreadable."""
    path = Path(path)
    if path.is_dir():
        return _tensors_from_hf_folder(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        return CheckpointTensors(path, _tensors_from_safetensors(path), _hf_config_beside(path))
    return CheckpointTensors(path, _tensors_from_pickle(path))


def _tensors_from_hf_folder(folder: Path) -> CheckpointTensors:
    config = _hf_config_beside(folder / HF_CONFIG)
    for name in HF_WEIGHT_FILES:
        weights = folder / name
        if not weights.is_file():
            continue
        if name.endswith(".index.json"):
            return CheckpointTensors(weights, _tensors_from_shards(weights), config)
        if name.endswith(".safetensors"):
            return CheckpointTensors(weights, _tensors_from_safetensors(weights), config)
        return CheckpointTensors(weights, _tensors_from_pickle(weights), config)
    raise CheckpointError(f"folder {folder} holds no weights: expected one of {', '.join(HF_WEIGHT_FILES)}")


def _hf_config_beside(config_path: Path) -> dict | None:
    """The Hugging Face VitPose config.json at `config_path` (or beside a weight file), if there is one."""
    if config_path.suffix != ".json":
        config_path = config_path.with_name(HF_CONFIG)
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {config_path}: {exc}") from None
    # A config.json of some other model next to a weight file says nothing about these weights.
    return config if isinstance(config, dict) and config.get("model_type") == HF_MODEL_TYPE else None


def _tensors_from_safetensors(path: Path) -> dict:
    safetensors_torch = import_optional("safetensors.torch", "reading .safetensors checkpoints")
    try:
        return dict(safetensors_torch.load_file(str(path), device="cpu"))
    except Exception as exc:  # safetensors raises its own SafetensorError plus OSError; all mean unreadable
        raise CheckpointError(f"cannot read {path} (truncated or not a safetensors file): {exc}") from None


def _tensors_from_shards(index_path: Path) -> dict:
    try:
        weight_map = json.loads(index_path.read_text())["weight_map"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read shard index {index_path}: {exc}") from None
    tensors: dict = {}
    for shard in sorted(set(weight_map.values())):
        tensors.update(_tensors_from_safetensors(index_path.parent / shard))
    return tensors


def _tensors_from_pickle(path: Path) -> dict:
    torch = import_optional("torch", "reading .pth checkpoints")
    allowed = getattr(torch.serialization, "safe_globals", None)  # PyTorch >= 2.5
    try:
        with allowed(_numpy_scalar_globals()) if allowed else contextlib.nullcontext():
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not _looks_like_torch_save(path):
            raise CheckpointError(f"cannot read {path}: not a PyTorch checkpoint (neither torch.save's zip archive "
                                  f"nor a pickle){_model_file_hint(path)}") from None
        raise CheckpointError(
            f"refusing to load {path}: it holds pickled objects that would run code when loaded "
            f"(only tensors, numbers and plain containers are allowed): {_refused_global(str(exc))}"
        ) from None
    except Exception as exc:  # torch.load raises RuntimeError, EOFError, OSError, ... for damaged files
        raise CheckpointError(f"cannot read {path} (truncated or not a PyTorch checkpoint): {exc}") from None
    return _state_dict_from_object(obj, path, torch)


def _numpy_scalar_globals() -> list:
    """What numpy numbers in a checkpoint's metadata unpickle through (mmcv-trained checkpoints such as the
    official ViTPose ones may keep e.g. meta["hook_msgs"]["best_score"] as one): numpy's scalar constructor,
    under its numpy 1 and 2 module names, and the bool, integer, float and complex dtypes. None of them runs
    code; object dtypes and arrays stay refused."""
    import numpy

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar
    codes = "?" + numpy.typecodes["AllInteger"] + numpy.typecodes["AllFloat"]
    dtype_classes = {type(numpy.dtype(code)) for code in codes} - {numpy.dtype}
    return [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), numpy.dtype,
            *sorted(dtype_classes, key=lambda cls: cls.__name__)]


def _refused_global(message: str) -> str:
    """What torch's weights-only unpickler refused, from its message (whose last line is a documentation link)."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message) or re.search(r"but got (<[^>]+>)", message)
    return f"it needs {found.group(1)}" if found else message.strip().splitlines()[-1]


def _looks_like_torch_save(path: Path) -> bool:
    """Whether `path` starts as torch.save writes: a zip archive, or (before PyTorch 1.6) a pickle of protocol 2+."""
    with path.open("rb") as file:
        head = file.read(len(ZIP_MAGIC))
    return head.startswith(ZIP_MAGIC) or head[:1] == PICKLE_PROTOCOL_OPCODE


def _model_file_hint(path: Path) -> str:
    """For a model file given where a checkpoint was expected: which backend runs it (the one `auto` picks)."""
    from ..runtime.backends import backend_name_for  # the runtime builds on this module: imported when needed

    backend = backend_name_for(path)
    return "" if backend == "torch" else f"; {path.suffix} files run on the {backend} backend (backend='auto' picks it)"


def _state_dict_from_object(obj, path: Path, torch) -> dict:
    """The {name: tensor} dict inside a loaded checkpoint object (unwrapping `state_dict`, DDP prefixes)."""
    if isinstance(obj, dict):
        for key in STATE_DICT_WRAPPERS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path} holds no tensors (keys: {', '.join(map(str, list(obj)[:8]))})")
    if all(k.startswith(DDP_PREFIX) for k in tensors):
        tensors = {k[len(DDP_PREFIX):]: v for k, v in tensors.items()}
    return tensors
