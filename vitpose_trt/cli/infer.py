"""vitpose-infer: poses on an image, a folder of images, a video file, a camera or a stream.

Writes DIR/results.jsonl as it goes (one JSON line per image or video frame, flushed as it is written)
and, from it, DIR/results.json in COCO keypoint-results format (image_id, category_id, keypoints
[x, y, score] x K, score, bbox, file_name) at the end. Boxes come from --detections (COCO results format: entries matched to
images by image_id, which is the number in COCO-style file names such as 000000397133.jpg or the frame
index of a video, or by a file_name field); or from --detector (a person detector ONNX or engine, e.g. an
Ultralytics YOLO export or one imported by vitpose-export --detector; the results' scores then include the
detector's box scores); with neither, every image gets one whole-image box.
Image ids: COCO ids from COCO-style names; other files are numbered after the largest of those, in
name order (0, 1, ... in a folder without COCO names). --render also
writes the images (DIR/<file name>) or the video (DIR/<stem>.mp4) with the skeletons drawn.

Videos, cameras (INPUT 0, 1, ...) and streams (rtsp://, http://, ...) with --detector --track: persons
keep an id across frames (ByteTrack-style tracking), keypoints are smoothed along each track (One-Euro;
--no-smooth turns it off) and --detect-every N runs the detector on every Nth frame only, the tracker and
the poses carrying the boxes in between; frames are decoded, detected and rendered in threads of their own.
Each results.jsonl line then holds the persons' track_id.

Long runs lose nothing: files in a folder that cannot be read (not an image, truncated, empty, no
permission) are skipped with a warning and listed at the end (--strict stops at the first instead); a
video that stops decoding ends the run there. Ctrl-C or SIGTERM finishes the frame at hand, writes the
results so far (and a playable rendered video) and stops; --resume continues from DIR/results.jsonl.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from pathlib import Path

from ..errors import ConfigError
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SKIPPED,
    add_precision_option,
    add_verbose_flag,
    run_command,
    stopped_message,
)

DEFAULT_OUTPUT = "out"
RESULTS_FILE = "results.json"
STREAM_FILE = "results.jsonl"
#: --category-id value that keeps every detection, whatever its category.
ALL_CATEGORIES = "all"
#: --detections filters when not given: COCO's person category, every score.
DEFAULT_CATEGORY = "1"
DEFAULT_MIN_BOX_SCORE = 0.0


def parser() -> argparse.ArgumentParser:
    from ..apps.render import DEFAULT_SCORE_THRESHOLD

    p = argparse.ArgumentParser(prog="vitpose-infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="engine (.engine/.plan), ONNX or checkpoint path, Hugging Face Hub "
                   "id (org/name[@revision], e.g. usyd-community/vitpose-base-simple), or a model name (random "
                   "weights: only for trying the tool)")
    p.add_argument("input", metavar="INPUT", help="image file, folder of images, video file, camera index (0, 1, "
                   "...) or stream URL (rtsp://, http://, ...)")
    p.add_argument("--detections", metavar="DETS.json", help="person boxes in COCO results format")
    p.add_argument("--detector", metavar="DET", help="person detector: .onnx (ONNX Runtime) or .engine (TensorRT)")
    p.add_argument("--detector-threshold", type=float, metavar="S",
                   help="--detector: keep persons scoring above S (default: the detector's, e.g. 0.25 for YOLO)")
    p.add_argument("--max-persons", type=int, metavar="N", help="--detector: at most N persons per image")
    p.add_argument("--track", action="store_true", help="--detector: give each person an id that stays with "
                   "them across frames (results' track_id; --render draws ids and trails)")
    p.add_argument("--detect-every", type=int, default=1, metavar="N",
                   help="--track: run the detector on every Nth frame only (default 1: every frame)")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=None,
                   help="--track: smooth keypoints along each track with a One-Euro filter (default: on)")
    p.add_argument("--category-id", metavar="ID", help=f"--detections: use those of this category (default "
                   f"{DEFAULT_CATEGORY}, COCO person; '{ALL_CATEGORIES}' keeps every one)")
    p.add_argument("--min-box-score", type=float, metavar="S",
                   help=f"--detections: skip those scoring below S (default {DEFAULT_MIN_BOX_SCORE:g})")
    p.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                   help=f"output folder (default ./{DEFAULT_OUTPUT})")
    p.add_argument("--render", action="store_true", help="also write the images / video with the poses drawn")
    p.add_argument("--score-threshold", type=float, default=DEFAULT_SCORE_THRESHOLD, metavar="T",
                   help=f"--render: draw keypoints scoring above T (default {DEFAULT_SCORE_THRESHOLD})")
    p.add_argument("--backend", default="auto", help="auto (by MODEL), onnxruntime, openvino, torch, tensorrt or "
                   "torch-cuda")
    add_precision_option(p)
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads of CPU backends (default: library default)")
    p.add_argument("--detector-threads", type=int, metavar="N", help="CPU threads of the detector (default: "
                   "--threads); with --track the detector runs in its own thread beside the poses, and on a small "
                   "CPU 1 lets the two share the cores instead of oversubscribing them")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first unreadable file of a folder (default: skip it with a warning)")
    p.add_argument("--resume", action="store_true", help=f"continue a stopped run from DIR/{STREAM_FILE}, "
                   "skipping the images / frames already done (same MODEL file contents, INPUT and result options)")
    add_verbose_flag(p)
    return p


def _category(text: str) -> int | None:
    from ..apps.detections import ANY_CATEGORY

    if text == ALL_CATEGORIES:
        return ANY_CATEGORY
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--category-id {text!r}: an integer or '{ALL_CATEGORIES}'") from None


def _checked_arguments(args: argparse.Namespace) -> None:
    if args.detector is not None and args.detections is not None:
        raise ConfigError("--detections and --detector both give boxes: choose one")
    if args.detector is None and (args.detector_threshold is not None or args.max_persons is not None):
        raise ConfigError("--detector-threshold and --max-persons need --detector")
    if args.detections is None and (args.category_id is not None or args.min_box_score is not None):
        raise ConfigError("--category-id and --min-box-score filter the boxes of --detections" + (
            "; a --detector's persons are filtered by --detector-threshold and --max-persons"
            if args.detector is not None else ""))
    if args.min_box_score is not None and not math.isfinite(args.min_box_score):
        raise ConfigError(f"--min-box-score {args.min_box_score}: a finite number expected")
    args.category_id = DEFAULT_CATEGORY if args.category_id is None else args.category_id
    args.min_box_score = DEFAULT_MIN_BOX_SCORE if args.min_box_score is None else args.min_box_score
    if args.track and args.detector is None:
        raise ConfigError("--track needs --detector (the persons to track come from the detector)")
    if not args.track and (args.detect_every != 1 or args.smooth is not None):
        raise ConfigError("--detect-every and --smooth/--no-smooth need --track")
    if args.detect_every < 1:
        raise ConfigError(f"--detect-every {args.detect_every} must be at least 1")
    if not 0.0 <= args.score_threshold <= 1.0:
        raise ConfigError(f"--score-threshold {args.score_threshold} must be in 0..1")
    for flag, threads in (("--threads", args.threads), ("--detector-threads", args.detector_threads)):
        if threads is not None and threads < 1:
            raise ConfigError(f"{flag} {threads} must be at least 1")
    if args.detector_threads is not None and args.detector is None:
        raise ConfigError("--detector-threads needs --detector")
    if args.resume:
        from ..apps.run_identity import check_resumable_model

        check_resumable_model(args.model)
    if args.detector is not None:  # before the pose model loads
        from ..detect.detector import checked_detector_file

        checked_detector_file(args.detector)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output}: exists and is not a folder")
    try:  # now, not after the whole run
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot create this folder ({exc.strerror or exc})") from None


def _run_identity(args: argparse.Namespace, inputs: int) -> dict:
    """What a resumed run must share with the stopped one: the files (the model and detector by content too)
    and the options that change the results."""
    from ..apps.run_identity import identified_paths, resolved_path

    return {"command": "vitpose-infer", **identified_paths(model=args.model, detector=args.detector,
                                                           detections=args.detections),
            "input": resolved_path(args.input), "inputs": inputs, "category_id": args.category_id,
            "min_box_score": args.min_box_score, "backend": args.backend, "precision": args.precision,
            "detector_threshold": args.detector_threshold, "max_persons": args.max_persons,
            # None when not tracking: streams of untracked runs made before these options existed still resume.
            **({"track": True, "detect_every": args.detect_every, "smooth": args.smooth is not False}
               if args.track else {"track": None, "detect_every": None, "smooth": None})}


def _infer(args: argparse.Namespace) -> int:
    _checked_arguments(args)
    from ..apps.detections import Detections
    from ..apps.inference import estimator_for, run_frames
    from ..apps.live_sources import frame_source
    from ..apps.streamed_runs import SkippedInputs, StreamedRun
    from .infer_render import Renderer

    category = _category(args.category_id)
    source = frame_source(args.input)
    if args.resume and getattr(source, "is_live", False):
        raise ConfigError("--resume: a camera or stream cannot be resumed (its frames are gone); start a new run")
    detections = None
    if args.detections is not None:
        detections = Detections.from_file(args.detections, category, args.min_box_score)
        if detections.skipped:
            print(f"note: skipped {detections.skipped} detections with zero width or height")
    estimator = estimator_for(args.model, args.backend, args.threads, args.precision)
    output = Path(args.output)
    run = StreamedRun(output / STREAM_FILE, _run_identity(args, len(source)), args.resume)
    if args.resume:
        print(_resume_note(run, source))
    # A single image file is the whole input: unreadable, it is an error, not a skip.
    skipped = SkippedInputs(strict=args.strict or not (source.is_video or source.path.is_dir()))
    detector, boxes_for = _boxes_source(args, detections)
    total = max(0, len(source) - run.done_count) or None

    with ExitStack() as stack:
        render = Renderer(source, output, estimator.keypoints, args.score_threshold, stack) if args.render else None

        def loop(stop):
            if render is not None:
                render.replay(run.iter_records(), tracked=args.track)
            with _drawing(render) as draw:
                if args.track:
                    return _tracked_run(args, source, detector, estimator, run, skipped, draw, stop, total)

                def on_frame(frame, poses, record):
                    run.write(record)
                    draw((frame, poses, None))

                frames = source.frames(run.done_names, skipped)
                return run_frames(estimator, frames, boxes_for, on_frame, stop=stop, total=total)

        summary = run.execute(loop, output / RESULTS_FILE)
    if summary is not None:
        _print_notes(args, summary, detections, render)
    return _closing_report(args, source, run, summary, skipped)


def _boxes_source(args: argparse.Namespace, detections):
    """(the PersonDetector or None, `apps.inference.BoxesFor`: frame -> (COCO xywh [+ score] rows, category
    ids)): the --detector's persons, else the --detections file's boxes, else the whole image."""
    from ..apps.inference import detector_boxes, whole_image_boxes

    if args.detector is not None:
        from ..detect.detector import PersonDetector

        threads = args.threads if args.detector_threads is None else args.detector_threads
        detector = PersonDetector(args.detector, score_threshold=args.detector_threshold,
                                  max_persons=args.max_persons, threads=threads)
        return detector, detector_boxes(detector)
    if detections is not None:
        return None, lambda frame: detections.boxes_for(frame.image_id, frame.name)
    return None, whole_image_boxes


#: Rendered frames waiting for the writer thread (each holds a decoded frame: keep it small).
RENDER_QUEUE = 8


def _drawing(render):
    """A `ThreadedSink` drawing and writing (frame, poses, track ids) items in its own thread, or one that
    drops them when nothing is rendered."""
    from ..apps.pipeline_threads import ThreadedSink

    if render is None:
        return nullcontext(lambda item: None)
    return _SinkPut(ThreadedSink(lambda item: render(*item), RENDER_QUEUE, name="vitpose-render"))


class _SinkPut:
    """`with` gives the sink's `put`; leaving the block waits for every queued frame to be written."""

    def __init__(self, sink):
        self.sink = sink

    def __enter__(self):
        return self.sink.put

    def __exit__(self, *exc_info):
        return self.sink.__exit__(*exc_info)


