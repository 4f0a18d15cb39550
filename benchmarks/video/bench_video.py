"""Video end to end on this CPU: decode -> detect -> track -> pose -> smooth -> draw -> encode, frames/s and ms
per stage, `VideoPoses` pipelined (decode and detection threads, a render thread) vs the same stages run one
after another in one thread (pipelined=False, drawing inline).

Models: ViTPose-S, random weights, CPU int8 (`vitpose-export --precision int8 --target onnxruntime-cpu`), flip
test on; a YOLO11n-sized random-weight detector at 640 (tests/detect/detector_models.py, 6.3 GFLOPs), 2 ONNX
Runtime threads each. Video: a generated 1280x720 mp4 (OpenCV mp4v) of 1, 4 or 8 moving persons (textured
rectangles). The random detector's own boxes would change the person count, so `SceneDetector` runs the real
detector on every frame it is asked to (its full cost) and then reports the scene's boxes for that frame;
tracking, poses and smoothing run on those. Rendered output: H.264 through PyAV when installed, else mp4v.

Modes: "serial" (every stage in one thread, both models on --threads), "pipelined" (threads, both models on
--threads: on 2 cores the two inferences then oversubscribe them), "pipelined-split" (threads, the detector on
one thread). On a GPU machine pass engines (--detector det.engine --pose pose.engine): both on CUDA, `VideoPoses` runs
detection and poses on two CUDA streams. Cases run interleaved, round by round (persons x detect every 1/3 x mode), the load average
recorded before each. Reproduce (repository root): python benchmarks/video/bench_video.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "detect"))

PERSONS = (1, 4, 8)
DETECT_EVERY = (1, 3)
#: mode -> (pipelined, detector threads or None for --threads): "pipelined-split" gives the detector one thread,
#: so that on a small CPU the detection thread and the pose stage share the cores instead of oversubscribing them.
MODES = {"serial": (False, None), "pipelined": (True, None), "pipelined-split": (True, 1)}
SIZE = (1280, 720)
FPS = 30.0
SEED = 0


class SceneDetector:
    """A `PersonDetector`'s cost with the scene's boxes: runs `detector` on the image, then returns the boxes of
    the frame it was called for (calls come in frame order: call k is frame k * detect_every)."""

    def __init__(self, detector, boxes: list[np.ndarray], detect_every: int):
        self.detector, self.boxes, self.detect_every = detector, boxes, detect_every
        self.backend, self.color = detector.backend, detector.color
        self.calls = 0

    def __call__(self, image):
        from vitpose_trt.detect.detector import Detections

        self.detector(image)
        boxes = self.boxes[min(self.calls * self.detect_every, len(self.boxes) - 1)]
        self.calls += 1
        return Detections(boxes.astype(np.float32), np.full(len(boxes), 0.9, np.float32))


def scene(persons: int, frames: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(BGR frames, per-frame boxes (persons, 4) xyxy): persons walking across a textured background."""
    import cv2

    rng = np.random.default_rng(SEED)
    width, height = SIZE
    background = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), np.uint8), (0, 0), 3)
    size = np.stack([rng.uniform(90, 160, persons), rng.uniform(240, 420, persons)], axis=1)
    start = rng.uniform([0, 0], [width, height], (persons, 2)) * 0.8 + 40
    velocity = rng.uniform(-6, 6, (persons, 2)) * [1.0, 0.3]
    textures = [rng.integers(0, 255, (8, 4, 3), np.uint8) for _ in range(persons)]
    images, boxes = [], []
    for frame in range(frames):
        image = background.copy()
        centres = (start + velocity * frame) % [width, height]
        frame_boxes = np.concatenate([centres - size / 2, centres + size / 2], axis=1).clip(0, [width, height] * 2)
        for box, texture in zip(frame_boxes.astype(int), textures):
            w, h = box[2] - box[0], box[3] - box[1]
            if w > 1 and h > 1:
                image[box[1]:box[3], box[0]:box[2]] = cv2.resize(texture, (w, h), interpolation=cv2.INTER_NEAREST)
        images.append(image)
        boxes.append(frame_boxes)
    return images, boxes


def write_video(path: Path, images: list[np.ndarray]) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for image in images:
        writer.write(image)
    writer.release()
    return path


def prepared_models(cache: Path) -> tuple[Path, Path]:
    from detector_models import export_yolo_shaped

    from vitpose_trt.bench.artifacts import onnx_for
    from vitpose_trt.bench.sources import model_source

    cache.mkdir(parents=True, exist_ok=True)
    detector = cache / "yolo11n-shaped.onnx"
    if not detector.is_file():
        export_yolo_shaped(detector)
    return detector, onnx_for(model_source("vitpose-s"), "int8", cache, "onnxruntime-cpu")


