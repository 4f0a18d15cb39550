"""vitpose-trt's `PersonTracker` (numpy + SciPy) against Roboflow's `trackers` ByteTrack on the synthetic scenes of
the tracking tests (tests/apps/tracking_scenes.py: crossing, occluded, crowd; several seeds each).

Both trackers get the same detections; both are scored by this project's `tracking_metrics` (CLEAR MOT, IDF1)
and, as a cross-check of those metrics, by `trackers.eval`'s own CLEAR and identity metrics on the same output.
Time: ms per frame of the trackers' update calls alone (scoring excluded), median of the sequences.

`trackers` depends on opencv-python (the GUI build), which would replace the project's opencv-python-headless,
so it runs in a separate virtual environment:
    python -m venv /tmp/trackers-venv && /tmp/trackers-venv/bin/pip install trackers==2.6.1 tqdm filelock
    PYTHONPATH=. /tmp/trackers-venv/bin/python benchmarks/video/bench_trackers.py --json benchmarks/video/trackers.json
Without `trackers` installed it scores PersonTracker alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "apps"))

SEEDS = range(5)


def ours():
    from vitpose_trt.apps.person_tracking import PersonTracker

    tracker = PersonTracker()

    def update(boxes, scores):
        persons = tracker.update(boxes, scores)
        return persons.track_ids, persons.boxes

    return update


def roboflow_bytetrack():
    """`trackers.ByteTrackTracker` with its defaults except: ids reported from the second frame of a track
    (its default; tracks are also confirmed on the second detection in ours), 30 frames/s."""
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=30.0)

    def update(boxes, scores):
        detections = sv.Detections(xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
                                   confidence=np.asarray(scores, np.float32), class_id=np.zeros(len(scores), int))
        tracked = tracker.update(detections)
        keep = tracked.tracker_id >= 0  # -1: a track not yet confirmed
        return tracked.tracker_id[keep].astype(np.int64), tracked.xyxy[keep]

    return update


def _trackers_metrics(truth, hypotheses) -> dict:
    """trackers.eval's MOTA, IDSW and IDF1 on the same output (IoU >= 0.5)."""
    from trackers.eval import compute_clear_metrics, compute_identity_metrics

    from vitpose_trt.apps.box_matching import iou_matrix

    gt_ids = [ids for ids, _ in truth]
    hyp_ids = [np.asarray(ids) for ids, _ in hypotheses]
    similarity = [iou_matrix(g, h) for (_, g), (_, h) in zip(truth, hypotheses)]
    clear = compute_clear_metrics(gt_ids, hyp_ids, similarity)
    identity = compute_identity_metrics(gt_ids, hyp_ids, similarity)
    return {"mota": clear["MOTA"], "id_switches": int(clear["IDSW"]), "idf1": identity["IDF1"]}


def scored(make_tracker, scene, seed: int, cross_check: bool) -> dict:
    from tracking_scenes import SCENES

    from vitpose_trt.apps.tracking_metrics import tracking_scores

    truth, detections = SCENES[scene](seed=seed)
    update, hypotheses, seconds = make_tracker(), [], 0.0
    for boxes, scores in detections:
        start = time.perf_counter()
        hypotheses.append(update(boxes, scores))
        seconds += time.perf_counter() - start
    scores = tracking_scores(truth, hypotheses)
    row = {"scene": scene, "seed": seed, "mota": scores.mota, "idf1": scores.idf1, "id_switches": scores.id_switches,
           "misses": scores.misses, "false_positives": scores.false_positives, "ms_per_frame": 1e3 * seconds / len(truth)}
    if cross_check:
        row["trackers_eval"] = _trackers_metrics(truth, hypotheses)
    return row


def summary(rows: list[dict]) -> dict:
    """Per tracker and scene: totals of switches, means of MOTA / IDF1, median ms per frame."""
    table = {}
    for row in rows:
        table.setdefault((row["tracker"], row["scene"]), []).append(row)
    return {f"{tracker}/{scene}": {"mota": statistics.mean(r["mota"] for r in group),
                                   "idf1": statistics.mean(r["idf1"] for r in group),
                                   "id_switches": sum(r["id_switches"] for r in group),
                                   "ms_per_frame": statistics.median(r["ms_per_frame"] for r in group)}
            for (tracker, scene), group in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the rows and the summary here")
    args = parser.parse_args()
    from importlib.metadata import PackageNotFoundError, version

    from tracking_scenes import SCENES

    try:
        trackers = version("trackers")
        candidates = {"vitpose-trt PersonTracker": ours, f"trackers {trackers} ByteTrack": roboflow_bytetrack}
    except PackageNotFoundError:
        trackers, candidates = None, {"vitpose-trt PersonTracker": ours}
    rows = []
    for scene in SCENES:
        for seed in SEEDS:
            for name, make in candidates.items():  # interleaved: the same sequence for each, one after another
                rows.append({"tracker": name, **scored(make, scene, seed, trackers is not None)})
    table = summary(rows)
    for key, value in table.items():
        print(f"{key:55s} MOTA {value['mota']:.3f}  IDF1 {value['idf1']:.3f}  id switches {value['id_switches']:3d}"
              f"  {value['ms_per_frame']:.3f} ms/frame")
    if args.json:
        document = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "seeds": list(SEEDS), "summary": table, "rows": rows}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
