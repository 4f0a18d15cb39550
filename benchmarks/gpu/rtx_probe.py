"""Does a TensorRT-RTX engine run on this GPU? One answer per build target, as JSON.

TensorRT-RTX targets consumer/workstation GPUs (its compute-capability list has no SM90), so on datacenter
cards (H100/H200) whether its engines run at all is an open question; this probe answers it on the machine
at hand. For each target (RTX's default set, and "CURRENT": the GPU the build runs on) it builds the tiny
random-weight model's engine, runs it through `PoseEstimator(backend="tensorrt")` on the astronaut photo,
and compares the keypoints with ONNX Runtime on the same ONNX. Needs tensorrt_rtx, CuPy and a GPU.

Usage: python benchmarks/gpu/rtx_probe.py --json rtx-probe.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import traceback
from pathlib import Path

import numpy as np

#: Build targets tried: RTX's default set (empty), and the GPU the probe runs on.
TARGETS = {"default": (), "current": ("CURRENT",)}


def probe(onnx: Path, folder: Path, targets: tuple[str, ...], image, color: str, boxes, expected) -> dict:
    """{"built": bool, "ran": bool, "max_keypoint_px": float | None, "error": str | None} for one target."""
    import vitpose_trt as vt
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    result = {"targets": list(targets), "built": False, "ran": False, "max_keypoint_px": None, "error": None}
    try:
        options = BuildOptions(builder="tensorrt-rtx", batch=(1, 4, 8), compute_capabilities=targets)
        built = engine_from_onnx(onnx, options, folder, progress=False)
        result["built"] = True
        poses = vt.PoseEstimator(built.engine_path, backend="tensorrt", color=color)(image, boxes)
        result["ran"] = True
        result["max_keypoint_px"] = float(np.abs(poses.keypoints - expected.keypoints).max())
    except Exception as exc:  # the probe's answer is the error itself
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc(limit=6)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", required=True, help="write the answers here")
    args = parser.parse_args()

    import vitpose_trt as vt
    from vitpose_trt.bench.pipeline import image_for_pipeline, person_boxes
    from vitpose_trt.export import export_onnx
    from vitpose_trt.gpus import current_gpu

    report = {"gpu": None, "tensorrt_rtx": None, "results": {}}
    try:
        import tensorrt_rtx

        report["tensorrt_rtx"] = tensorrt_rtx.__version__
        report["gpu"] = current_gpu().nvidia_smi_record()
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    else:
        image, color, _ = image_for_pipeline(None)
        boxes = person_boxes(image.shape, 4)
        with tempfile.TemporaryDirectory() as tmp:
            onnx = export_onnx(vt.load_model(name="vitpose-tiny"), Path(tmp) / "vitpose-tiny.onnx")
            expected = vt.PoseEstimator(onnx, color=color)(image, boxes)
            for name, targets in TARGETS.items():
                folder = Path(tmp) / name
                folder.mkdir()
                report["results"][name] = probe(onnx, folder, targets, image, color, boxes, expected)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
