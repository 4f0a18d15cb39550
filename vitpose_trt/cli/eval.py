"""vitpose-eval: COCO keypoint AP/AR of a model, measured the way the ViTPose papers do.

Runs MODEL on every image of a COCO keypoint annotation file with its ground-truth person boxes (or
--detections in COCO results format), rescores and OKS-NMS-filters the poses as the official top-down
evaluation does, and prints pycocotools' standard table with the keypoint set's OKS sigmas.
--compare MODEL2 evaluates a second model on the same images and boxes and reports the differences
(for example an int8 engine against the fp16 one). --json writes AP, AP50, AP75, APm, APl, AR, ...
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from .common import add_verbose_flag, run_command


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
    p.add_argument("--min-box-score", type=float, default=0.0, metavar="S",
                   help="skip detections scoring below S (default 0, as the official evaluation)")
    p.add_argument("--compare", metavar="MODEL2", help="also evaluate MODEL2 and report MODEL2 - MODEL")
    p.add_argument("--json", metavar="OUT", help="write the metrics (AP, AP50, AP75, AR, ...) as JSON here")
    p.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N images (by id)")
    p.add_argument("--oks-nms", type=float, default=DEFAULT_OKS_NMS_THRESHOLD, metavar="THR",
                   help=f"OKS NMS threshold per image (default {DEFAULT_OKS_NMS_THRESHOLD}; 1 keeps every pose)")
    p.add_argument("--backend", default="auto", help="auto (by MODEL), onnxruntime, torch, tensorrt or torch-cuda; "
                   "applies to both models")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads of CPU backends (default: library default)")
    add_verbose_flag(p)
    return p


def _checked_arguments(args: argparse.Namespace) -> None:
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


def _ready_estimator(model: str, args: argparse.Namespace, annotations):
    """An estimator for `model` whose keypoint set can be scored on `annotations` (checked before any run)."""
    from ..apps.coco_annotations import checked_keypoint_count
    from ..apps.evaluation import sigmas_for
    from ..apps.inference import estimator_for

    estimator = estimator_for(model, args.backend, args.threads)
    sigmas_for(estimator.keypoints)
    checked_keypoint_count(annotations, estimator.keypoints)
    return estimator


def _report(model: str, metrics) -> None:
    print(f"{model}: {metrics.run.describe()}")
    print(metrics.table)


def _eval(args: argparse.Namespace) -> int:
    _checked_arguments(args)
    from ..apps.coco_annotations import KeypointAnnotations
    from ..apps.detections import ANY_CATEGORY, Detections
    from ..apps.evaluation import evaluate, metric_differences
    from ..atomic_files import write_text_atomically

    annotations = KeypointAnnotations(args.annotations, args.images, args.max_images)
    detections = None
    if args.detections is not None:
        # Categories are matched against the annotation file's keypoint categories per image.
        detections = Detections.from_file(args.detections, ANY_CATEGORY, args.min_box_score)
    models = [args.model] + ([args.compare] if args.compare else [])
    estimators = [_ready_estimator(m, args, annotations) for m in models]
    metrics = []
    for model, estimator in zip(models, estimators):
        metrics.append(evaluate(estimator, annotations, detections, args.oks_nms))
        _report(model, metrics[-1])
    summary = {"model": args.model, "boxes": "detections" if detections else "ground truth", **metrics[0].to_dict()}
    if args.compare:
        delta = metric_differences(metrics[0], metrics[1])
        print(f"AP difference ({args.compare} - {args.model}): {delta['AP']:+.4f} "
              f"(AP {metrics[0].stats['AP']:.4f} -> {metrics[1].stats['AP']:.4f})")
        summary["compare"] = {"model": args.compare, **metrics[1].to_dict(), "difference": delta}
    if args.json is not None:
        write_text_atomically(args.json, json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_eval, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
