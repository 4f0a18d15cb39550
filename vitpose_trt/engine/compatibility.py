"""Whether an engine can run here, and the command that rebuilds it when it cannot.

The runtime reads an engine's sidecar (`artifacts.sidecar`) and calls `check_engine_compatible`, which
refuses an engine built by another library, another library version (TensorRT and TensorRT-RTX engines
only load in the exact version that built them) or for another compute capability, with the command that
rebuilds it. Needs neither TensorRT nor a GPU.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

from ..artifacts.sidecar import EngineSidecar
from ..errors import EngineLoadError
from ..gpus import compute_capability_name, dotted_compute_capability
from .library import TENSORRT_RTX, cli_builder_name, library_name, parsed_version

_LIBRARY_TITLES = {"tensorrt": "TensorRT", TENSORRT_RTX: "TensorRT-RTX"}


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

    The checkpoint path is not recorded anywhere, so the command names it CHECKPOINT; a detector's by its
    original file name.
    """
    options = sidecar.build_options
    parts = ["vitpose-export", *_source_arguments(sidecar), "--precision", sidecar.precision,
             "--builder", cli_builder_name(library), "--batch", ":".join(map(str, sidecar.batch))]
    if library == TENSORRT_RTX:
        targets = list(options.compute_capabilities)
        if device_cc and targets and device_cc not in targets:
            targets.append(device_cc)
        if targets:
            parts += ["--compute-capability", ",".join(dotted_compute_capability(t) for t in targets)]
    if options.workspace_mib is not None:
        parts += ["--workspace", str(options.workspace_mib)]
    if options.optimization_level is not None:
        parts += ["--opt-level", str(options.optimization_level)]
    parts += ["--output", str(output_dir) if output_dir is not None else "DIR", "--force"]
    return " ".join(parts)


def _source_arguments(sidecar: EngineSidecar) -> list[str]:
    """What the export starts from: the detector's original ONNX (named after the imported one), or the pose
    model and its keypoint set with the checkpoint, which no file records (CHECKPOINT)."""
    artifact = sidecar.artifact
    if artifact.pose is None:
        return ["--detector", f"{artifact.model}.onnx"]
    return ["--model", artifact.model, "--dataset", artifact.pose.keypoint_set, "--weights", "CHECKPOINT"]


def _title(library: str) -> str:
    return _LIBRARY_TITLES.get(library, library)
