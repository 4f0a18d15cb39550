"""What a user may ask of the engine builder, validated before any library is imported.

Pure data (standard library only): the CLI parses into a `BuildOptions`, and the engine sidecar records
it (`to_dict` / `from_dict`) so a later build can tell whether anything changed and a refused engine can
be rebuilt with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..gpus import normalized_compute_capability

#: `builder` values: "auto" picks tensorrt when importable, else tensorrt_rtx.
BUILDERS = ("auto", "tensorrt", "tensorrt-rtx")
#: Import name of each forceable builder library.
BUILDER_MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}
#: TensorRT's builder optimization levels (IBuilderConfig.builder_optimization_level), 3 is its default.
OPTIMIZATION_LEVELS = range(0, 6)
#: Default (MIN, OPT, MAX) batch of the optimization profile.
DEFAULT_BATCH = (1, 8, 32)
#: The options that shape the built engine (see BuildOptions.engine_settings).
ENGINE_SETTINGS = ("batch", "workspace_mib", "optimization_level", "compute_capabilities")


def parse_batch(text: str) -> tuple[int, int, int]:
    """Parse "MIN:OPT:MAX" (or one number N, meaning N:N:N) into a validated batch profile."""
    parts = text.split(":")
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3:
        raise ConfigError(f"bad batch profile {text!r}: write MIN:OPT:MAX, e.g. 1:8:32")
    try:
        batch = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"bad batch profile {text!r}: MIN, OPT and MAX must be integers") from None
    return _validated_batch(batch)


def _validated_batch(batch) -> tuple[int, int, int]:
    values = tuple(batch)
    if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"batch profile must be three integers (MIN, OPT, MAX), got {batch!r}")
    low, opt, high = values
    if low < 1 or not low <= opt <= high:
        raise ConfigError(f"batch profile needs 1 <= MIN <= OPT <= MAX, got {low}:{opt}:{high}")
    return low, opt, high


@dataclass(frozen=True)
class BuildOptions:
    """How to build an engine from an ONNX file.

    builder: "auto" | "tensorrt" | "tensorrt-rtx". batch: (MIN, OPT, MAX) of the input's batch
    dimension. workspace_mib: cap on the builder's workspace memory pool (None = library default).
    optimization_level: builder optimization level 0-5 (None = library default, 3).
    compute_capabilities: TensorRT-RTX targets such as ("SM86", "SM89") (empty = RTX's default set;
    rejected for full TensorRT, which always builds for the local GPU). timing_cache: a persistent
    timing cache file (TensorRT only; None = one per TensorRT version and GPU under
    $XDG_CACHE_HOME/vitpose-trt; TensorRT-RTX has no tactic timing and ignores it, with a warning).
    force: rebuild even when the sidecar says nothing changed.
    """

    builder: str = "auto"
    batch: tuple[int, int, int] = DEFAULT_BATCH
    workspace_mib: int | None = None
    optimization_level: int | None = None
    compute_capabilities: tuple[str, ...] = ()
    timing_cache: Path | None = None
    force: bool = False

    def __post_init__(self) -> None:
        if self.builder not in BUILDERS:
            raise ConfigError(f"unknown builder {self.builder!r}; valid builders: {', '.join(BUILDERS)}")
        object.__setattr__(self, "batch", _validated_batch(self.batch))
        if self.workspace_mib is not None and (not _is_int(self.workspace_mib) or self.workspace_mib < 1):
            raise ConfigError(f"workspace must be a positive number of MiB, got {self.workspace_mib!r}")
        if self.optimization_level is not None and (
            not _is_int(self.optimization_level) or self.optimization_level not in OPTIMIZATION_LEVELS
        ):
            raise ConfigError(
                f"optimization level must be an integer {OPTIMIZATION_LEVELS.start}-{OPTIMIZATION_LEVELS.stop - 1}, "
                f"got {self.optimization_level!r}"
            )
        if isinstance(self.compute_capabilities, str):
            raise ConfigError("compute_capabilities must be a sequence of strings, e.g. ('SM86', 'SM89')")
        ccs = tuple(dict.fromkeys(normalized_compute_capability(str(c)) for c in self.compute_capabilities))
        object.__setattr__(self, "compute_capabilities", ccs)
        if ccs and self.builder == "tensorrt":
            raise ConfigError(
                "compute capabilities can only be chosen with --builder tensorrt-rtx; "
                "TensorRT builds for the GPU it runs on"
            )
        if self.timing_cache is not None:
            object.__setattr__(self, "timing_cache", Path(self.timing_cache))

    def engine_settings(self) -> dict:
        """The options that change the engine bytes for a given library (compared to skip rebuilds).

        `builder` is left out (the resolved library and its version are compared instead), and so
        are `timing_cache` (it only speeds builds up) and `force`.
        """
        data = self.to_dict()
        return {key: data[key] for key in ENGINE_SETTINGS}

    def to_dict(self) -> dict:
        """JSON-ready form, stored in the sidecar; `force` is left out (it never changes the engine)."""
        return {
            "builder": self.builder,
            "batch": list(self.batch),
            "workspace_mib": self.workspace_mib,
            "optimization_level": self.optimization_level,
            "compute_capabilities": list(self.compute_capabilities),
            "timing_cache": None if self.timing_cache is None else str(self.timing_cache),
        }

    @classmethod
    def from_dict(cls, data: dict) -> BuildOptions:
        """Parse `to_dict`'s form (as a sidecar records it); `ConfigError` for values that don't validate."""
        return cls(builder=data.get("builder", "auto"), batch=tuple(data["batch"]),
                   workspace_mib=data.get("workspace_mib"), optimization_level=data.get("optimization_level"),
                   compute_capabilities=tuple(data.get("compute_capabilities") or ()),
                   timing_cache=data.get("timing_cache"))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
