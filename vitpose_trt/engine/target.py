"""What an engine is built for: the local GPU (TensorRT) or a list of compute capabilities (TensorRT-RTX).

The local GPU comes from `vitpose_trt.gpus.current_gpu`.

Compute capabilities are spelled like TensorRT-RTX's enum everywhere ("SM89" = 8.9).

- TensorRT 10/11 builds for the GPU it runs on; its engines are not portable across compute
  capabilities (and are tuned for the exact GPU model), so the target is that GPU's name and CC.
- TensorRT-RTX builds on a CPU for a set of compute capabilities. Without a choice it targets
  8.0, 8.6, 8.9, 12.0 "and later", never Turing (7.5) unless asked
  [read: docs.nvidia.com/deeplearning/tensorrt-rtx/latest/inference-library/cpu-engines.html].
  TensorRT-RTX 1.7 has no SM90 member (no H100/H200).
"""

from __future__ import annotations

from types import ModuleType

from ..errors import ConfigError
from ..gpus import CURRENT_CC

#: RTX compute capabilities left out of its default target set (Turing: opt-in only, see module doc).
RTX_OPT_IN_TARGETS = ("SM75",)


def rtx_targets(trt: ModuleType, requested: tuple[str, ...]) -> tuple[str, ...]:
    """The compute capabilities an RTX build will target: `requested`, or RTX's default set.

    Raises ConfigError for a capability this TensorRT-RTX cannot target (listing those it can),
    and for "CURRENT" mixed with others (the library allows it only alone).
    """
    known = [name for name in trt.ComputeCapability.__members__ if name.startswith("SM")]
    if not requested:
        return tuple(name for name in known if name not in RTX_OPT_IN_TARGETS)
    if CURRENT_CC in requested and len(requested) > 1:
        raise ConfigError("compute capability 'current' (the local GPU) cannot be combined with others")
    for name in requested:
        if name != CURRENT_CC and name not in known:
            raise ConfigError(
                f"TensorRT-RTX {trt.__version__} cannot target compute capability {name}; "
                f"it can target {', '.join(known)} (or 'current')"
            )
    return requested
