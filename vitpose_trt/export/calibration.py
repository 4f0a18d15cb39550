"""Real preprocessed crops for calibration (int8/fp8, fp16 range analysis) and for accuracy reports.

Crops always come from `vitpose_trt.preprocess.crops_from_boxes`, the runtime's own preprocessing, so
calibration sees exactly what a deployed engine sees: (N, 3, 256, 192) float32, normalised.

Sources: a folder of images (one whole-image box per image, or the person boxes of a COCO json), or
scikit-image's bundled sample photos. The sample photos are split in two disjoint sets: calibration
photos and held-out photos (astronaut, coffee, chelsea) used only to measure accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import CalibrationError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
#: Crops used for calibration when the user gives no --calib-count.
DEFAULT_CALIB_COUNT = 64
#: COCO boxes smaller than this (width or height, pixels) are skipped: they make degenerate crops.
MIN_BOX_SIDE_PX = 8
#: scikit-image sample photos used for calibration when no folder is given (never for accuracy).
SAMPLE_CALIBRATION_IMAGES = (
    "rocket", "stereo_motorcycle", "retina", "hubble_deep_field", "immunohistochemistry", "camera",
    "moon", "coins", "brick", "grass", "gravel", "cell", "clock", "colorwheel",
)  # fmt: skip
#: scikit-image sample photos used only to measure accuracy (held out from calibration).
HELD_OUT_IMAGES = ("astronaut", "coffee", "chelsea")


def _crops_from_boxes(image: np.ndarray, boxes: np.ndarray, warp: str, color: str) -> np.ndarray:
    from ..preprocess import crops_from_boxes

    return crops_from_boxes(image, boxes.astype(np.float32), warp=warp, color=color)


def whole_and_quadrant_boxes(height: int, width: int) -> np.ndarray:
    """Five xyxy boxes in image pixels: the whole image, then its four quadrants. (5, 4) float32."""
    h2, w2 = height / 2, width / 2
    return np.array(
        [[0, 0, width, height], [0, 0, w2, h2], [w2, 0, width, h2], [0, h2, w2, height], [w2, h2, width, height]],
        dtype=np.float32,
    )


def sample_image(name: str) -> np.ndarray:
    """A scikit-image sample photo as (H, W, 3) uint8 RGB (grey photos are repeated over 3 channels)."""
    data = import_optional("skimage.data", "calibration / accuracy sample images (scikit-image)")
    image = getattr(data, name)()
    # stereo_motorcycle returns (left, right, disparity): take the left photo.
    image = np.asarray(image[0] if isinstance(image, tuple) else image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def sample_crops(names: tuple[str, ...], warp: str, count: int | None = None) -> np.ndarray:
    """Crops (N, 3, 256, 192) float32 of scikit-image photos, five boxes each (whole + quadrants), first `count`."""
    crops = []
    for name in names:
        image = sample_image(name)
        crops.append(_crops_from_boxes(image, whole_and_quadrant_boxes(*image.shape[:2]), warp, "rgb"))
    return np.concatenate(crops)[:count]


def held_out_crops(warp: str) -> np.ndarray:
    """The accuracy-report crops: `HELD_OUT_IMAGES`, five boxes each -> (15, 3, 256, 192) float32."""
    return sample_crops(HELD_OUT_IMAGES, warp)


def image_files(folder: str | Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name; `CalibrationError` if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError(f"calibration folder {folder} does not exist or is not a folder")
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration folder {folder}: {exc}") from exc
    if not files:
        raise CalibrationError(f"calibration folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def boxes_from_coco(annotations: str | Path) -> dict[str, np.ndarray]:
    """Person boxes per image file name from a COCO json: {file_name: (M, 4) float32 xyxy pixels}.

    Crowd annotations and boxes with a side under `MIN_BOX_SIDE_PX` are skipped.
    """
    try:
        data = json.loads(Path(annotations).read_text())
        names = {img["id"]: img["file_name"] for img in data["images"]}
        boxes: dict[str, list] = {}
        for ann in data["annotations"]:
            x, y, w, h = (float(v) for v in ann["bbox"])
            if ann.get("iscrowd", 0) or min(w, h) < MIN_BOX_SIDE_PX:
                continue
            boxes.setdefault(names[ann["image_id"]], []).append([x, y, x + w, y + h])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CalibrationError(f"cannot read COCO annotations {annotations}: {exc}") from exc
    if not boxes:
        raise CalibrationError(f"COCO annotations {annotations} contain no usable boxes")
    return {name: np.array(b, dtype=np.float32) for name, b in boxes.items()}


def _image_boxes(files: list[Path], coco: dict[str, np.ndarray] | None) -> Iterator[tuple[Path, np.ndarray | None]]:
    """(file, boxes) pairs; boxes None means "the whole image"."""
    for path in files:
        if coco is None:
            yield path, None
        elif path.name in coco:
            yield path, coco[path.name]


def folder_crops(folder: str | Path, count: int, warp: str, annotations: str | Path | None = None,
                 progress: bool = True) -> np.ndarray:
    """Up to `count` crops (N, 3, 256, 192) float32 from the images in `folder` (read as BGR with OpenCV).

    Each image gives one whole-image box, or its boxes from the COCO json `annotations`. Raises
    `CalibrationError` when no crop can be made (no images, none decodable, no matching annotations).
    """
    cv2 = import_optional("cv2", "reading calibration images")
    tqdm = import_optional("tqdm", "progress bars").tqdm
    if count < 1:
        raise CalibrationError(f"calibration count must be at least 1, got {count}")
    files = image_files(folder)
    coco = boxes_from_coco(annotations) if annotations is not None else None
    crops: list[np.ndarray] = []
    made = 0
    bar = tqdm(total=count, desc="calibration crops", unit="crop", disable=not progress)
    for path, boxes in _image_boxes(files, coco):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        if boxes is None:
            boxes = np.array([[0, 0, image.shape[1], image.shape[0]]], dtype=np.float32)
        batch = _crops_from_boxes(image, boxes[: count - made], warp, "bgr")
        crops.append(batch)
        made += len(batch)
        bar.update(len(batch))
        if made >= count:
            break
    bar.close()
    if not crops:
        where = f" matching {annotations}" if annotations is not None else ""
        raise CalibrationError(f"no readable images{where} in calibration folder {folder}")
    return np.concatenate(crops)
