"""Which builder library to use (TensorRT or TensorRT-RTX), and its version as numbers.

Both libraries expose the same Python API for everything the builder uses (Builder, OnnxParser,
IBuilderConfig, IProgressMonitor), under different module names: `tensorrt` and `tensorrt_rtx`.
What differs is handled where it matters: compute-capability targets exist on TensorRT-RTX only
(config.py), the timing cache is a no-op there (config.py), and a TensorRT engine targets the GPU it
was built on while a TensorRT-RTX engine targets a list of compute capabilities (target.py).
"""

from __future__ import annotations

import re
from types import ModuleType

from ..artifacts.build_options import BUILDER_MODULES
from ..dependencies import import_optional
from ..errors import ConfigError, MissingDependencyError

#: Import names of the two libraries.
TENSORRT = "tensorrt"
TENSORRT_RTX = "tensorrt_rtx"
#: Oldest TensorRT with everything used here: strongly typed networks and IProgressMonitor
#: (both in TensorRT 10.0; JetPack 6 ships 10.3).
MIN_TENSORRT_VERSION = (10, 0)

_FEATURE = "building TensorRT engines"


def builder_library(builder: str = "auto") -> ModuleType:
    """Return the imported builder library for `builder` ("auto", "tensorrt" or "tensorrt-rtx").

    "auto" prefers full TensorRT and falls back to TensorRT-RTX. Raises MissingDependencyError with
    an install hint when the requested library (or, for "auto", neither) is installed, and
    ConfigError for a TensorRT older than MIN_TENSORRT_VERSION.
    """
    if builder == "auto":
        try:
            module = import_optional(TENSORRT, _FEATURE)
        except MissingDependencyError as tensorrt_missing:
            try:
                return import_optional(TENSORRT_RTX, _FEATURE)
            except MissingDependencyError as rtx_missing:
                raise MissingDependencyError(
                    f"neither TensorRT nor TensorRT-RTX is installed ({tensorrt_missing}; {rtx_missing})"
                ) from rtx_missing
    elif builder in BUILDER_MODULES:
        module = import_optional(BUILDER_MODULES[builder], _FEATURE)
    else:
        raise ConfigError(f"unknown builder {builder!r}; valid builders: auto, {', '.join(BUILDER_MODULES)}")
    _check_supported(module)
    return module


def library_name(module: ModuleType) -> str:
    """"tensorrt" or "tensorrt_rtx" for an imported builder library."""
    return module.__name__.split(".")[0]


def is_rtx(module: ModuleType) -> bool:
    return library_name(module) == TENSORRT_RTX


def cli_builder_name(library: str) -> str:
    """The `--builder` value that selects `library` ("tensorrt_rtx" -> "tensorrt-rtx")."""
    return {module: name for name, module in BUILDER_MODULES.items()}.get(library, library)


def parsed_version(text: str) -> tuple[int, ...]:
    """Leading numeric components of a version string: "10.3.0.26" -> (10, 3, 0, 26).

    Pre-release suffixes are dropped ("11.0.0rc1" -> (11, 0, 0)). Raises ConfigError when the string
    starts with no number at all.
    """
    numbers: list[int] = []
    for part in str(text).strip().split("."):
        match = re.match(r"\d+", part)
        if match is None:
            break
        numbers.append(int(match.group()))
        if match.end() != len(part):
            break
    if not numbers:
        raise ConfigError(f"cannot read a version number from {text!r}")
    return tuple(numbers)


def library_version(module: ModuleType) -> tuple[int, ...]:
    return parsed_version(module.__version__)


def _check_supported(module: ModuleType) -> None:
    if is_rtx(module):
        return
    version = library_version(module)
    if version[: len(MIN_TENSORRT_VERSION)] < MIN_TENSORRT_VERSION:
        minimum = ".".join(map(str, MIN_TENSORRT_VERSION))
        raise ConfigError(
            f"TensorRT {module.__version__} is too old: vitpose-trt needs TensorRT >= {minimum} "
            "(strongly typed networks, IProgressMonitor)"
        )