def _tracked_run(args: argparse.Namespace, source, detector, estimator, run, skipped, draw, stop, total):
    """The --track loop: `VideoPoses` over the frames not done yet; ids continue after a resumed stream's."""
    from ..apps.inference import run_video
    from ..apps.person_tracking import PersonTracker
    from ..apps.top_down import TopDown
    from ..apps.video_poses import VideoPoses

    first_id = 1 + max((p["track_id"] or 0 for r in run.iter_records() for p in r["persons"]), default=0)
    video = VideoPoses(TopDown(detector, estimator), source, track=True, smooth=args.smooth,
                       detect_every=args.detect_every, tracker=PersonTracker(first_id=first_id),
                       done=run.done_names, on_unreadable=skipped)

    def on_frame(frame_poses, record):
        run.write(record)
        draw((frame_poses.frame, frame_poses.poses, frame_poses.track_ids))

    return run_video(video, on_frame, stop=stop, total=total)


def _print_notes(args: argparse.Namespace, summary, detections, render) -> None:
    """Hints about a run that worked but may not have done what was meant."""
    if detections is not None and len(detections) and summary.frames and not summary.poses:
        print(f"warning: none of the {len(detections)} detections matched a frame (by image_id or file_name)")
    if render is not None and summary.poses and not render.drawn_keypoints:
        print(f"note: no keypoint scored above --score-threshold {args.score_threshold}, so only the boxes are "
              "drawn (random weights? give real ones, e.g. a Hub id such as usyd-community/vitpose-base-simple)")


