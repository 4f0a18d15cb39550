"""vitpose-export: checkpoint or model name -> ONNX (fp32, fp16, int8, fp8) -> TensorRT engine.

Writes DIR/<model>.onnx (fp32, checked against PyTorch), DIR/<model>-<precision>.onnx, an accuracy
report beside each (<stem>.report.json: relative L2, cosine, argmax keypoint agreement vs fp32 PyTorch
on held-out scikit-image photos), then (unless --builder none) the engine <stem>.engine and <stem>.json.

--triton-repo REPO also writes a Triton model repository for a standalone tritonserver: the engine as a
tensorrt_plan model (max_batch_size from the engine profile), or the ONNX as an onnxruntime_onnx model
(--builder none), plus the `vitpose` Python-backend model clients call (crops and decoding with
vitpose-trt, the network through BLS). See docs/serving.md.

--target onnxruntime-cpu writes DIR/<model>-int8-cpu.onnx instead: ONNX Runtime's dynamic int8 (int8
weights per channel, activations quantized at run time, every other op fp32), the flavour ONNX Runtime
runs fastest on CPUs (the default TensorRT int8 keeps unquantized ops in fp16, which ONNX Runtime's CPU
provider runs slowly). It needs no calibration, and TensorRT cannot build it, so no engine is built.

--target openvino (needs the openvino extra) --precision int8 writes DIR/<model>-int8-openvino.xml + .bin:
NNCF's calibrated int8 as an OpenVINO IR, with its report run in OpenVINO. --precision bf16 writes no model
(OpenVINO computes the fp32 ONNX in bf16 when asked: `--backend openvino --precision bf16`), only its report
DIR/<model>-bf16-openvino.report.json; it needs a CPU with AVX512-BF16 or AMX. No engine is built.

--detector DET.onnx imports a person detector instead (Ultralytics YOLO, transformers RT-DETR/D-FINE): DIR/<stem>.onnx
with its metadata, DIR/<stem>-fp16.onnx with a report of matched boxes against the fp32 file, and its engine.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..artifacts.build_options import BUILDERS, DEFAULT_BATCH
from ..errors import CheckpointError, ConfigError
from ..export.calibration import DEFAULT_CALIB_COUNT
from ..export.fp16 import DEFAULT_FP16_CALIB_COUNT
from ..export.onnx_export import DEFAULT_OPSET, SUPPORTED_OPSETS
from ..export.pipeline import (
    DEFAULT_TARGET,
    PRECISIONS,
    TARGETS,
    checked_target,
    default_calib_count,
    needs_calibration,
)
from .common import (
    EXIT_CODE_MEANINGS,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USER_ERROR,
    add_verbose_flag,
    exit_codes_help,
    run_command,
)
from .export_detector import (
    add_detector_arguments,
    checked_detector_arguments,
    export_detector_from,
    refuse_detector_options,
)
from .export_triton import add_triton_arguments, repository_options, write_repository

#: --builder none stops after the ONNX stage.
BUILDER_CHOICES = (*BUILDERS, "none")
DEFAULT_PRECISION = "fp16"
DEFAULT_OUTPUT = "out"
DEFAULT_BATCH_TEXT = ":".join(str(b) for b in DEFAULT_BATCH)
#: The exit codes vitpose-export ends with (it skips no inputs and has no --strict or --resume).
EXIT_CODES = {EXIT_OK: "done: the files are written", EXIT_FAILURE: EXIT_CODE_MEANINGS[EXIT_FAILURE],
              EXIT_USER_ERROR: "user error (arguments, missing or unusable files)",
              EXIT_INTERRUPTED: "stopped by Ctrl-C; the ONNX files, engines and reports written so far are complete"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitpose-export", description=__doc__, epilog=exit_codes_help(EXIT_CODES),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    m = p.add_argument_group("model")
    m.add_argument("--model", metavar="NAME", help="variant, e.g. vitpose-b (inferred from --weights when omitted; "
                   "vitpose-b with random weights when both are omitted)")
    m.add_argument("--weights", metavar="PATH|ID", help="official .pth, Hugging Face folder or .safetensors, or a "
                   "Hugging Face Hub id (org/name[@revision], e.g. usyd-community/vitpose-base: safetensors "
                   "downloaded once into the huggingface_hub cache) (omitted: random weights, only for benchmarks)")
    m.add_argument("--dataset", metavar="NAME", help="keypoint set / ViTPose++ expert: coco, aic, mpii, ap10k, "
                   "apt36k, wholebody (default: the model's)")
    o = p.add_argument_group("ONNX")
    o.add_argument("--precision", default=DEFAULT_PRECISION, metavar="{fp32,fp16,int8,fp8,bf16}",
                   help=f"precision of the converted graph (default {DEFAULT_PRECISION})")
    o.add_argument("--target", default=DEFAULT_TARGET, metavar="{" + ",".join(TARGETS) + "}",
                   help="who runs the converted file: tensorrt (default), onnxruntime-cpu (int8 only: "
                   "ONNX Runtime's dynamic int8, unquantized ops fp32, no calibration, no engine; "
                   "<model>-int8-cpu.onnx) or openvino (int8: NNCF, <model>-int8-openvino.xml; bf16: a report)")
    o.add_argument("--opset", type=int, metavar="N", help=f"ONNX opset of the exported graph, "
                   f"{SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1} (default {DEFAULT_OPSET})")
    o.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                   help=f"output folder (default ./{DEFAULT_OUTPUT})")
    c = p.add_argument_group("calibration (fp16 range analysis, int8/fp8 scales; not for fp32, bf16 or "
                             "--target onnxruntime-cpu)")
    c.add_argument("--calib-images", metavar="PATH", help="folder of images; each gives one whole-image box "
                   "(default: scikit-image's bundled sample photos, five boxes each; the accuracy report's "
                   "held-out photos astronaut/coffee/chelsea are never used for calibration)")
    c.add_argument("--calib-annotations", metavar="PATH", help="COCO json: calibrate on its person boxes instead")
    c.add_argument("--calib-count", type=int, metavar="N", help=f"number of calibration crops (default "
                   f"{DEFAULT_CALIB_COUNT} for int8/fp8, {DEFAULT_FP16_CALIB_COUNT} for fp16's range analysis)")
    e = p.add_argument_group("engine")
    e.add_argument("--builder", metavar="{auto,tensorrt,tensorrt-rtx,none}",
                   help="auto: tensorrt if importable, else tensorrt_rtx; none: stop after ONNX (default auto; "
                   "--target onnxruntime-cpu / openvino build no engine)")
    e.add_argument("--batch", metavar="MIN:OPT:MAX",
                   help=f"optimization profile of the batch axis (default {DEFAULT_BATCH_TEXT})")
    e.add_argument("--workspace", type=int, metavar="MIB", help="builder workspace limit in MiB")
    e.add_argument("--opt-level", type=int, metavar="N", help="builder optimization level 0-5 (library default 3)")
    e.add_argument("--compute-capability", metavar="LIST",
                   help="TensorRT-RTX targets, comma separated, e.g. 8.6,8.9 (default: RTX's own set)")
    e.add_argument("--timing-cache", metavar="PATH", help="persistent timing cache file (TensorRT only)")
    e.add_argument("--force", action="store_true", help="rebuild the engine even if nothing changed")
    add_triton_arguments(p)
    add_detector_arguments(p)
    add_verbose_flag(p)
    return p


def _checked_names(args: argparse.Namespace) -> None:
    """Fail fast, before any heavy import, on names and paths a user can fix."""
    from ..keypoints import keypoint_set_by_name
    from ..model.hub import is_hub_id
    from ..specs import spec_by_name

    if args.precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {args.precision!r}; valid: {', '.join(PRECISIONS)}")
    checked_target(args.target, args.precision)
    if args.builder is None:
        args.builder = "auto" if args.target == DEFAULT_TARGET else "none"
    if args.builder not in BUILDER_CHOICES:
        raise ConfigError(f"unknown builder {args.builder!r}; valid: {', '.join(BUILDER_CHOICES)}")
    if args.target != DEFAULT_TARGET and args.builder != "none":
        raise ConfigError(f"--target {args.target} writes files for {args.target}, which TensorRT cannot build; "
                          "use --target tensorrt for an engine, or drop --builder")
    _checked_run_time_precision(args.target, args.precision)
    if args.model is not None:
        spec_by_name(args.model)
    if args.dataset is not None:
        keypoint_set_by_name(args.dataset)
    if args.weights is not None and not Path(args.weights).expanduser().exists() and not is_hub_id(args.weights):
        raise CheckpointError(f"weights not found: {args.weights} (no such file or folder, nor a Hugging Face Hub "
                              "id org/name[@revision])")
    if args.opset is None:
        args.opset = DEFAULT_OPSET
    elif args.opset not in SUPPORTED_OPSETS:
        raise ConfigError(f"unsupported opset {args.opset}: use {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1}")


def _checked_run_time_precision(target: str, precision: str) -> None:
    """Refuse a precision computed at run time (OpenVINO bf16) that this CPU lacks, before the export."""
    from ..cpu_features import bf16_unavailable_reason
    from ..export.targets import is_run_time_precision

    reason = bf16_unavailable_reason() if is_run_time_precision(precision, target) else None
    if reason is not None:
        raise ConfigError(f"--precision {precision} --target {target}: {reason}")


def _checked_calibration(args: argparse.Namespace) -> None:
    from ..export.calibration import image_files

    given = [flag for flag, value in (("--calib-images", args.calib_images), ("--calib-annotations",
             args.calib_annotations), ("--calib-count", args.calib_count)) if value is not None]
    if given and not needs_calibration(args.precision, args.target):
        what = "fp32" if args.precision == "fp32" else f"{args.precision} for --target {args.target}"
        raise ConfigError(f"{', '.join(given)}: {what} uses no calibration")
    if args.calib_annotations is not None and args.calib_images is None:
        raise ConfigError("--calib-annotations needs --calib-images (the folder its file names refer to)")
    if args.calib_count is None:
        args.calib_count = default_calib_count(args.precision)
    if args.calib_count < 1:
        raise ConfigError(f"--calib-count must be at least 1, got {args.calib_count}")
    if args.calib_images is not None:
        image_files(args.calib_images)


def _build_options(args: argparse.Namespace):
    """The engine stage's `BuildOptions`, or None for --builder none (which refuses the engine options)."""
    from ..artifacts.build_options import BuildOptions, parse_batch

    if args.builder == "none":
        engine_only = {"--batch": args.batch, "--workspace": args.workspace, "--opt-level": args.opt_level,
                       "--compute-capability": args.compute_capability, "--timing-cache": args.timing_cache,
                       "--force": args.force or None}
        given = [flag for flag, value in engine_only.items() if value is not None]
        if given:  # ignoring them would silently drop what was asked for
            why = "--builder none" if args.target == DEFAULT_TARGET else f"--target {args.target}"
            raise ConfigError(f"{', '.join(given)} only {'applies' if len(given) == 1 else 'apply'} to engine builds; "
                              f"{why} builds no engine")
        return None
    batch = parse_batch(DEFAULT_BATCH_TEXT if args.batch is None else args.batch)
    ccs = tuple(c for c in (args.compute_capability or "").split(",") if c.strip())
    return BuildOptions(builder=args.builder, batch=batch, workspace_mib=args.workspace,
                        optimization_level=args.opt_level, compute_capabilities=ccs,
                        timing_cache=args.timing_cache, force=args.force)