def run_case(models, video: Path, boxes, detect_every: int, mode: str, out: Path) -> dict:
    """One pass over the video; frames/s end to end and mean ms per stage per frame."""
    import vitpose_trt as vt
    from vitpose_trt.apps.media import VideoOutput
    from vitpose_trt.apps.pipeline_threads import ThreadedSink
    from vitpose_trt.apps.track_render import TrackTrails, drawn_tracks
    from vitpose_trt.apps.video_poses import VideoPoses

    detector, estimator = models
    pipe = vt.TopDown(SceneDetector(detector, boxes, detect_every), estimator)
    video_poses = VideoPoses(pipe, video, detect_every=detect_every, pipelined=MODES[mode][0])
    trails, render_seconds = TrackTrails(), [0.0]

    def draw(item):
        begin = time.perf_counter()
        result = item
        trails.update(result.track_ids, result.poses.boxes)
        output.write(drawn_tracks(result.frame.image, result.poses, result.track_ids, trails, estimator.keypoints))
        render_seconds[0] += time.perf_counter() - begin

    start = time.perf_counter()
    with VideoOutput(out, FPS, SIZE) as output:
        if MODES[mode][0]:
            with ThreadedSink(draw, 8, name="vitpose-render") as sink:
                for result in video_poses:
                    result.record()
                    sink.put(result)
        else:
            for result in video_poses:
                result.record()
                draw(result)
    seconds = time.perf_counter() - start
    frames = video_poses.frames
    stages = {name: 1e3 * value / frames for name, value in video_poses.stage_seconds.items()}
    stages["render"] = 1e3 * render_seconds[0] / frames
    return {"frames": frames, "seconds": seconds, "frames_per_s": frames / seconds, "stages_ms": stages,
            "codec": output.codec}


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    from vitpose_trt.bench.environment import environment

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default=os.environ.get("VITPOSE_TRT_CACHE", str(Path.home() / ".cache/vitpose-trt/bench")))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--persons", default=",".join(map(str, PERSONS)))
    parser.add_argument("--detector", type=Path, help="detector file instead of the YOLO11n-sized ONNX (e.g. an engine)")
    parser.add_argument("--pose", type=Path, help="pose model file instead of ViTPose-S CPU int8 (e.g. an engine)")
    args = parser.parse_args()
    import vitpose_trt as vt

    detector_path, pose_path = (args.detector, args.pose) if args.detector and args.pose else prepared_models(
        Path(args.cache))
    estimator = vt.PoseEstimator(pose_path, threads=args.threads)
    detectors = {threads: vt.PersonDetector(detector_path, threads=threads) for threads in {args.threads, 1}}
    models = {mode: (detectors[threads or args.threads], estimator) for mode, (_, threads) in MODES.items()}
    persons = [int(p) for p in args.persons.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        videos = {}
        for count in persons:
            images, boxes = scene(count, args.frames)
            videos[count] = (write_video(Path(folder) / f"scene-{count}.mp4", images), boxes)
        for mode in MODES:  # warm-up
            run_case(models[mode], *videos[persons[-1]], 1, mode, Path(folder) / "warm.mp4")
        for round_index in range(args.rounds):
            for count in persons:
                for every in DETECT_EVERY:
                    for mode in MODES:
                        before = load()
                        row = run_case(models[mode], *videos[count], every, mode, Path(folder) / "out.mp4")
                        row["load_before"] = before
                        results.setdefault((count, every, mode), []).append(row)
                        print(json.dumps({"round": round_index, "persons": count, "detect_every": every, "mode": mode,
                                          "frames_per_s": round(row["frames_per_s"], 2), "load": before}), flush=True)
    summary = [_summary(key, rows) for key, rows in results.items()]
    env = {**environment(args.threads), "threads": args.threads}
    report = {"command": " ".join(sys.argv), "environment": env, "frames": args.frames, "rounds": args.rounds,
              "results": summary}
    (HERE / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    (HERE / "results.md").write_text(markdown(summary, env, args))
    print(markdown(summary, env, args))


def _summary(key, rows: list[dict]) -> dict:
    persons, every, mode = key
    stages = rows[0]["stages_ms"].keys()
    return {"persons": persons, "detect_every": every, "mode": mode,
            "frames_per_s": statistics.median(r["frames_per_s"] for r in rows),
            "frames_per_s_rounds": [round(r["frames_per_s"], 3) for r in rows],
            "stages_ms": {s: round(statistics.median(r["stages_ms"][s] for r in rows), 1) for s in stages},
            "load_before": [round(r["load_before"], 2) for r in rows], "codec": rows[0]["codec"]}


def markdown(summary: list[dict], env: dict, args) -> str:
    by_key = {(r["persons"], r["detect_every"], r["mode"]): r for r in summary}
    loads = [x for r in summary for x in r["load_before"]]
    heading = (f"CPU: {env['cpu']}; {args.frames} frames of 1280x720 per run, median of {args.rounds} interleaved "
               f"rounds; load average before the runs {min(loads):.1f}-{max(loads):.1f}; rendered as "
               f"{summary[0]['codec']}. ONNX Runtime threads: {args.threads} per model (split: detector 1).")
    columns = ("| persons | detect every | serial frames/s | pipelined | pipelined-split | decode | detect | track | "
               "pose | smooth | render |")
    lines = [heading, "", columns, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (persons, every, mode), row in sorted(by_key.items()):
        if mode != "serial":
            continue
        s = row["stages_ms"]
        rates = [by_key[(persons, every, m)]["frames_per_s"] for m in MODES]
        lines.append(f"| {persons} | {every} | {rates[0]:.2f} | {rates[1]:.2f} ({rates[1] / rates[0]:.2f}x) | "
                     f"{rates[2]:.2f} ({rates[2] / rates[0]:.2f}x) | {s['decode']:.1f} | {s['detect']:.1f} | "
                     f"{s['track']:.1f} | {s['pose']:.1f} | {s['smooth']:.1f} | {s['render']:.1f} |")
    lines += ["", ("Stage columns: ms per frame in the serial run (detect: averaged over all frames, so detecting "
                   "every 3rd frame shows a third of a detection).")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
