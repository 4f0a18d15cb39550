"""End-to-end CPU pipeline: one image + 8 person boxes -> keypoints, vitpose-trt vs Hugging Face transformers.

Systems, all with the same weights (a random-init transformers ViTPose, saved with `save_pretrained`):
- hf-fp32: transformers' pipeline, `VitPoseImageProcessor` (its PIL backend: transformers falls back
  to it without torchvision; same scipy warp and DARK code) + `VitPoseForPoseEstimation` (PyTorch eager)
  + `post_process_pose_estimation`;
- ours-ort-fp32 / ours-ort-int8-cpu: `vitpose_trt.PoseEstimator` on ONNX Runtime with the fp32 export and
  the CPU int8 export of `vitpose_trt.export.export_precision(..., "int8", target="onnxruntime-cpu")`
  (`vitpose-export --precision int8 --target onnxruntime-cpu`: ONNX Runtime's dynamic int8 on every
  weight MatMul, 7-bit per-channel weights, the rest of the graph fp32).
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
SYSTEMS = ("hf-fp32", "ours-ort-fp32", "ours-ort-int8-cpu")
#: Which ONNX file (key of `prepare`'s result) each ONNX Runtime system runs.
SYSTEM_FILES = {"ours-ort-fp32": "fp32", "ours-ort-int8-cpu": "int8-cpu"}
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


def prepare(model_name: str, cache: Path) -> dict:
    """HF folder + our fp32 and CPU int8 ONNX files in `cache` (reused when present and made by the current
    CPU int8 recipe); their paths and reports."""
    import vitpose_trt as vt
    from vitpose_trt.export import export_precision
    from vitpose_trt.export.cpu_quantization import is_current_cpu_int8
    from vitpose_trt.export.pipeline import onnx_path_for, report_path_for
    from vitpose_trt.specs import spec_by_name

    hf_folder = cache / f"hf-{model_name}"
    if not (hf_folder / "config.json").is_file():
        _hf_model(spec_by_name(model_name)).save_pretrained(hf_folder)
    int8_cpu = onnx_path_for(cache, model_name, "int8", target="onnxruntime-cpu")
    if not report_path_for(int8_cpu).is_file() or not is_current_cpu_int8(int8_cpu):
        export_precision(vt.load_model(hf_folder), "int8", cache, random_weights=True, target="onnxruntime-cpu")
    files = {"fp32": onnx_path_for(cache, model_name, "fp32"), "int8-cpu": int8_cpu}
    reports = {key: json.loads(report_path_for(path).read_text()) for key, path in files.items()}
    return {"hf": str(hf_folder), **{key: str(path) for key, path in files.items()}, "reports": reports}


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


def _ours_frame_call(onnx_path: str, threads: int):
    import vitpose_trt as vt

    estimator = vt.PoseEstimator(onnx_path, flip_test=False, threads=threads, max_batch=PERSONS)
    _, bgr, boxes = _frame_inputs()
    return lambda: estimator(bgr, boxes)


def measure(system: str, paths: dict, frames: int, warmup: int, threads: int) -> list[float]:
    """Seconds per frame of `system`, `frames` timed frames after `warmup` untimed ones (this process)."""
    if system == "hf-fp32":
        frame = _hf_frame_call(paths["hf"], threads)
    else:
        frame = _ours_frame_call(paths[SYSTEM_FILES[system]], threads)
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


def markdown(results: dict) -> str:
    base = results["systems"]["hf-fp32"]["persons_per_s"]
    lines = [f"# CPU pipeline: astronaut + {PERSONS} boxes -> keypoints, {results['model']}", "",
             f"Command: `{results['command']}`", "",
             "| system | persons/s (median frame) | median s/frame | min-max s | vs HF fp32 |",
             "|---|---|---|---|---|"]
    for name, row in results["systems"].items():
        lines.append(f"| {name} | {row['persons_per_s']:.2f} | {row['median_s_per_frame']:.3f} | "
                     f"{row['min_s']:.3f}-{row['max_s']:.3f} | {row['persons_per_s'] / base:.2f}x |")
    lines += ["", "Heatmap accuracy of each ONNX file vs fp32 PyTorch (15 held-out crops; random weights; ONNX "
              "Runtime CPU, default graph optimisations):", ""]
    for precision, report in results["accuracy_reports"].items():
        lines.append(f"- {precision}: rel-L2 {report['relative_l2']:.3g}, cosine {report['cosine']:.6f} "
                     f"({Path(report['onnx']).name})")
    env = results["environment"]
    lines += ["", f"CPU: {env.get('cpu')}, threads {results['threads']}, load average at the end "
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
    parser.add_argument("--measure", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, json.loads(args.paths), args.frames, args.warmup, args.threads)))
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    paths = prepare(args.model, args.cache)
    seconds = {system: [] for system in SYSTEMS}
    for round_index in range(args.rounds):
        for system in SYSTEMS:
            seconds[system] += _measure_in_subprocess(system, args, paths)
            print(f"round {round_index + 1}/{args.rounds} {system}: {summary(seconds[system])['persons_per_s']:.2f} "
                  "persons/s so far", flush=True)
    results = {
        "model": args.model, "threads": args.threads, "command": " ".join(["python", *sys.argv]),
        "systems": {s: summary(v) for s, v in seconds.items()}, "seconds": seconds,
        "environment": _environment(args.threads), "accuracy_reports": paths["reports"],
        "notes": ["random weights (same in every system): speed only; correctness is tests/runtime/"
                  "test_runtime_hf_parity.py", "no flip test in any system; UDP warp + DARK-UDP decode",
                  "each system in its own process, systems interleaved per round"],
    }
    write_results(results, args.out)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
