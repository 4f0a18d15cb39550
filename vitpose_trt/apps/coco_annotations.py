"""A COCO keypoint annotation file and its image folder: the images to run, their ground-truth boxes,
and the pycocotools `COCO` object the evaluation scores against.

Ground-truth boxes are cleaned as the official top-down evaluation does (mmpose 0.x
`_load_coco_keypoint_annotation_kernel`): clipped to the image, sides shortened by one pixel, and only
annotations with at least one labelled keypoint are run.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Container, Iterator
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError, InputError
from .media import Frame, OnUnreadable, image_frames

#: Fields pycocotools' keypoint evaluation reads from every ground-truth annotation.
REQUIRED_ANNOTATION_FIELDS = ("image_id", "category_id", "keypoints", "bbox", "area", "num_keypoints", "iscrowd")
#: Values per keypoint in COCO's flat lists: x, y, visibility (ground truth) or score (results).
VALUES_PER_KEYPOINT = 3


def quietly(function, *args, **kwargs):
    """Call a pycocotools function without its progress prints on stdout; return (result, printed text)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = function(*args, **kwargs)
    return result, printed.getvalue()


class KeypointAnnotations:
    """Ground truth of a COCO keypoint file. images: (image_id, file_name) pairs in id order, the first
    `max_images` when given; num_keypoints: K of its keypoint annotations; coco: pycocotools' `COCO`."""

    def __init__(self, annotations: str | Path, images_dir: str | Path, max_images: int | None = None):
        self.path, self.images_dir = Path(annotations), Path(images_dir)
        if not self.images_dir.is_dir():
            raise InputError(f"{self.images_dir}: no such folder of images")
        data = _loaded_json(self.path)
        _check_images(data["images"], self.path)
        if not all(isinstance(a, dict) for a in data["annotations"]):
            raise InputError(f"{self.path}: every annotation must be a JSON object")
        self.category_ids = _keypoint_category_ids(data, self.path)
        keypoint_anns = [a for a in data["annotations"] if a.get("category_id") in self.category_ids]
        self.num_keypoints = _checked_annotations(keypoint_anns, self.path)
        coco_module = import_optional("pycocotools.coco", "COCO keypoint evaluation")
        self.coco = coco_module.COCO()
        self.coco.dataset = data
        quietly(self.coco.createIndex)
        ids = sorted(self.coco.getImgIds())
        if max_images is not None:
            ids = ids[:max_images]
        self.images = [(i, str(self.coco.imgs[i].get("file_name", ""))) for i in ids]

    def __len__(self) -> int:
        return len(self.images)

    def frames(self, done: Container[str] = (), on_unreadable: OnUnreadable | None = None) -> Iterator[Frame]:
        """The images in id order as BGR frames (`Frame.index`: place in `images`), leaving out file names in
        `done`; a missing or unreadable file raises `InputError`, or is told to `on_unreadable(name, reason)`
        and left out."""
        entries = [(self.images_dir / name, image_id, name) for image_id, name in self.images]
        return image_frames(entries, done, on_unreadable)

    def ground_truth_boxes(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """((N, 4) float64 xywh cleaned boxes, (N,) int64 categories) of the frame's labelled instances."""
        height, width = frame.image.shape[:2]
        rows, categories = [], []
        for ann in self.coco.imgToAnns.get(frame.image_id, []):
            if ann["category_id"] not in self.category_ids or max(ann["keypoints"]) <= 0:
                continue
            box = clean_box(ann["bbox"], width, height)
            if box is not None and ann.get("area", 1) > 0:
                rows.append(box)
                categories.append(ann["category_id"])
        return np.array(rows, np.float64).reshape(-1, 4), np.array(categories, np.int64)


def clean_box(bbox, width: int, height: int) -> list[float] | None:
    """The official clean box [x, y, w, h] of a COCO bbox inside a width x height image, or None if empty."""
    x, y, w, h = (float(v) for v in bbox)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
    if x2 <= x1 or y2 <= y1:
        return None
    return [x1, y1, x2 - x1, y2 - y1]


def _loaded_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read annotations: {exc}") from None
    lists = ("images", "annotations", "categories")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in lists):
        raise InputError(f"{path}: not a COCO annotation file (needs 'images', 'annotations' and 'categories' lists)")
    return data


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_images(images: list, path: Path) -> None:
    """`InputError` unless every image is {"id": int, "file_name": str, ...} with its own id, and there is one."""
    if not images:
        raise InputError(f"{path}: lists no images")
    seen = set()
    for image in images:
        if not isinstance(image, dict) or not _is_id(image.get("id")) or not isinstance(image.get("file_name"), str):
            raise InputError(f"{path}: every image needs an integer id and a file_name, got {image!r:.120}")
        if image["id"] in seen:
            raise InputError(f"{path}: two images have the id {image['id']}")
        seen.add(image["id"])


def _keypoint_category_ids(data: dict, path: Path) -> set[int]:
    """Categories that list keypoint names (COCO's "person"); every category when none does."""
    for category in data["categories"]:
        if not isinstance(category, dict) or not _is_id(category.get("id")):
            raise InputError(f"{path}: every category needs an integer id, got {category!r:.120}")
    with_keypoints = {c["id"] for c in data["categories"] if c.get("keypoints")}
    ids = with_keypoints or {c["id"] for c in data["categories"]}
    if not ids:
        raise InputError(f"{path}: no categories")
    return ids


def _checked_annotations(annotations: list, path: Path) -> int:
    """K of the keypoint annotations; raise `InputError` on missing or mistyped fields (what pycocotools would
    fail on, mid-evaluation) or mixed keypoint counts."""
    counts = set()
    for ann in annotations:
        missing = [f for f in ("id", *REQUIRED_ANNOTATION_FIELDS) if f not in ann]
        if missing:
            raise InputError(f"{path}: annotation {ann.get('id', '?')} lacks {', '.join(missing)}")
        where = f"{path}: annotation {ann['id']!r:.40}"
        if not (_is_id(ann["id"]) and _is_id(ann["image_id"])):
            raise InputError(f"{where}: its id and image_id must be integers")
        if not isinstance(ann["keypoints"], list) or len(ann["keypoints"]) % VALUES_PER_KEYPOINT or not all(
                _is_number(v) for v in ann["keypoints"]):
            raise InputError(f"{where}: keypoints are not [x, y, v] * K numbers")
        if not isinstance(ann["bbox"], list) or len(ann["bbox"]) != 4 or not all(_is_number(v) for v in ann["bbox"]):
            raise InputError(f"{where}: bbox is not [x, y, width, height] numbers")
        if not (_is_number(ann["area"]) and _is_number(ann["num_keypoints"])
                and isinstance(ann["iscrowd"], (int, float))):  # iscrowd: 0/1, or false/true
            raise InputError(f"{where}: area, num_keypoints and iscrowd must be numbers")
        counts.add(len(ann["keypoints"]) // VALUES_PER_KEYPOINT)
    if not counts:
        raise InputError(f"{path}: no keypoint annotations")
    if len(counts) > 1:
        raise InputError(f"{path}: annotations have different keypoint counts {sorted(counts)}")
    return counts.pop()


def checked_keypoint_count(annotations: KeypointAnnotations, keypoints) -> None:
    """Raise `ConfigError` unless the model's keypoint set matches the annotations' keypoint count."""
    if keypoints.num_keypoints != annotations.num_keypoints:
        raise ConfigError(f"the model predicts {keypoints.num_keypoints} keypoints ({keypoints.name}) but "
                          f"{annotations.path.name} annotates {annotations.num_keypoints}")
