"""End-to-end CPU pipeline: one image + 8 person boxes -> keypoints, vitpose-trt vs Hugging Face transformers.

Systems, all with the same weights (a random-init transformers ViTPose, saved with `save_pretrained`):
- hf-fp32: transformers' pipeline, `VitPoseImageProcessor` (its PIL backend: transformers falls back
  to it without torchvision; same scipy warp and DARK code) + `VitPoseForPoseEstimation` (PyTorch eager)
  + `post_process_pose_estimation`;
- ours-ort-fp32 / ours-ort-int8-cpu: `vitpose_trt.PoseEstimator` on ONNX Runtime with the fp32 export and
  the CPU int8 export of `vitpose_trt.export.export_precision(..., "int8", target="onnxruntime-cpu")`
  (`vitpose-export --precision int8 --target onnxruntime-cpu`: ONNX Runtime's dynamic int8 on every
  weight MatMul, 7-bit per-channel weights, the rest of the graph fp32);
- ours-ov-fp32 / ours-ov-bf16 / ours-ov-int8: `PoseEstimator(..., backend="openvino")` on the fp32 export
  computed in fp32 or in bf16 (`precision="bf16"`, residual Adds in fp32; only on CPUs with AVX512-BF16 or
  AMX, else skipped with the reason), and on the int8 IR of `export_precision(..., "int8", target="openvino")`
  (NNCF);
- ours-ov-bf16-all: for comparison, bf16 with the residual Adds in bf16 too (`OpenVinoBackend(...,
  fp32_residuals=False)`, OpenVINO's own bf16; not offered to users: outside the 16-bit bound on ViT-B).
(The project's TensorRT int8 file - unquantized parts fp16 - is not benchmarked: it is not meant for
ONNX Runtime's CPU provider, which runs its fp16 parts slowly; earlier runs measured 0.82x HF.)
Same work per frame: UDP warp, no flip test (HF's pipeline has none), DARK-UDP decode, image-px output.

Each system runs in its own process (no shared thread pools), in interleaved rounds so that load
from other processes on a shared machine hits every system alike; the report keeps every frame time.
Reproduce (repository root, venv active): python benchmarks/cpu_pipeline/bench_cpu_pipeline.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SYSTEMS = ("hf-fp32", "ours-ort-fp32", "ours-ort-int8-cpu", "ours-ov-fp32", "ours-ov-bf16", "ours-ov-bf16-all",
           "ours-ov-int8")
#: Each of our systems: (its file: key of `prepare`'s result, backend, precision= for the backend).
OUR_SYSTEMS = {"ours-ort-fp32": ("fp32", "onnxruntime", None), "ours-ort-int8-cpu": ("int8-cpu", "onnxruntime", None),
               "ours-ov-fp32": ("fp32", "openvino", "fp32"), "ours-ov-bf16": ("fp32", "openvino", "bf16"),
               "ours-ov-bf16-all": ("fp32", "openvino", "bf16"), "ours-ov-int8": ("int8-openvino", "openvino", "fp32")}
#: Systems whose bf16 leaves the residual Adds in bf16 too (OpenVINO's own bf16).
ALL_BF16_SYSTEMS = ("ours-ov-bf16-all",)
#: The accuracy report of each system (key of `prepare`'s "reports").
SYSTEM_REPORTS = {"ours-ort-fp32": "fp32", "ours-ort-int8-cpu": "int8-cpu", "ours-ov-fp32": "fp32",
                  "ours-ov-bf16": "bf16-openvino", "ours-ov-bf16-all": "bf16-all-openvino",
                  "ours-ov-int8": "int8-openvino"}
PERSONS = 8
BOXES_SEED = 0


def _hf_model(spec, seed: int = 0):
    """A random-init transformers VitPoseForPoseEstimation (classic head, COCO) with `spec`'s sizes."""
    import torch
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation

    backbone = VitPoseBackboneConfig(hidden_size=spec.embed_dim, num_hidden_layers=spec.depth,
                                     num_attention_heads=spec.num_heads, layer_norm_eps=spec.layer_norm_eps,
                                     out_indices=[spec.depth])
    torch.manual_seed(seed)
    return VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, use_simple_decoder=False,
                                                  num_labels=17)).eval()


def prepare(model_name: str, cache: Path, systems: tuple[str, ...]) -> dict:
    """HF folder + our files in `cache` (each reused when current: `export_precision(reuse_current=True)`),
    their paths and accuracy reports."""
    import vitpose_trt as vt
    from vitpose_trt.export import export_precision
    from vitpose_trt.specs import spec_by_name

    hf_folder = cache / f"hf-{model_name}"
    if not (hf_folder / "config.json").is_file():
        _hf_model(spec_by_name(model_name)).save_pretrained(hf_folder)
    model = vt.load_model(hf_folder)
    recipes = {"fp32": ("fp32", "tensorrt"), "int8-cpu": ("int8", "onnxruntime-cpu"),
               "int8-openvino": ("int8", "openvino"), "bf16-openvino": ("bf16", "openvino")}
    wanted = {SYSTEM_REPORTS[s] for s in systems if s in SYSTEM_REPORTS}
    files, reports = {}, {}
    for key, (precision, target) in recipes.items():
        if key in wanted or key == "fp32":
            result = export_precision(model, precision, cache, random_weights=True, target=target, reuse_current=True)
            files[key], reports[key] = str(result.onnx), result.report.to_dict()
    if "bf16-all-openvino" in wanted:
        reports["bf16-all-openvino"] = _all_bf16_report(model, files["fp32"])
    return {"hf": str(hf_folder), **files, "reports": reports}