def _checked_output(folder: str) -> None:
    """Create the output folder now, so an unwritable one fails before minutes of export."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"output folder {path} is not writable")


def _checked_builder(options) -> None:
    """Fail before the (minutes long) export when the requested builder library is missing or cannot
    target the requested compute capabilities."""
    if options is not None:
        from ..engine.library import builder_library, is_rtx
        from ..engine.target import rtx_targets

        library = builder_library(options.builder)
        if is_rtx(library):
            rtx_targets(library, options.compute_capabilities)


def _calibration_crops(args: argparse.Namespace, warp: str):
    from ..export.calibration import (
        SAMPLE_CALIBRATION_IMAGES,
        folder_crops,
        sample_crops,
    )

    if args.calib_images is not None:
        crops = folder_crops(args.calib_images, args.calib_count, warp, args.calib_annotations)
    else:
        crops = sample_crops(SAMPLE_CALIBRATION_IMAGES, warp, args.calib_count)
    if len(crops) < args.calib_count:
        print(f"note: only {len(crops)} calibration crops available (asked for {args.calib_count})")
    return crops


def _export(args: argparse.Namespace) -> int:
    if args.detector is not None:
        return _export_detector(args)
    refuse_detector_options(args)
    _checked_names(args)
    options = _build_options(args)
    repository = repository_options(args, _checked_output)
    _checked_calibration(args)
    _checked_builder(options)
    _checked_output(args.output)

    from ..export.pipeline import export_precision
    from ..model.loading import load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        model = load_model(weights=args.weights, name=args.model, dataset=args.dataset)
    for warning in caught:  # e.g. random weights: one plain line instead of a source-file reference
        print(f"warning: {warning.message}")
    crops = _calibration_crops(args, model.keypoints.warp) if needs_calibration(args.precision, args.target) else None
    result = export_precision(model, args.precision, args.output, calibration_crops=crops, opset=args.opset,
                              random_weights=args.weights is None, verbose=args.verbose, target=args.target)
    print(f"wrote {result.onnx} and {result.report_path}")
    engine = _build_engine(result.onnx, options, args.output)
    served = engine if engine is not None and args.triton_net in (None, "tensorrt") else Path(result.onnx)
    if repository is not None:
        write_repository(args, repository, served)
    return 0


def _export_detector(args: argparse.Namespace) -> int:
    checked_detector_arguments(args)
    if args.builder is None:
        args.builder = "auto"
    if args.builder not in BUILDER_CHOICES:
        raise ConfigError(f"unknown builder {args.builder!r}; valid: {', '.join(BUILDER_CHOICES)}")
    if args.calib_count is not None and (args.precision == "fp32" or args.calib_count < 1):
        raise ConfigError("--calib-count: a positive number of photos for fp16's range analysis (fp32 uses none)")
    options = _build_options(args)
    _checked_builder(options)
    _checked_output(args.output)
    result = export_detector_from(args)
    _build_engine(result.onnx, options, args.output)
    return 0


def _build_engine(onnx_path: Path, options, output: str) -> Path | None:
    """Build `onnx_path`'s engine into `output` unless `options` is None (--builder none); its path."""
    if options is None:
        return None
    from ..engine.build import engine_from_onnx

    built = engine_from_onnx(onnx_path, options, Path(output))
    done = "up to date (use --force to rebuild)" if built.skipped else f"built in {built.build_seconds:.1f} s"
    print(f"engine {built.engine_path} {done}; metadata {built.sidecar_path}")
    return Path(built.engine_path)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_export, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
