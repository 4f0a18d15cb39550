"""Synthetic tracking scenes: persons walking, crossing, hidden and reappearing, with the detections a detector
would give (noisy boxes, occasional misses, low scores when partly hidden, false positives).

Shared by the tracking tests and benchmarks/video/bench_trackers.py. A scene is (truth, detections): truth
is one (ids (n,), boxes (n, 4) xyxy) pair per frame; detections one (boxes (m, 4), scores (m,)) pair per frame.
"""

from __future__ import annotations

import numpy as np

WIDTH, HEIGHT = 1280, 720
#: Detected box sides are off by this fraction of the side (standard deviation).
BOX_NOISE = 0.03
#: Scores of clearly visible and of partly hidden persons (uniform ranges).
VISIBLE_SCORES = (0.65, 0.95)
HIDDEN_SCORES = (0.15, 0.45)


def _box(centre, size) -> np.ndarray:
    (cx, cy), (w, h) = centre, size
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _detected(box: np.ndarray, rng, scores=VISIBLE_SCORES) -> tuple[np.ndarray, float]:
    size = box[2:] - box[:2]
    noisy = box + rng.normal(0.0, BOX_NOISE, 4) * np.tile(size, 2)
    return noisy, float(rng.uniform(*scores))


def _scene(paths: dict[int, list], visibility: dict[int, list], frames: int, rng, false_positives: float = 0.0,
           misses: float = 0.0):
    """paths: id -> per-frame box or None (absent); visibility: id -> per-frame "full" | "partial" | "hidden"."""
    truth, detections = [], []
    for f in range(frames):
        ids, boxes, found, scores = [], [], [], []
        for person, path in paths.items():
            if path[f] is None:
                continue
            ids.append(person)
            boxes.append(path[f])
            seen = visibility[person][f]
            if seen == "hidden" or rng.random() < misses:
                continue
            box, score = _detected(path[f], rng, VISIBLE_SCORES if seen == "full" else HIDDEN_SCORES)
            found.append(box)
            scores.append(score)
        if rng.random() < false_positives:
            centre = rng.uniform([100, 100], [WIDTH - 100, HEIGHT - 100])
            box, score = _detected(_box(centre, (80, 200)), rng, (0.5, 0.7))
            found.append(box)
            scores.append(score)
        truth.append((np.array(ids, np.int64), np.array(boxes, np.float64).reshape(-1, 4)))
        detections.append((np.array(found, np.float64).reshape(-1, 4), np.array(scores, np.float64)))
    return truth, detections


def crossing(frames: int = 60, seed: int = 0):
    """Two persons walk towards each other and cross; while they overlap the one behind is hidden (not
    detected) for the middle frames and partly hidden (low scores) around them."""
    rng = np.random.default_rng(seed)
    speed = (WIDTH - 400) / frames
    paths = {1: [_box((200 + speed * f, 400), (120, 300)) for f in range(frames)],
             2: [_box((WIDTH - 200 - speed * f, 410), (110, 290)) for f in range(frames)]}
    gap = np.abs(np.array([paths[1][f][0] - paths[2][f][0] for f in range(frames)]))
    behind = ["hidden" if g < 40 else "partial" if g < 90 else "full" for g in gap]
    return _scene(paths, {1: ["full"] * frames, 2: behind}, frames, rng)


def occluded(frames: int = 60, hidden: tuple[int, int] = (20, 32), seed: int = 0):
    """One person walks behind a pillar: not detected for frames [hidden[0], hidden[1]), then reappears; a second
    person stands still nearby."""
    rng = np.random.default_rng(seed)
    paths = {1: [_box((200 + 12 * f, 380), (120, 300)) for f in range(frames)],
             2: [_box((1000, 420), (110, 280)) for _ in range(frames)]}
    seen = ["hidden" if hidden[0] <= f < hidden[1] else "full" for f in range(frames)]
    return _scene(paths, {1: seen, 2: ["full"] * frames}, frames, rng)


def crowd(frames: int = 150, persons: int = 6, seed: int = 0):
    """`persons` persons on random smooth walks, some crossing, with 5 % missed detections, partial occlusion
    (low scores) where two overlap, and a false positive in 10 % of the frames."""
    rng = np.random.default_rng(seed)
    paths = {}
    for person in range(1, persons + 1):
        start = rng.uniform([150, 200], [WIDTH - 150, HEIGHT - 200])
        velocity = rng.uniform(-6, 6, 2) * [1.0, 0.3]
        height = rng.uniform(220, 320)
        centres = [start + velocity * f + 30 * np.sin(f / 15 + person) for f in range(frames)]
        paths[person] = [_box(np.clip(c, 80, [WIDTH - 80, HEIGHT - 80]), (height * 0.4, height)) for c in centres]
    visibility = {p: ["full"] * frames for p in paths}
    for f in range(frames):
        for a in paths:
            for b in paths:
                if a < b and _overlap(paths[a][f], paths[b][f]) > 0.3:
                    back = a if paths[a][f][3] < paths[b][f][3] else b  # the one further up is further away
                    visibility[back][f] = "partial"
    return _scene(paths, visibility, frames, rng, false_positives=0.1, misses=0.05)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area."""
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return float(inter / min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2])))


SCENES = {"crossing": crossing, "occluded": occluded, "crowd": crowd}