def _all_bf16_report(model, fp32_onnx: str) -> dict:
    """The accuracy report of ours-ov-bf16-all, made as the export reports are (held-out crops, fp32 PyTorch)."""
    from vitpose_trt.export.accuracy import REPORT_TOLERANCE, accuracy_report, heatmaps_from_torch
    from vitpose_trt.export.calibration import held_out_crops
    from vitpose_trt.runtime.backends.openvino import OpenVinoBackend

    crops = held_out_crops(model.keypoints.warp)
    backend = OpenVinoBackend(fp32_onnx, precision="bf16", max_batch=len(crops), fp32_residuals=False)
    heatmaps = backend.run({backend.io.input_names[0]: crops})[backend.io.output_names[0]]
    report = accuracy_report(heatmaps_from_torch(model, crops), heatmaps, precision="bf16", onnx=fp32_onnx,
                             tolerance=REPORT_TOLERANCE["bf16"], model=model.spec.name, crop_source="held-out crops")
    report.notes.append("OpenVINO bf16 with the residual Adds in bf16 too (fp32_residuals=False): comparison only")
    return report.to_dict()


def skipped_systems(systems: tuple[str, ...]) -> dict[str, str]:
    """{system: why it cannot run here} (bf16 needs a CPU with bf16 instructions)."""
    from vitpose_trt.cpu_features import bf16_unavailable_reason

    reason = bf16_unavailable_reason()
    return {system: reason for system in ("ours-ov-bf16", *ALL_BF16_SYSTEMS) if system in systems and reason}


def _frame_inputs():
    """(astronaut RGB, astronaut BGR, xyxy boxes (8, 4)) - the bench helper's seeded person boxes."""
    from skimage import data

    from vitpose_trt.bench.pipeline import person_boxes

    rgb = np.ascontiguousarray(data.astronaut())
    return rgb, np.ascontiguousarray(rgb[:, :, ::-1]), person_boxes(rgb.shape, PERSONS).astype(np.float64)


def _hf_frame_call(hf_folder: str, threads: int):
    import torch
    from transformers import VitPoseForPoseEstimation
    from transformers.models.vitpose.image_processing_pil_vitpose import VitPoseImageProcessorPil

    torch.set_num_threads(threads)
    model = VitPoseForPoseEstimation.from_pretrained(hf_folder).eval()
    processor = VitPoseImageProcessorPil()
    rgb, _, boxes = _frame_inputs()
    xywh = boxes.copy()
    xywh[:, 2:] -= xywh[:, :2]
    hf_boxes = [xywh.astype(np.float32)]

    def frame():
        inputs = processor(rgb, boxes=hf_boxes, return_tensors="pt")
        with torch.inference_mode():
            outputs = model(**inputs)
        return processor.post_process_pose_estimation(outputs, boxes=hf_boxes)

    return frame


def _ours_frame_call(system: str, paths: dict, threads: int):
    import vitpose_trt as vt

    file, backend, precision = OUR_SYSTEMS[system]
    if system in ALL_BF16_SYSTEMS:
        from vitpose_trt.runtime.backends.openvino import OpenVinoBackend

        loaded = OpenVinoBackend(paths[file], precision=precision, threads=threads, max_batch=PERSONS,
                                 fp32_residuals=False)
        estimator = vt.PoseEstimator(loaded, flip_test=False)
    else:
        estimator = vt.PoseEstimator(paths[file], backend=backend, precision=precision, flip_test=False,
                                     threads=threads, max_batch=PERSONS)
    _, bgr, boxes = _frame_inputs()
    return lambda: estimator(bgr, boxes)


def measure(system: str, paths: dict, frames: int, warmup: int, threads: int) -> list[float]:
    """Seconds per frame of `system`, `frames` timed frames after `warmup` untimed ones (this process)."""
    if system == "hf-fp32":
        frame = _hf_frame_call(paths["hf"], threads)
    else:
        frame = _ours_frame_call(system, paths, threads)
    for _ in range(warmup):
        frame()
    seconds = []
    for _ in range(frames):
        start = time.perf_counter()
        frame()
        seconds.append(time.perf_counter() - start)
    return seconds


