"""vitpose-eval: COCO keypoint AP/AR of a model, measured the way the ViTPose papers do.

Runs MODEL on every image of a COCO keypoint annotation file with its ground-truth person boxes (or
--detections in COCO results format), rescores and OKS-NMS-filters the poses as the official top-down
evaluation does, and prints pycocotools' standard table with the keypoint set's OKS sigmas.
--compare MODEL2 evaluates a second model on the same images and boxes and reports the differences
(for example an int8 engine against the fp16 one). --json writes AP, AP50, AP75, APm, APl, AR, ...

The predictions are written as they come to DIR/predictions.jsonl (one JSON line per image; MODEL2's to
predictions-compare.jsonl) and, after OKS NMS, to DIR/predictions.json (COCO results). Images that cannot be
read are skipped with a warning and left out of the scores (--strict stops at the first instead). Ctrl-C or
SIGTERM stops after the image at hand with the predictions so far written; AP is computed only when every
image was done, and --resume continues the run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
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
#: Stem of the prediction files of MODEL and of --compare MODEL2 (.jsonl stream, .json COCO results).
PREDICTIONS = ("predictions", "predictions-compare")


def parser() -> argparse.ArgumentParser:
    from ..apps.oks import DEFAULT_OKS_NMS_THRESHOLD

    p = argparse.ArgumentParser(prog="vitpose-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="engine (.engine/.plan), ONNX or checkpoint path, Hugging Face Hub "
                   "id (org/name[@revision], e.g. usyd-community/vitpose-base-simple), or a model name")
    p.add_argument("--annotations", required=True, metavar="COCO.json", help="COCO keypoint annotation file")
    p.add_argument("--images", required=True, metavar="DIR", help="folder holding the annotation file's images")
    p.add_argument("--detections", metavar="DETS.json", help="boxes in COCO results format, matched by image_id "
                   "or file_name (default: the ground-truth boxes)")
    p.add_argument("--min-box-score", type=float, metavar="S",
                   help="--detections: skip those scoring below S (default 0, as the official evaluation)")
    p.add_argument("--compare", metavar="MODEL2", help="also evaluate MODEL2 and report MODEL2 - MODEL")
    p.add_argument("--json", metavar="OUT", help="write the metrics (AP, AP50, AP75, AR, ...) as JSON here")
    p.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N images (by id)")
    p.add_argument("--oks-nms", type=float, default=DEFAULT_OKS_NMS_THRESHOLD, metavar="THR",
                   help=f"OKS NMS threshold per image (default {DEFAULT_OKS_NMS_THRESHOLD}; 1 keeps every pose)")
    p.add_argument("--backend", default="auto", help="auto (by MODEL), onnxruntime, openvino, torch, tensorrt or "
                   "torch-cuda; applies to both models")
    add_precision_option(p)
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads of CPU backends (default: library default)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                   help=f"folder of the prediction files (default ./{DEFAULT_OUTPUT})")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first missing or unreadable image (default: skip it with a warning)")
    p.add_argument("--resume", action="store_true", help="continue a stopped evaluation from DIR/predictions.jsonl "
                   "(and predictions-compare.jsonl), skipping the images already done (same model file contents, "
                   "annotations and options)")
    add_verbose_flag(p)
    return p


def _checked_arguments(args: argparse.Namespace) -> None:
    if args.min_box_score is not None and args.detections is None:
        raise ConfigError("--min-box-score filters the boxes of --detections (ground-truth boxes have no score)")
    if args.min_box_score is not None and not math.isfinite(args.min_box_score):
        raise ConfigError(f"--min-box-score {args.min_box_score}: a finite number expected")
    args.min_box_score = 0.0 if args.min_box_score is None else args.min_box_score
    if args.resume:
        from ..apps.run_identity import check_resumable_model

        for model in filter(None, (args.model, args.compare)):
            check_resumable_model(model)
    if args.max_images is not None and args.max_images < 1:
        raise ConfigError(f"--max-images {args.max_images} must be at least 1")
    if not 0.0 < args.oks_nms <= 1.0:
        raise ConfigError(f"--oks-nms {args.oks_nms} must be in (0, 1]")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads} must be at least 1")
    if args.json is not None and Path(args.json).is_dir():
        raise ConfigError(f"--json {args.json} is a folder; give a file name")
    if args.json is not None:
        try:  # now, not after the whole evaluation
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--json {args.json}: cannot create its folder ({exc.strerror or exc})") from None
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise ConfigError(f"--output {args.output}: exists and is not a folder")
    try:
        Path(args.output).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {args.output}: cannot create this folder ({exc.strerror or exc})") from None


def _ready_estimator(model: str, args: argparse.Namespace, annotations):
    """An estimator for `model` whose keypoint set can be scored on `annotations` (checked before any run)."""
    from ..apps.coco_annotations import checked_keypoint_count
    from ..apps.evaluation import sigmas_for
    from ..apps.inference import estimator_for

    estimator = estimator_for(model, args.backend, args.threads, args.precision)
    sigmas_for(estimator.keypoints)
    checked_keypoint_count(annotations, estimator.keypoints)
    return estimator


def _run_identity(args: argparse.Namespace, model: str) -> dict:
    """What a resumed evaluation must share with the stopped one: the files (the model, annotations and
    detections by content too) and the options that change the predictions."""
    from ..apps.run_identity import identified_paths, resolved_path

    return {"command": "vitpose-eval", **identified_paths(model=model, annotations=args.annotations,
                                                          detections=args.detections),
            "images": resolved_path(args.images), "max_images": args.max_images,
            "min_box_score": args.min_box_score, "backend": args.backend, "precision": args.precision}


def _streamed_metrics(model: str, estimator, run, stem: str, args: argparse.Namespace, annotations, detections):
    """(metrics or None when stopped, SkippedInputs) of one model over the annotated images, streamed by `run`
    (a `StreamedRun`)."""
    from ..apps.evaluation import (
        boxes_for_evaluation,
        keypoint_metrics,
        nms_results,
        sigmas_for,
    )
    from ..apps.inference import run_frames
    from ..apps.streamed_runs import SkippedInputs

    output = Path(args.output)
    if args.resume:
        print(f"--resume: {run.done_count} of {len(annotations)} images of {model} already done in {run.stream.path}")
    skipped = SkippedInputs(strict=args.strict)
    sigmas = sigmas_for(estimator.keypoints)
    boxes_for = boxes_for_evaluation(annotations, detections)

    def loop(stop):
        frames = annotations.frames(run.done_names, skipped)
        return run_frames(estimator, frames, boxes_for, lambda frame, poses, record: run.write(record), stop=stop,
                          total=max(0, len(annotations) - run.done_count) or None)

    summary = run.execute(loop, output / f"{stem}.json", lambda records: nms_results(records, sigmas, args.oks_nms))
    if run.stopped_by is not None:
        return None, skipped
    print(f"{model}: {summary.describe()}")
    if skipped:
        print(f"AP over the {run.frames_done} of {len(annotations)} images evaluated; {skipped.summary()}")
    metrics = keypoint_metrics(annotations, run.results, sigmas, summary, run.records())
    print(metrics.table)
    return metrics, skipped


def _eval(args: argparse.Namespace) -> int:
    _checked_arguments(args)
    from ..apps.coco_annotations import KeypointAnnotations
    from ..apps.detections import ANY_CATEGORY, Detections
    from ..apps.evaluation import metric_differences
    from ..apps.streamed_runs import StreamedRun
    from ..atomic_files import write_text_atomically

    annotations = KeypointAnnotations(args.annotations, args.images, args.max_images)
    detections = None
    if args.detections is not None:
        # Categories are matched against the annotation file's keypoint categories per image.
        detections = Detections.from_file(args.detections, ANY_CATEGORY, args.min_box_score)
    models = [args.model] + ([args.compare] if args.compare else [])
    # Both streams first: --resume refuses another run's stream of MODEL2 before MODEL is evaluated.
    runs = [StreamedRun(Path(args.output) / f"{stem}.jsonl", _run_identity(args, model), args.resume)
            for model, stem in zip(models, PREDICTIONS)]
    estimators = [_ready_estimator(m, args, annotations) for m in models]
    metrics, skipped = [], []
    for model, estimator, run, stem in zip(models, estimators, runs, PREDICTIONS):
        result, skips = _streamed_metrics(model, estimator, run, stem, args, annotations, detections)
        skipped += skips.items
        if result is None:
            progress = (f"after {run.frames_done} of {len(annotations)} images of {model}; their predictions are in "
                        f"{Path(args.output) / (stem + '.json')} (and {run.stream.path}); AP needs every image")
            print(stopped_message("vitpose-eval", run.stopped_by, progress, args.argv), file=sys.stderr)
            return EXIT_INTERRUPTED
        metrics.append(result)
    skipped = list(dict.fromkeys(skipped))  # an image unreadable for MODEL is so for MODEL2 too: listed once
    summary = {"model": args.model, "boxes": "detections" if detections else "ground truth", **metrics[0].to_dict(),
               "skipped": [{"file_name": name, "reason": reason} for name, reason in skipped]}
    if args.compare:
        delta = metric_differences(metrics[0], metrics[1])
        print(f"AP difference ({args.compare} - {args.model}): {delta['AP']:+.4f} "
              f"(AP {metrics[0].stats['AP']:.4f} -> {metrics[1].stats['AP']:.4f})")
        summary["compare"] = {"model": args.compare, **metrics[1].to_dict(), "difference": delta}
    if args.json is not None:
        write_text_atomically(args.json, json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")
    return EXIT_SKIPPED if skipped else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_eval, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