def _resume_note(run, source) -> str:
    unit = "frames" if source.is_video else "images"
    if not run.done_count:
        return f"--resume: nothing done yet in {run.stream.path}; starting from the beginning"
    return f"--resume: {run.done_count} of {len(source)} {unit} already done in {run.stream.path}; continuing"


def _closing_report(args: argparse.Namespace, source, run, summary, skipped) -> int:
    """Print how the run ended (skipped inputs, results written, how to continue); return the exit code."""
    unit = "frames" if source.is_video else "images"
    results = Path(args.output) / RESULTS_FILE
    if summary is not None:
        print(summary.describe())
    counts = f"{run.frames_done} of {len(source)}" if len(source) else f"{run.frames_done}"
    if run.stopped_by is not None:
        if skipped:
            print(skipped.summary())
        where = f" (the last: frame {run.last_frame})" if source.is_video and run.last_frame is not None else ""
        progress = (f"after {counts} {unit}{where}; their results are in {results} (and {run.stream.path})"
                    + (", the rendered video is closed and plays" if args.render and source.is_video else ""))
        if getattr(source, "is_live", False):  # nothing to resume: a camera's frames are gone
            print(f"vitpose-infer: interrupted ({run.stopped_by}) {progress}", file=sys.stderr)
        else:
            print(stopped_message("vitpose-infer", run.stopped_by, progress, args.argv), file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{counts} {unit} done" + (f", {skipped.summary()}" if skipped else ""))
    print(f"wrote {results} (stream: {run.stream.path})" + (
        f" and the rendered {'video' if source.is_video else 'images'}" if args.render else ""))
    return EXIT_SKIPPED if skipped else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_infer, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