def _measure_in_subprocess(system: str, args, paths: dict) -> list[float]:
    command = [sys.executable, __file__, "--measure", system, "--paths", json.dumps(paths),
               "--frames", str(args.frames), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(seconds: list[float]) -> dict:
    values = np.asarray(seconds)
    return {"frames": len(values), "median_s_per_frame": float(np.median(values)),
            "persons_per_s": float(PERSONS / np.median(values)), "min_s": float(values.min()),
            "max_s": float(values.max())}


def _environment(threads: int) -> dict:
    from vitpose_trt.bench.environment import environment

    env = environment(threads)
    env["load_average_1_5_15"] = list(os.getloadavg())
    return env


def write_results(results: dict, stem: Path) -> None:
    """`stem`.json and `stem`.md, each written atomically."""
    from vitpose_trt.atomic_files import write_text_atomically

    write_text_atomically(stem.with_suffix(".json"), json.dumps(results, indent=2))
    write_text_atomically(stem.with_suffix(".md"), markdown(results))


def fastest_within_bounds(results: dict) -> str | None:
    """The system with the most persons/s among HF and ours whose accuracy report is within its bound."""
    reports = results["accuracy_reports"]
    fine = [name for name in results["systems"]
            if name == "hf-fp32" or reports.get(SYSTEM_REPORTS[name], {}).get("within_tolerance")]
    return max(fine, key=lambda name: results["systems"][name]["persons_per_s"], default=None)


def _versus(persons_per_s: float, base: float | None) -> str:
    return f"{persons_per_s / base:.2f}x" if base else "-"


def markdown(results: dict) -> str:
    base = results["systems"].get("hf-fp32", {}).get("persons_per_s")  # None when HF was not measured
    lines = [f"# CPU pipeline: astronaut + {PERSONS} boxes -> keypoints, {results['model']}", "",
             f"Command: `{results['command']}`", "",
             "| system | persons/s (median frame) | median s/frame | min-max s | vs HF fp32 | heatmap rel-L2 vs fp32 PyTorch |",
             "|---|---|---|---|---|---|"]
    for name, row in results["systems"].items():
        report = results["accuracy_reports"].get(SYSTEM_REPORTS.get(name, ""), {})
        accuracy = f"{report['relative_l2']:.3g}" if report else "(reference)"
        lines.append(f"| {name} | {row['persons_per_s']:.2f} | {row['median_s_per_frame']:.3f} | "
                     f"{row['min_s']:.3f}-{row['max_s']:.3f} | {_versus(row['persons_per_s'], base)} | {accuracy} |")
    lines += ["", f"Fastest within its accuracy bound: **{fastest_within_bounds(results)}**"]
    lines += [f"- skipped {name}: {reason}" for name, reason in results.get("skipped", {}).items()]
    lines += ["", "Heatmap accuracy of each file vs fp32 PyTorch (15 held-out crops; random weights; run in the "
              "runtime that runs it):", ""]
    for key, report in results["accuracy_reports"].items():
        lines.append(f"- {key}: rel-L2 {report['relative_l2']:.3g} (bound {report['tolerance']}), cosine "
                     f"{report['cosine']:.6f} ({Path(report['onnx']).name})")
    env = results["environment"]
    flags = [flag for flag, present in env.get("cpu_flags", {}).items() if present]
    lines += ["", f"CPU: {env.get('cpu')}, threads {results['threads']}, low-precision instructions: "
              f"{', '.join(flags) or 'none'}; OpenVINO CPU capabilities: {env.get('openvino_cpu_capabilities')}; "
              f"load average at the start {results['load_average_at_start']}, at the end "
              f"{env['load_average_1_5_15']}", "", *[f"- {note}" for note in results["notes"]], ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vitpose-b")
    parser.add_argument("--frames", type=int, default=4, help="timed frames per system per round")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vitpose-trt" / "cpu-pipeline")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ", ".join(SYSTEMS))
    parser.add_argument("--measure", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, json.loads(args.paths), args.frames, args.warmup, args.threads)))
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    asked = tuple(s.strip() for s in args.systems.split(","))
    unknown = sorted(set(asked) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems {unknown}; valid: {', '.join(SYSTEMS)}")
    skipped = skipped_systems(asked)
    systems = tuple(s for s in SYSTEMS if s in asked and s not in skipped)
    load_at_start = list(os.getloadavg())
    paths = prepare(args.model, args.cache, systems)
    seconds = {system: [] for system in systems}
    for round_index in range(args.rounds):
        for system in systems:
            seconds[system] += _measure_in_subprocess(system, args, paths)
            print(f"round {round_index + 1}/{args.rounds} {system}: {summary(seconds[system])['persons_per_s']:.2f} "
                  "persons/s so far", flush=True)
    results = {
        "model": args.model, "threads": args.threads, "command": " ".join(["python", *sys.argv]),
        "systems": {s: summary(v) for s, v in seconds.items()}, "seconds": seconds,
        "environment": _environment(args.threads), "accuracy_reports": paths["reports"], "skipped": skipped,
        "load_average_at_start": load_at_start,
        "notes": ["random weights (same in every system): speed only; correctness is tests/runtime/"
                  "test_runtime_hf_parity.py", "no flip test in any system; UDP warp + DARK-UDP decode",
                  "each system in its own process, systems interleaved per round"],
    }
    write_results(results, args.out)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
