"""Data of the infer/eval tests: the photos, their person boxes and COCO annotation files built from them."""

from __future__ import annotations

import json

#: scikit-image photos written as a COCO-style image folder: (id, skimage name, suffix).
PHOTOS = ((1, "astronaut", ".jpg"), (2, "coffee", ".png"), (3, "chelsea", ".jpg"))
#: Person-sized boxes per image id, COCO xywh: two in the astronaut photo, one in each other photo.
BOXES = {1: [[120.0, 20.0, 250.0, 470.0], [330.0, 60.0, 170.0, 300.0]], 2: [[60.0, 40.0, 450.0, 340.0]],
         3: [[20.0, 10.0, 400.0, 280.0]]}
VIDEO_FRAMES = 5
VIDEO_SIZE = (160, 120)  # width, height
#: Frames of the generated video of walking figures (video_scenes.py).
WALKING_FRAMES = 24


def coco_file_name(image_id: int, suffix: str) -> str:
    return f"{image_id:012d}{suffix}"


def annotation_file(path, keypoints_by_box: dict[int, list[list[float]]], num_keypoints: int = 17) -> None:
    """Write a COCO keypoint annotation file for PHOTOS/BOXES; keypoints_by_box maps image id to one flat
    [x, y, v] * K list per box (all visible)."""
    from skimage import data

    images, annotations = [], []
    for image_id, name, suffix in PHOTOS:
        height, width = getattr(data, name)().shape[:2]
        images.append({"id": image_id, "file_name": coco_file_name(image_id, suffix), "width": width, "height": height})
        for box, keypoints in zip(BOXES[image_id], keypoints_by_box[image_id]):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "bbox": box,
                                "area": box[2] * box[3], "iscrowd": 0, "keypoints": keypoints,
                                "num_keypoints": num_keypoints})
    categories = [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(num_keypoints)], "skeleton": []}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))


def box_centre_keypoints(num_keypoints: int = 17) -> dict[int, list[list[float]]]:
    """Placeholder ground truth: every keypoint at its box centre, visible."""
    return {image_id: [[box[0] + box[2] / 2, box[1] + box[3] / 2, 2] * num_keypoints for box in boxes]
            for image_id, boxes in BOXES.items()}
