"""Detector boxes in COCO results format, grouped per image.

A detections file is a JSON list of {"image_id": int, "bbox": [x, y, width, height], "score": float,
"category_id": int}, as detectors write for COCO evaluation. An entry may name its image by a
"file_name" field instead of (or besides) "image_id"; then it matches the file of that name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry import has_croppable_area

#: COCO's category id of "person": the default category kept from a detections file.
PERSON_CATEGORY = 1
#: `category_id=ANY_CATEGORY` keeps every detection (e.g. AP-10K's animal species for one pose model).
ANY_CATEGORY = None
#: A detection without a "score" field counts as certain.
DEFAULT_SCORE = 1.0
_BOX_COLUMNS = 4


class Detections:
    """Boxes per image: `boxes_for(image_id, file_name)` -> ((N, 5) float64 [x, y, w, h, score] image px,
    (N,) int64 category ids).

    skipped: entries dropped at load for a zero or negative width or height, or a point
    (`geometry.has_croppable_area`: nothing can be cropped).
    """

    def __init__(self, entries: list[dict], source: str = "detections"):
        self.source = source
        self._by_id: dict[int, list[tuple]] = {}
        self._by_name: dict[str, list[tuple]] = {}
        self.skipped = 0
        for index, entry in enumerate(entries):
            row = _row(entry, f"{source} entry {index}")
            if not has_croppable_area(row[2], row[3]):
                self.skipped += 1
                continue
            if "file_name" in entry:
                self._by_name.setdefault(Path(str(entry["file_name"])).name, []).append(row)
            else:
                self._by_id.setdefault(_image_id(entry, f"{source} entry {index}"), []).append(row)

    @classmethod
    def from_file(cls, path: str | Path, category_id: int | None = PERSON_CATEGORY,
                  min_score: float = 0.0) -> Detections:
        """Load a detections file, keeping entries of `category_id` (ANY_CATEGORY: all; entries without a
        category_id are always kept) with score >= `min_score`. Raise `InputError` when unreadable."""
        path = Path(path)
        try:
            entries = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read detections: {exc}") from None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InputError(f"{path}: detections must be a JSON list of objects (COCO results format)")
        kept = [e for e in entries if _wanted(e, category_id, min_score, str(path))]
        return cls(kept, source=str(path))

    def __len__(self) -> int:
        return sum(len(rows) for rows in (*self._by_id.values(), *self._by_name.values()))

    def boxes_for(self, image_id: int, file_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Boxes of the image with this id or file name: ((N, 5) float64 xywh + score, (N,) int64 categories)."""
        rows = self._by_id.get(image_id, []) + self._by_name.get(Path(file_name).name if file_name else "", [])
        boxes = np.array([r[:5] for r in rows], np.float64).reshape(-1, _BOX_COLUMNS + 1)
        categories = np.array([r[5] for r in rows], np.int64)
        return boxes, categories

    def matched_count(self, images: list[tuple[int, str]]) -> int:
        """How many boxes belong to the (image_id, file_name) pairs given."""
        return sum(len(self.boxes_for(image_id, name)[0]) for image_id, name in images)


def _wanted(entry: dict, category_id: int | None, min_score: float, source: str) -> bool:
    if category_id is not ANY_CATEGORY and entry.get("category_id", category_id) != category_id:
        return False
    return _score(entry, source) >= min_score


def _score(entry: dict, source: str) -> float:
    score = entry.get("score", DEFAULT_SCORE)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
        raise InputError(f"{source}: detection score must be a number, got {score!r}")
    return float(score)


def _image_id(entry: dict, where: str) -> int:
    image_id = entry.get("image_id")
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise InputError(f"{where}: needs an integer image_id or a file_name, got {entry!r:.120}")
    return image_id


def _row(entry: dict, where: str) -> tuple:
    """(x, y, w, h, score, category_id) of one entry, validated."""
    bbox = entry.get("bbox")
    if not isinstance(bbox, (list, tuple)) or len(bbox) != _BOX_COLUMNS:
        raise InputError(f"{where}: bbox must be [x, y, width, height], got {bbox!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in bbox):
        raise InputError(f"{where}: bbox values must be finite numbers, got {bbox!r}")
    category = entry.get("category_id", PERSON_CATEGORY)
    if isinstance(category, bool) or not isinstance(category, int):
        raise InputError(f"{where}: category_id must be an integer, got {category!r}")
    return (*(float(v) for v in bbox), _score(entry, where), category)
